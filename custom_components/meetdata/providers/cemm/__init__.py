"""The cemm provider package."""
