"""Adversity on the way back: faults that strike the rollback path, scheduled against the run, always undone.

One module per fault family (``registry``, ``router_api``, ``capacity``, ``replica``, ``partition``,
``node_image``; on a compose target's named services ``service``, ``sidecar`` and ``firewall``, the last two
sharing ``netfault``), each registering its kinds in ``harness.adversity.base``; ``schedule.Scheduler`` is
the engine listener that strikes them at the decision, the rollback or a runbook step, ends them after their
duration, and undoes every one of them in ``stop_all`` (called in the engine's ``finally``, also on Ctrl-C).

Docker-free at import (``spec`` is imported by ``harness.spec.models``); the fault modules load on first use.
"""
