"""Tests of harness.adversity."""
