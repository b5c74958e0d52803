"""Tests of the wattworx provider."""
