"""Tests of harness.backends."""
