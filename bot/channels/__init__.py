"""Channel adapters. Each imports only `base`; none imports another or the core."""
