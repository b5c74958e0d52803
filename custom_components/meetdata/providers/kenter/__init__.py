"""The kenter provider package."""
