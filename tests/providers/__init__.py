"""Tests per provider: client, integration, fixtures."""
