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
    loaded, got = prepare(path, answers(tmp_path, due))
    assert got is not None and got.retrospective.actions[0].owner == "Ben"
    assert len({draw_surprise(loaded) for _ in range(5)}) == 1


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
