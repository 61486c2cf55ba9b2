"""`drill cluster up|down|status`: a local multi-node Docker Swarm (engines in containers) for drills.

Thin over ``harness.backends.swarm.cluster``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.common import err, mapped_errors

cluster_app = typer.Typer(help="A local multi-node Docker Swarm: engines in containers (for drills and CI).",
                          no_args_is_help=True)
NameOpt = Annotated[str, typer.Option("--name", help="Cluster name (several may run side by side)")]


@cluster_app.command("up")
def up(nodes: Annotated[int, typer.Option("--nodes", min=1, max=6, help="Engines: one manager, the rest workers")] = 3,
       name: NameOpt = "drill") -> None:
    """Start N engines joined into a swarm; prints the DOCKER_HOST to drive it with."""
    from harness.backends.swarm import cluster
    from harness.stack.docker_api import connect

    with mapped_errors(), err.status("cluster") as status:
        made = cluster.up(connect(), nodes, name, lambda m: status.update(m))
    err.print(f"cluster {made.name}: {len(made.nodes)} node(s) ({', '.join(made.nodes)}), registry {made.registry}, "
              f"ports {made.ports[0]}-{made.ports[1]} on 127.0.0.1, up in {made.seconds:.1f}s. "
              "The manager's API is plain TCP without TLS on 127.0.0.1: anyone on this host can use it.", markup=False)
    typer.echo(f"export DOCKER_HOST={made.docker_host}")


@cluster_app.command("down")
def down(name: NameOpt = "drill") -> None:
    """Remove the cluster: engines (and every task on them), the registry, the network, the volumes."""
    from harness.backends.swarm import cluster
    from harness.stack.docker_api import connect

    with mapped_errors():
        removed = cluster.down(connect(), name)
    typer.echo(f"cluster {name}: removed {removed} resource(s)")


@cluster_app.command("status")
def status(name: NameOpt = "drill") -> None:
    """Whether the cluster runs, and its DOCKER_HOST."""
    from harness.backends.swarm import cluster
    from harness.stack.docker_api import connect

    with mapped_errors():
        found = cluster.find(connect(), name)
    if found is None:
        typer.echo(f"cluster {name}: not running")
        raise typer.Exit(1)
    typer.echo(f"cluster {name}: {len(found.nodes)} node(s) running; export DOCKER_HOST={found.docker_host}")
