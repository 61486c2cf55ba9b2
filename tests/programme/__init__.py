"""Tests of harness.programme."""
