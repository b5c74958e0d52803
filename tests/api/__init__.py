"""Tests of the Home-Assistant-free provider clients."""
