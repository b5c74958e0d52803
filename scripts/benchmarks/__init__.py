"""Meetdata's benchmark suite (run it with ``scripts/bench``)."""
