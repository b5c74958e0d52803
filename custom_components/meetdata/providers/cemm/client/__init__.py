"""The cemm API client (no Home Assistant imports)."""
