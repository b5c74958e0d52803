"""Tests of the Meetdata integration."""
