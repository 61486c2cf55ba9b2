"""gameday-<id>.html: one GameDay, self-contained: who did what when, each drill's decision (who made it: a
person, the answers file standing in for one, or automation; alert -> decision) and completion against its
target, the surprise, the retrospective and the action items. A day that stopped early is marked aborted."""

from __future__ import annotations

from html import escape
from pathlib import Path

from harness.report.html import CSS
from harness.report.outcome import decided_by_label
from harness.store import DrillRunRecord, GameDayRecord

ROLE_NAMES = {"incident-commander": "incident commander", "operator": "operator", "scribe": "scribe",
              "harness": "drill (bookkeeping)", "answers-file": "answers file", "automation": "automation"}


def _e(value: object) -> str:
    return escape("—" if value is None or value == "" else str(value))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} s"


def _run_row(run: DrillRunRecord, surprise: str | None) -> list[str]:
    detect = None if run.deployed_at is None or run.decision_at is None else (
        run.decision_at - run.deployed_at).total_seconds()
    good = run.as_expected is True
    verdict = f'<span class="{"good" if good else "bad"}">{"yes" if good else "no"}</span>'
    within = "—" if run.within_target is None else ('<span class="good">within</span>' if run.within_target
                                                   else '<span class="bad">missed</span>')
    name = _e(run.drill) + (" <b>(surprise)</b>" if run.drill == surprise else "")
    return [name, _e(run.run_id), _e(run.expect), _e(run.status), verdict, _e(decided_by_label(run.decided_by, run.decider, run.trigger)),
            _secs(run.alert_to_decision_s), _secs(detect),
            f"{_secs(run.decision_to_completion_s)} / {run.target_s:g} s {within}"]


def render(g: GameDayRecord, runs: list[DrillRunRecord]) -> str:
    took = (g.ended_at - g.started_at).total_seconds() / 60
    people = _table(["role", "name"], [[_e(ROLE_NAMES.get(p.role, p.role)), _e(p.name)] for p in g.participants])
    log = _table(["time (UTC)", "role", "who", "what"], [
        [_e(f"{e.at:%H:%M:%S}"), _e(ROLE_NAMES.get(e.role, e.role)), _e(e.person), _e(e.message)] for e in g.log])
    drills = _table(["drill", "run", "expected", "status", "as expected", "decided by", "alert → decision",
                     "deploy → decision", "decision → completion / target"],
                    [_run_row(r, g.surprise_drill) for r in runs]) if runs else "<p>No drill ran.</p>"
    actions = _table(["action item", "owner", "due"], [[_e(a.description), _e(a.owner), _e(a.due.isoformat())]
                                                       for a in g.actions]) if g.actions else "<p>No action items.</p>"

    def items(title: str, lines: tuple[str, ...]) -> str:
        body = "".join(f"<li>{_e(line)}</li>" for line in lines) or "<li>—</li>"
        return f"<h3>{escape(title)}</h3><ul>{body}</ul>"

    surprise = (f"<p>Surprise scenario (revealed at the debrief): <b>{_e(g.surprise_drill)}</b></p>"
                if g.surprise_drill else "")
    aborted = (f'<p class="bad"><b>ABORTED</b>: {_e(g.reason)} — the drills below are the ones that ran; '
               "the retrospective was not held.</p>" if g.aborted else "")
    mark = ' <span class="bad">(aborted)</span>' if g.aborted else ""
    scripted = sum(r.decided_by == "answers-file" for r in runs)
    rehearsal = (f'<p class="sub"><b>A rehearsal</b>: {scripted} of {len(runs)} decision(s) and their manual steps '
                 "were read from an answers file, not made by people.</p>" if scripted else "")
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>GameDay {_e(g.name)}{' (aborted)' if g.aborted else ''}</title><style>{CSS}</style></head><body>"
        f"<h1>GameDay {_e(g.name)}{mark}</h1>"
        f"<p class=\"sub\">{_e(g.gameday_id)} · {g.started_at:%Y-%m-%d %H:%M}Z, {took:.0f} min · plan {_e(g.plan_path)}</p>"
        f"{aborted}{rehearsal}"
        f"<h2>Participants</h2>{people}"
        f"<h2>Drills</h2>{drills}{surprise}"
        "<p class=\"sub\">alert → decision: from the alert to the incident commander's decision (the person's "
        "time); deploy → decision: detection and decision together.</p>"
        f"<h2>Who did what, when</h2>{log}"
        f"<h2>Retrospective</h2>{items('What went well', g.went_well)}{items('What did not', g.went_badly)}"
        f"<h2>Action items</h2>{actions}"
        "<footer>drill gameday report</footer></body></html>\n"
    )


def write(g: GameDayRecord, runs: list[DrillRunRecord], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"gameday-{g.gameday_id}.html"
    path.write_text(render(g, runs), encoding="utf-8")
    return path
