"""junit.xml: one testcase per expectation of a drill run, for CI test reporters.

Suite ``drill.<drill>``; cases: as_expected (the run ended as the drill expected: rollback, promote or
fail), then the facts: detected, rolled_back (promoted for a drill whose decision was to promote),
verified, within_target, no_failed_requests_during_rollback, serving_stable_after.
A testcase fails exactly when the run was not as expected: then every fact that did not hold carries a
<failure> saying why. In a run that was as expected (a broken-path drill that failed on its sabotaged
artifact) a fact that did not hold is reported, passing, as "did not hold, as expected".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.engine.results import DrillResult, StepStatus, iso
from harness.report.escape import xml_text
from harness.report.outcome import expectation, outcome


@dataclass(frozen=True)
class Case:
    name: str
    ok: bool
    message: str  # why it failed, or what was seen when it held
    time_s: float | None = None


def _promoting(result: DrillResult) -> bool:
    return result.decision == "promote"


def cases(result: DrillResult) -> list[Case]:
    r = result
    out: list[Case] = []
    detected = r.decision is not None and r.decision != "missed" and r.timestamps.decision_at is not None
    out.append(Case("detected", detected,
                    f"decision {r.decision} ({r.trigger}) after {r.detect_s} s" if detected
                    else f"no decision was made: {r.reason}", r.detect_s))

    if _promoting(r):
        promoted = r.timestamps.completed_at is not None and not r.rolled_back
        out.append(Case("promoted", promoted,
                        f"{r.candidate_version} promoted" if promoted else f"promotion did not complete: {r.reason}",
                        r.decision_to_completion_s))
        out.append(Case("verified", promoted,
                        "steady state held after promotion" if promoted
                        else f"steady state not verified after promotion: {r.reason}"))
    else:
        out.append(Case("rolled_back", r.rolled_back,
                        f"rolled back {r.candidate_version} -> {r.stable_version}" if r.rolled_back
                        else f"not rolled back (decision {r.decision}): {r.reason}", r.decision_to_completion_s))
        verify = [s for s in r.steps if s.verify]
        bad = [s for s in verify if s.status is not StepStatus.OK]
        if not verify:
            out.append(Case("verified", False, "no verify step ran"))
        elif bad:
            out.append(Case("verified", False, "; ".join(
                f"{s.name} {s.status.value}: {s.error or s.detail}" for s in bad),
                sum(s.duration_s or 0 for s in verify)))
        else:
            out.append(Case("verified", True, "; ".join(f"{s.name}: {s.detail}" for s in verify),
                            round(sum(s.duration_s or 0 for s in verify), 3)))

    took = r.decision_to_completion_s
    if r.within_target is None:
        out.append(Case("within_target", False, f"not measured (no decision or no completion): {r.reason}"))
    else:
        out.append(Case("within_target", r.within_target,
                        f"decision to completion {took:.2f} s "
                        f"{'within' if r.within_target else 'missed'} the {r.target_s:g} s target", took))

    if r.traffic is None:
        out.append(Case("no_failed_requests_during_rollback", False, "no traffic was recorded"))
    else:
        n = r.traffic.failed_during_rollback
        out.append(Case("no_failed_requests_during_rollback", n == 0,
                        f"{n} request(s) failed during the {'promotion' if _promoting(r) else 'rollback'}"))

    expected = r.candidate_version if _promoting(r) else r.stable_version
    after = r.serving_version_after
    stable = after == expected
    rate = r.traffic.after_error_rate if r.traffic else None
    seen = f"serving {after or 'nothing'} after the run, expected {expected}" + (
        "" if rate is None else f"; error rate after {rate:.2%}")
    out.append(Case("serving_stable_after", stable, seen))
    return out


def judged_cases(result: DrillResult) -> list[Case]:
    """The as_expected case first, then the facts, failing only where the run was not as expected."""
    verdict = outcome(result)
    head = Case("as_expected", verdict.as_expected,
                f"expected {expectation(result)}: {verdict.label} ({result.status.value}: {result.reason})",
                result.wall_s)
    facts = cases(result)
    if verdict.as_expected:
        facts = [c if c.ok else Case(c.name, True, f"did not hold, as expected: {c.message}", c.time_s) for c in facts]
    return [head, *facts]


def render(result: DrillResult) -> str:
    # Messages carry step errors and command output: characters XML 1.0 cannot hold are replaced first.
    found = [Case(xml_text(c.name), c.ok, xml_text(c.message), c.time_s) for c in judged_cases(result)]
    failures = sum(not c.ok for c in found)
    suite_name = xml_text(f"drill.{result.drill}")
    suites = ET.Element("testsuites", name="drill", tests=str(len(found)), failures=str(failures), errors="0",
                        time=f"{result.wall_s or 0:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(found)), failures=str(failures),
                          errors="0", skipped="0", time=f"{result.wall_s or 0:.3f}",
                          timestamp=iso(result.timestamps.started_at) or "", id=result.run_id)
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", result.run_id), ("profile", result.profile), ("status", result.status.value),
                       ("expect", expectation(result)), ("as_expected", outcome(result).as_expected),
                       ("reason", result.reason), ("decision", result.decision), ("trigger", result.trigger),
                       ("model", result.model), ("stable_version", result.stable_version),
                       ("candidate_version", result.candidate_version), ("target_s", result.target_s),
                       ("detect_s", result.detect_s), ("decision_to_completion_s", result.decision_to_completion_s),
                       ("report_dir", result.report_dir)):
        ET.SubElement(props, "property", name=key, value="" if value is None else xml_text(value))
    for case in found:
        el = ET.SubElement(suite, "testcase", name=case.name, classname=suite_name,
                           time=f"{case.time_s or 0:.3f}")
        if case.ok:
            ET.SubElement(el, "system-out").text = case.message
        else:
            failure = ET.SubElement(el, "failure", message=case.message, type="DrillExpectationFailed")
            failure.text = xml_text(f"{case.message}\nrun {result.run_id}: {result.status.value}: {result.reason}")
    ET.SubElement(suite, "system-out").text = xml_text(
        f"{result.drill} {result.status.value}: {result.reason}\nrun {result.run_id}"
        + (f"\nreport: {result.report_dir}/report.html" if result.report_dir else ""))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write(result: DrillResult, directory: Path) -> Path:
    path = directory / "junit.xml"
    path.write_text(render(result), encoding="utf-8")
    return path
