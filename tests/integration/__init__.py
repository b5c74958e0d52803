"""Tests of the Home Assistant layer, against the provider simulators."""
