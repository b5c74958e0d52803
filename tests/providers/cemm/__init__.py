"""Tests of the cemm provider."""
