"""Tests of the kenter provider."""
