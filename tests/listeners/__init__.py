"""Tests of harness.listeners."""
