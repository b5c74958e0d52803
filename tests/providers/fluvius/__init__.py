"""Tests of the fluvius provider."""
