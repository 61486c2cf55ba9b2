"""The built-in target: the demo stack (stdlib model server, file registry, seeded model versions)."""
