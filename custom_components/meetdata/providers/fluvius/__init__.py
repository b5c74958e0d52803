"""The fluvius provider package."""
