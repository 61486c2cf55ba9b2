"""Judges: PromQL threshold checks and client-side comparisons (``analysis``), the anytime-valid
sequential test (``sequential``)."""
