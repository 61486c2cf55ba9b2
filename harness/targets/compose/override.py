"""The override file drill lays over a team's Compose project for one run (Compose v2's ``!reset``/``!override``).

What it changes, and why:
- every service, network and volume the project defines carries the run's labels (``io.drill.harness``,
  ``io.drill.run-id``, ``io.drill.role``: the stack's own scheme), so ``drill clean <run-id>`` sweeps a
  killed run's containers, networks and volumes;
- the entrypoint service (and the services drill must reach, such as the team's Prometheus) is published on
  127.0.0.1 only, on a port the engine picks; every other published port is dropped (``!reset``), so two
  runs never fight over a host port and nothing listens beyond loopback;
- ``container_name`` is dropped (a run-scoped project names its containers itself);
- every service gets a memory and a process limit (and a CPU limit where the drill gives one);
- a service the project builds without naming its image gets a stable image name (not one per run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from harness.stack.docker_api import run_labels

_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Tagged:
    """A value written with a Compose merge tag: ``!reset`` (drop the team's) or ``!override`` (replace it)."""

    tag: str
    value: Any


class _Dumper(yaml.SafeDumper):
    pass


def _tagged(dumper: yaml.SafeDumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    return dumper.represent_scalar(data.tag, "" if data.value is None else str(data.value))


_Dumper.add_representer(Tagged, _tagged)


def project_name(run_id: str) -> str:
    """A Compose project name for the run: lower-case letters, digits, ``-`` and ``_``, starting with a letter."""
    return ("drill-" + _UNSAFE.sub("-", run_id.lower())).strip("-")[:63]


def image_name(directory_name: str, service: str) -> str:
    return f"drill-compose-{_UNSAFE.sub('-', directory_name.lower())}-{_UNSAFE.sub('-', service.lower())}:local"


def override(config: Mapping[str, Any], run_id: str, published: Mapping[str, int], memory: str, pids: int,
             cpus: float | None, directory_name: str) -> dict[str, Any]:
    """The override for ``config`` (``compose config --format json``): ``published`` maps a service to the
    container port drill publishes on 127.0.0.1."""
    services: dict[str, Any] = {}
    for name, service in (config.get("services") or {}).items():
        entry: dict[str, Any] = {"labels": run_labels(run_id, f"compose-{name}"), "mem_limit": memory,
                                 "pids_limit": pids}
        if cpus is not None:
            entry["cpus"] = cpus
        if name in published:
            entry["ports"] = Tagged("!override", [f"127.0.0.1::{published[name]}"])
        elif service.get("ports"):
            entry["ports"] = Tagged("!reset", [])
        if service.get("container_name"):
            entry["container_name"] = Tagged("!reset", None)
        if service.get("build") and not service.get("image"):
            entry["image"] = image_name(directory_name, name)
        services[name] = entry
    result: dict[str, Any] = {"services": services}
    networks = {name: {"labels": run_labels(run_id, "compose-network")}
                for name, network in (config.get("networks") or {}).items() if not (network or {}).get("external")}
    if networks:
        result["networks"] = networks
    volumes = {name: {"labels": run_labels(run_id, "compose-volume")}
               for name, volume in (config.get("volumes") or {}).items() if not (volume or {}).get("external")}
    if volumes:
        result["volumes"] = volumes
    return result


def dump(document: Mapping[str, Any]) -> str:
    header = "# Written by drill for one run (labels, 127.0.0.1 ports, limits); removed with the run.\n"
    return header + yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


__all__ = ["Tagged", "dump", "image_name", "override", "project_name"]
