"""The gateway's SQL, one module per idea: rows, transcript, claims, states, replies, handoffs."""
