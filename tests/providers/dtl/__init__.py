"""Tests of the dtl provider."""
