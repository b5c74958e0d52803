"""Property-based tests of the parsers."""
