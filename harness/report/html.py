"""report.html: one run, self-contained (inline CSS and SVG, no scripts, no external assets)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from harness.engine.results import DrillResult, iso
from harness.report import adversity as way_back
from harness.report import charts, markdown, plot, stop, timeline_model
from harness.report.outcome import by_node_text, decided_by_label, expectation, outcome, rolled_back_css

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px auto; max-width: 1000px;
       padding: 0 16px; color: #1d2329; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 4px; }
h2 { font-size: 1.15em; margin-top: 28px; border-bottom: 1px solid #dde1e5; padding-bottom: 4px; }
.sub { color: #56606b; margin-top: 0; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 0.8em; font-weight: 600;
         vertical-align: middle; color: #fff; }
.passed, .badge.good { background: #1e7d34; } .failed, .error, .badge.bad { background: #b3261e; }
.aborted, .inconclusive, .badge.warn { background: #8a6d00; }
.yes, .good { color: #1e7d34; font-weight: 600; } .no, .bad { color: #b3261e; font-weight: 600; }
.warn { color: #8a6d00; font-weight: 600; }
.badge.good, .badge.bad, .badge.warn { color: #fff; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; }
th, td { border: 1px solid #dde1e5; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.evidence code { word-break: break-all; font-size: 0.85em; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.92em; }
.chart { overflow-x: auto; border: 1px solid #dde1e5; padding: 6px; background: #fff; }
.note { color: #6b5200; background: #fff8e1; border-left: 3px solid #b8860b; padding: 6px 10px; margin: 8px 0; }
details { margin: 8px 0; } summary { cursor: pointer; color: #36414c; }
footer { color: #7a848e; font-size: 0.85em; margin-top: 32px; }
"""


def _e(value: object) -> str:
    return escape("—" if value is None or value == "" else str(value))


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} s"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _yes_no(value: bool | None) -> str:
    if value is None:
        return '<span>—</span>'
    return '<span class="yes">yes</span>' if value else '<span class="no">no</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "", numeric: Sequence[int] = ()) -> str:
    """Cells are HTML already (escape before); headers are escaped here."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(rows: Iterable[tuple[str, str]], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    body = "".join(f"<tr><th scope=\"row\">{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table{attr}><tbody>{body}</tbody></table>"


def render(result: DrillResult) -> str:
    r, ts = result, result.timestamps
    status = r.status.value
    parts: list[str] = []
    verdict = outcome(r)
    expected = {"rollback": "a rollback", "promote": "a promotion", "fail": "a failure"}.get(expectation(r), expectation(r))
    parts.append(f"<h1>Rollback drill <code>{_e(r.drill)}</code> "
                 f'<span class="badge {verdict.css} outcome-badge">{escape(verdict.label.upper())}</span></h1>')
    parts.append(f'<p class="sub">status <b>{escape(status)}</b>; the drill expected {escape(expected)} · '
                 f'run <code>{_e(r.run_id)}</code> · profile <code>{_e(r.profile)}</code> · '
                 f"started {_e(iso(ts.started_at))}</p>")

    parts.append("<h2>Outcome</h2>")
    rb_css = rolled_back_css(r)
    parts.append(_kv([
        ("outcome", f'<span class="{verdict.css}">{escape(verdict.label)}</span> — {_e(r.reason)}'),
        ("status", f'<span class="badge {escape(status)}">{escape(status)}</span>'),
        ("expected", escape(expected)),
        ("model", f"<code>{_e(r.model)}</code>"),
        ("versions", f"stable <code>{_e(r.stable_version)}</code>, candidate <code>{_e(r.candidate_version)}</code>"),
        ("decision", f"{_e(r.decision)} ({_e(r.trigger)}) — decided by "
                     f"{_e(decided_by_label(r.decided_by, r.decider, r.trigger))}" + (
                         "" if r.alert_to_decision_s is None else f", {r.alert_to_decision_s:.1f} s after the alert")),
        ("root cause class", _e(r.root_cause)),
        ("rolled back", f'<span class="{rb_css}">{"yes" if r.rolled_back else "no"}</span>' if rb_css
         else ("yes" if r.rolled_back else "no")),
        ("serving after", f"<code>{_e(r.serving_version_after)}</code>"),
        ("images", _e(r.images_source)),
        *([("replicas by node", _e(by_node_text(r.replicas_by_node)))] if r.replicas_by_node else []),
        *([("replicas by node before the node loss", _e(by_node_text(r.replicas_by_node_before)))]
          if r.replicas_by_node_before else []),
    ], "outcome"))

    if r.stopped_by is not None:
        parts.append("<h2>Stopped by a stop condition</h2>")
        parts.append(_kv([(label, _e(value)) for label, value in stop.summary(r)], "outcome"))
        parts.append(_table(stop.HEADERS, [[f"<code>{_e(a)}</code>", _e(b), _e(c), _e(d)] for a, b, c, d in stop.commands(r)]))
    parts.append("<h2>Timeline</h2>")
    window = timeline_model.zoom_window(r)
    parts.append(f'<div class="chart">{plot.timeline_svg(r, window=window)}</div>')
    if window.zoomed:
        parts.append(f'<div class="chart overview-chart">{plot.overview_svg(r)}</div>')
    parts.append(way_back.section(r, window))  # adversity on the way back, decision -> completion by step

    parts.append("<h2>Timing against the target</h2>")
    bar = charts.target_bar_svg(r)
    if bar is not None:
        parts.append(f'<div class="chart">{bar}</div>')
    else:
        parts.append("<p>Nothing was rolled back, so there is no decision-to-completion time to hold against the "
                     f"{escape(timeline_model.fmt_target(r.target_s))} target.</p>")
    target = f"{r.target_s:,.0f} s ({r.target_s / 60:g} min)"
    margin = None if r.decision_to_completion_s is None else r.target_s - r.decision_to_completion_s
    parts.append(_table(["measure", "value"], [
        ["detect (deployed → decision)", _secs(r.detect_s)],
        ["decision → verified completion", _secs(r.decision_to_completion_s)],
        ["target (decision → completion)", escape(target)],
        ["within target", _yes_no(r.within_target)],
        ["margin to target", "—" if margin is None else escape(f"{margin:,.2f} s")],
        ["deploy → recovery", _secs(r.deploy_to_recovery_s)],
        ["whole run (wall)", _secs(r.wall_s)],
    ], "timings"))
    moments = [("started", ts.started_at), ("deployed", ts.deployed_at), ("first breach", ts.first_breach_at),
               ("decision", ts.decision_at), ("rollback start", ts.rollback_started_at),
               ("completed", ts.completed_at), ("ended", ts.ended_at)]
    parts.append(_table(["moment", "time (UTC)", "since start"], [
        [escape(name), _e(iso(at)), _secs(None if at is None else (at - ts.started_at).total_seconds())]
        for name, at in moments], "moments", numeric=(2,)))

    parts.append("<h2>Evidence behind the decision</h2>")
    if r.evidence:
        parts.append(_table(
            ["metric", "verdict", "canary", "baseline", "limit", "samples (min)", "effect", "worse by at most",
             "at (since start)", "query"],
            [[_e(e.metric), _e(e.verdict), _e(_round(e.canary_value)), _e(_round(e.baseline_value)),
              _e(e.threshold), f"{_e(_round(e.samples))} ({e.min_samples})", _e(_round(e.effect_size)),
              _e(markdown.pass_bound(e)),
              _secs(None if e.at is None else (e.at - ts.started_at).total_seconds()),
              f"<code>{_e(e.query)}</code>"] for e in r.evidence], "evidence"))
    else:
        parts.append("<p>No analysis evidence was recorded.</p>")
    if r.evidence_trace:
        parts.append(f"<details><summary>Every look of the judge ({len(r.evidence_trace)})</summary>")
        parts.append(_table(
            ["since deploy", "check", "statistic", "threshold", "effect", "interval"],
            [[_secs(p.t_s), _e(p.check), _e(f"{p.statistic:.4g}"), _e(f"{p.threshold:g}"),
              _e(None if p.effect is None else f"{p.effect:.4g}"),
              "—" if p.lower is None else escape(f"≥ {p.lower:.4g}" if p.upper is None else f"[{p.lower:.4g}, {p.upper:.4g}]")]
             for p in r.evidence_trace], "evidence-trace", numeric=(0, 2, 3, 4)))
        parts.append("</details>")

    if r.stages:
        parts.append("<h2>Stages</h2>")
        parts.append(f"<p>{_e(markdown.caught_text(r))}</p>")
        parts.append(_table(
            ["stage", "budget", "started (UTC)", "decided (UTC)", "decision", "client answers by the candidate", "evidence"],
            [[_e(st.label), _secs(st.max_wait_s), _e(iso(st.started_at)), _e(iso(st.decided_at)), _e(st.decision),
              str(st.candidate_answers_served), _e(st.summary or None)] for st in r.stages], "stages", numeric=(1, 5)))

    parts.append("<h2>Runbook steps</h2>")
    if r.steps:
        parts.append(_table(
            ["#", "step", "action", "status", "duration", "attempts", "kind", "detail"],
            [[str(i), _e(s.name), f"<code>{_e(s.action)}</code>",
              f'<span class="{"yes" if s.status.value == "ok" else "no" if s.status.value == "failed" else ""}">'
              f"{_e(s.status.value)}</span>",
              _secs(s.duration_s), str(s.attempts),
              escape(", ".join(k for k, on in (("verify", s.verify), ("manual", s.manual)) if on) or "action"),
              _e(s.error or s.detail)] for i, s in enumerate(r.steps, 1)], "steps", numeric=(0, 4, 5)))
    else:
        parts.append("<p>No runbook step ran.</p>")

    parts.append("<h2>Traffic (client-side truth)</h2>")
    if r.traffic:
        t = r.traffic
        parts.append(_kv([
            ("requests", escape(f"{t.requests:,}")),
            ("failed", escape(f"{t.failed:,}")),
            ("failed during rollback (router, transport, stable)", escape(f"{t.failed_during_rollback:,}")),
            ("bad responses served by the candidate", escape(f"{t.bad_responses_served:,}") + (
                " (" + escape(", ".join(f"{k} {v:,}" for k, v in t.bad_responses_by_kind.items())) + ")"
                if t.bad_responses_by_kind else "")),
            ("… of them after the rollback started", escape(f"{t.bad_responses_during_rollback:,}")),
            ("error rate at baseline", _pct(t.baseline_error_rate)),
            ("error rate after", _pct(t.after_error_rate)),
        ], "traffic"))
        parts.append(_table(["version", "requests"],
                            [[_e(timeline_model.version_label(r, v)), escape(f"{n:,}")] for v, n in sorted(t.by_version.items())],
                            "by-version", numeric=(1,)))
    else:
        parts.append("<p>No traffic was recorded.</p>")
    if r.timeline:
        versions = list(timeline_model.version_colors(r))
        parts.append("<details><summary>Per-second traffic data</summary>")
        parts.append(_table(
            ["t (s)", "canary weight"] + [f"{timeline_model.version_label(r, v)} req / failed / wrong / p90" for v in versions],
            [[escape(f"{p.t:g}"), escape(f"{p.canary_weight}%")]
             + [escape(f"{p.requests.get(v, 0)} / {p.failed.get(v, 0)} / {p.incorrect.get(v, 0)} / "
                       + (f"{p.latency_p90_ms[v]:g} ms" if v in p.latency_p90_ms else "—")) for v in versions]
             for p in r.timeline],
            "timeline-data", numeric=tuple(range(len(versions) + 2))))
        parts.append("</details>")

    parts.append("<h2>Phases</h2>")
    parts.append(_table(["phase", "started (UTC)", "duration", "status"],
                        [[_e(p.name), _e(iso(p.started_at)), _secs(p.duration_s), _e(p.status)] for p in r.phases],
                        "phases", numeric=(2,)))
    if r.report_dir:
        parts.append(f"<footer>Report directory: <code>{_e(r.report_dir)}</code> · "
                     "also report.json, report.md, junit.xml</footer>")

    title = f"Drill {r.drill} — {status} — {r.run_id}"
    return ("<!DOCTYPE html>\n"
            f'<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" '
            f'content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def write(result: DrillResult, directory: Path) -> Path:
    path = directory / "report.html"
    path.write_text(render(result), encoding="utf-8")
    return path
