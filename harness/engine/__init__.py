"""The engine: the phase machine of one run, its state, events, results and verdict.

It names no backend and no target: it drives a target through ``harness.ports``, a rollout through
``harness.strategies`` and a runbook through ``harness.runbook``. Import from the submodules
(``harness.engine.engine``, ``harness.engine.events``, ...): this package re-exports nothing, so importing
an event type never loads the whole engine.
"""
