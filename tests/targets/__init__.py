"""Tests of harness.targets."""
