"""Local simulators of the provider APIs, built from their documents."""
