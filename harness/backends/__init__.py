"""Backends: where model versions run (docker, swarm)."""
