"""drill: a rollback runbook drill harness for ML model serving stacks."""

__version__ = "0.1.0"
