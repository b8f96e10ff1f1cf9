"""The staff side of the gateway: accounts, sign-in sessions, and what the console shows."""
