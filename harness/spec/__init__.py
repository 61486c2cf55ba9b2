"""The spec wing: what a drill and a runbook say, checked at the edge.

The models and their blocks (``models``, ``types``, ``faults``, ``strategy``, ``traffic``), YAML loading with
file:line errors (``loading``), ``--var`` substitution (``variables``) and finding and loading drills from the
catalogue and a project's folders (``catalogue``). Import the module you need; this package imports nothing.
"""
