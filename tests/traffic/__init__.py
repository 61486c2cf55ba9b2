"""Tests of harness.traffic."""
