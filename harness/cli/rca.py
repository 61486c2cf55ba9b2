"""`drill record rca RUN_OR_ROLLBACK --url URL --cause-key KEY... --remove-cause-key KEY...`: a rollback's
post-mortem, added (or corrected) later.

RUN_OR_ROLLBACK is a drill run id (or a unique prefix), a rollback's ``#ID`` (as `drill release-notes`
lists them) or ``MODEL@FROM_VERSION`` (that version's latest rollback). A malformed cause key is bad
input (exit 2, nothing written); see `harness.store.causes` for what a key looks like.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from harness.cli.common import StoreOpt, mapped_errors
from harness.errors import SpecError, SpecIssue
from harness.store import Store, check_cause_key, event_to_json, format_timestamp
from harness.store.text import CONTROL


def record_rca(
    ref: Annotated[str, typer.Argument(metavar="RUN_OR_ROLLBACK",
                                       help="A drill run id (or prefix), #ID, or MODEL@FROM_VERSION.")],
    url: Annotated[str | None, typer.Option("--url", help="The published root-cause analysis.")] = None,
    cause_key: Annotated[list[str] | None, typer.Option(
        "--cause-key", metavar="KEY", help="A finding, e.g. schema-drift:customer_age (repeatable).")] = None,
    remove: Annotated[list[str] | None, typer.Option(
        "--remove-cause-key", metavar="KEY", help="Remove a cause key recorded by mistake (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rollback as JSON on stdout.")] = False,
    store: StoreOpt = None,
) -> None:
    """Attach a post-mortem (its link and its cause keys) to a recorded rollback, or remove a cause key."""
    keys = cause_key or []
    removed = remove or []
    with mapped_errors():
        issues = []
        for key in [*keys, *removed]:
            try:
                check_cause_key(key)
            except ValueError as exc:
                issues.append(SpecIssue("--cause-key", "cause_key", str(exc)))
        if url is not None and not url.strip():
            issues.append(SpecIssue("--url", "rca_url", "must not be empty"))
        elif url is not None and CONTROL.search(url):
            issues.append(SpecIssue("--url", "rca_url", "contains a control character"))
        if url is None and not keys and not removed:
            issues.append(SpecIssue("RUN_OR_ROLLBACK", "-", "give --url, --cause-key or --remove-cause-key"))
        if issues:
            raise SpecError(issues)  # before the store is even opened: nothing written
        with Store.open(store) as st:
            stored = st.set_findings(ref, url, keys, removed)
    r = stored.rollback
    if as_json:
        typer.echo(json.dumps({"id": stored.id, **event_to_json(r)}, indent=2))
        return
    typer.echo(f"recorded post-mortem of rollback {stored.label} decided {format_timestamp(r.decided_at)}: "
               f"rca {r.rca_url or '—'}; cause keys {', '.join(r.cause_keys) or '—'}")


def register(app: typer.Typer) -> None:
    """`rca` under `drill record`."""
    from harness.cli.store import record_app

    record_app.command("rca")(record_rca)
