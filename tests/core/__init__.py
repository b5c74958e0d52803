"""Tests of the core: config flow, sensors, statistics, diagnostics, services."""
