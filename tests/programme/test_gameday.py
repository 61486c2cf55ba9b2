"""GameDay plans and answers: bad input exits 2 naming file and field, before anything starts or is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.programme.gameday import draw_surprise, prepare

RUNNER = CliRunner()
PEOPLE = """participants:
  - {name: Ana, role: incident-commander}
  - {name: Ben, role: operator}
  - {name: Chloe, role: scribe}
"""


def plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def answers(tmp_path: Path, due: str, owner: str = "Ben") -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(f"""drills:
  - [rollback, done]
retrospective:
  went_well: [the alert named the runbook]
  went_badly: [nobody knew where the checksum lives]
  actions:
    - {{what: link the checksum page, owner: {owner}, due: {due}}}
""")
    return path


def gameday(tmp_path: Path, *args: str) -> tuple[int, str]:
    store = tmp_path / "store" / "drill.db"
    result = RUNNER.invoke(app, ["gameday", *args, "--store", str(store), "--report-dir", str(tmp_path / "reports")])
    assert not store.exists() and not (tmp_path / "reports").exists(), "bad input must write nothing"
    return result.exit_code, result.output.replace("\n", " ")


def test_an_unknown_role_names_the_plan_and_field(tmp_path: Path) -> None:
    path = plan(tmp_path, "name: q4\n" + PEOPLE.replace("role: scribe", "role: note-taker") + "drills: [canary-fail]\n")
    code, out = gameday(tmp_path, str(path))
    assert code == 2 and f"{path}:5: participants.2.role" in out and "scribe" in out


def test_a_missing_role_is_bad_input(tmp_path: Path) -> None:
    path = plan(tmp_path, "name: q4\nparticipants:\n  - {name: Ana, role: operator}\ndrills: [canary-fail]\n")
    code, out = gameday(tmp_path, str(path))
    assert code == 2 and "nobody has the role incident-commander, scribe" in out


def test_a_surprise_set_naming_a_missing_drill(tmp_path: Path) -> None:
    path = plan(tmp_path, "name: q4\n" + PEOPLE + "surprise:\n  from: [canary-fail, canary-nope]\n")
    code, out = gameday(tmp_path, str(path))
    assert code == 2 and f"{path}:7: surprise.from.1" in out and "no drill named 'canary-nope'" in out


def test_a_due_date_out_of_range_names_the_answers_file_and_field(tmp_path: Path) -> None:
    path = plan(tmp_path, "name: q4\n" + PEOPLE + "drills: [canary-fail]\n")
    for due in ("2019-01-01", "9999-12-31"):
        answers_file = answers(tmp_path, due)
        code, out = gameday(tmp_path, str(path), "--answers", str(answers_file))
        assert code == 2 and f"{answers_file}:7: retrospective.actions.0.due" in out and "out of range" in out, out
    code, out = gameday(tmp_path, str(path), "--answers", str(answers(tmp_path, "2026-02-30")))
    assert code == 2 and "retrospective.actions.0.due" in out


def test_an_owner_who_is_not_a_participant(tmp_path: Path) -> None:
    path = plan(tmp_path, "name: q4\n" + PEOPLE + "drills: [canary-fail]\n")
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    code, out = gameday(tmp_path, str(path), "--answers", str(answers(tmp_path, due, owner="Zed")))
    assert code == 2 and "retrospective.actions.0.owner" in out and "'Zed' is not a participant" in out


def test_a_valid_plan_prepares_and_the_seeded_surprise_is_reproducible(tmp_path: Path) -> None:
    path = plan(tmp_path, "name: q4\n" + PEOPLE + "surprise: {from: [canary-fail, canary-latency, safety], seed: 3}\n")
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    prepared = prepare(path, answers(tmp_path, due))
    got = prepared.answers
    assert got is not None and got.retrospective.actions[0].owner == "Ben"
    assert len({draw_surprise(prepared.plan) for _ in range(5)}) == 1


@pytest.mark.parametrize("text", ["name: q4\n" + PEOPLE, "name: q4\n" + PEOPLE + "drills: []\n"])
def test_a_plan_with_nothing_to_run(tmp_path: Path, text: str) -> None:
    code, out = gameday(tmp_path, str(plan(tmp_path, text)))
    assert code == 2 and "give drills, a surprise, or both" in out


def test_the_retrospective_typed_at_a_terminal_asks_again_for_a_bad_action_item(tmp_path: Path) -> None:
    import io

    from harness.engine.human import HumanInput
    from harness.programme.gameday import ask_retrospective
    from harness.programme.gameday_plan import load_plan

    loaded = load_plan(plan(tmp_path, "name: q4\n" + PEOPLE + "drills: [canary-fail]\n"))
    due = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    typed = "\n".join(["the alert was clear", ".", "slow page", ".",
                       "fix the page | Zed | " + due,            # not a participant: asked again
                       "fix the page | Ben | 2019-01-01",        # in the past: asked again
                       "fix the page | Ben | " + due, "."]) + "\n"
    said: list[str] = []
    retro = ask_retrospective(HumanInput(io.StringIO(typed), prompt=said.append), loaded)
    assert retro.went_well == ["the alert was clear"] and retro.went_badly == ["slow page"]
    assert [(a.what, a.owner, a.due.isoformat()) for a in retro.actions] == [("fix the page", "Ben", due)]
    assert sum("not taken" in line for line in said) == 2


# ---- the answers file against what each drill asks (issue 28, finding 1) --------------------------------------
TWO = "name: q4\n" + PEOPLE + "drills: [canary-fail, canary-latency]\n"


def answer_lists(tmp_path: Path, lists: str, owner: str = "Ben") -> Path:
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    path = tmp_path / "answers.yaml"
    path.write_text(f"drills:\n{lists}retrospective:\n  actions:\n    - {{what: fix it, owner: {owner}, due: {due}}}\n")
    return path


def test_a_typo_in_an_answer_is_refused_before_anything_starts(tmp_path: Path) -> None:
    # Before: `rollbak` was skipped as "not understood", `done` became the decision and the manual step failed.
    answers_file = answer_lists(tmp_path, "  - [rollbak, done]\n  - [rollback, done]\n")
    code, out = gameday(tmp_path, str(plan(tmp_path, TWO)), "--answers", str(answers_file))
    assert code == 2 and f"{answers_file}:2: drills.0.0: 'rollbak' is not an answer" in out, out


def test_a_list_shorter_than_its_drill_asks_is_refused(tmp_path: Path) -> None:
    answers_file = answer_lists(tmp_path, "  - [rollback]\n  - [rollback, done]\n")
    code, out = gameday(tmp_path, str(plan(tmp_path, TWO)), "--answers", str(answers_file))
    assert code == 2 and "drills.0: drill canary-fail asks the decision (rollback or hold), then manual step " \
        "page-model-owner" in out and "0 manual step answers for 1 manual step" in out, out


def test_one_list_for_two_drills_is_refused_not_turned_into_an_automated_decision(tmp_path: Path) -> None:
    # Before: the second drill read nothing, was "decided" by automation after 0 s and the day said "2 passed".
    answers_file = answer_lists(tmp_path, "  - [rollback, done, rollback, done]\n")
    code, out = gameday(tmp_path, str(plan(tmp_path, TWO)), "--answers", str(answers_file))
    assert code == 2, out
    assert "drills: 1 answer list for 2 drills (canary-fail, canary-latency): canary-latency would get no answers: " \
        "its decision would be made by automation, not a person" in out
    assert "drills.0.2: 'rollback' is a decision, but the decision is the first answer" in out


def test_a_list_without_the_decision_and_every_problem_at_once(tmp_path: Path) -> None:
    answers_file = answer_lists(tmp_path, "  - [done]\n  - [rollback, done by Zed]\n", owner="Zed")
    code, out = gameday(tmp_path, str(plan(tmp_path, TWO)), "--answers", str(answers_file))
    assert code == 2, out
    assert "drills.0: drill canary-fail asks the decision" in out and "no decision first" in out
    assert "drills.1.1: 'Zed' is not a participant" in out
    assert "retrospective.actions.0.owner: 'Zed' is not a participant" in out


def test_answers_after_hold_would_never_be_read(tmp_path: Path) -> None:
    answers_file = answer_lists(tmp_path, "  - [hold, done]\n  - [rollback, done]\n")
    code, out = gameday(tmp_path, str(plan(tmp_path, TWO)), "--answers", str(answers_file))
    assert code == 2 and "1 answer too many (after hold nothing is rolled back)" in out, out


def test_check_is_a_dry_run_that_says_what_each_drill_asks(tmp_path: Path) -> None:
    answers_file = answer_lists(tmp_path, "  - [rollback, done]\n  - [rollback, done by Ben]\n")
    code, out = gameday(tmp_path, str(plan(tmp_path, TWO)), "--answers", str(answers_file), "--check")
    assert code == 0, out
    assert "drill 2: canary-latency (runbook canary-rollback) asks the decision (rollback or hold), then manual " \
        "step page-model-owner (done or failed)" in out and "(nothing started)" in out
    bad = answer_lists(tmp_path, "  - [rollbak, done]\n")
    code, out = gameday(tmp_path, str(plan(tmp_path, TWO)), "--answers", str(bad), "--check")
    assert code == 2 and "'rollbak' is not an answer" in out and "drills: 1 answer list for 2 drills" in out


def test_the_surprise_list_must_fit_every_drill_it_may_be(tmp_path: Path) -> None:
    text = "name: q4\n" + PEOPLE + "surprise: {from: [canary-fail, blue-green-fail]}\n"
    answers_file = answer_lists(tmp_path, "  - [rollback, done]\n")
    code, out = gameday(tmp_path, str(plan(tmp_path, text)), "--answers", str(answers_file), "--check")
    assert code == 2 and "the surprise (here blue-green-fail, one of canary-fail, blue-green-fail)" in out, out


def test_drill_validate_recognises_a_plan_and_points_an_answers_file_to_check(tmp_path: Path) -> None:
    path = plan(tmp_path, TWO)
    result = RUNNER.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0 and "ok  plan" in result.output and "q4" in result.output, result.output
    bad = plan(tmp_path, TWO.replace("canary-latency", "canary-nope"))
    result = RUNNER.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2 and "drills.1" in result.output and "canary-nope" in result.output
    answers_file = answer_lists(tmp_path, "  - [rollback, done]\n")
    result = RUNNER.invoke(app, ["validate", str(answers_file)])
    assert result.exit_code == 2 and "drill gameday PLAN.yaml --answers" in result.output and "--check" in result.output
