"""The dtl API client (no Home Assistant imports)."""
