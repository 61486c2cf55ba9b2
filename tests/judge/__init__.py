"""Tests of harness.judge."""
