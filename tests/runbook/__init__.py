"""Tests of harness.runbook."""
