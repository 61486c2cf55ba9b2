"""The traffic wing: the client load with ground-truth labels (client-side truth).

``profile`` (the rate over time: steady, ramp or stages), ``sender`` (one asyncio loop sending requests) and
``generator`` (the load generator the engine and the runbook read samples from).
"""
