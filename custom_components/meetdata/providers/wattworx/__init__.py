"""The wattworx provider package."""
