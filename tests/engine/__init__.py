"""Tests of harness.engine."""
