"""The dtl provider package."""
