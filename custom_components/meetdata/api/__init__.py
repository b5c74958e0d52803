"""Home-Assistant-free clients of the provider APIs, with shared models and errors."""
