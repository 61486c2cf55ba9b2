"""Issue 28, finding 6: ESC, NUL and other control characters are refused in every free-text field (exit 2,
nothing written): GameDay participants and retrospective text, typed or from a file, the import format,
and the record commands."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.engine.human import HumanInput
from harness.exit_codes import ExitStatus
from harness.programme.gameday import ask_retrospective
from harness.programme.gameday_plan import load_plan
from harness.store.text import plain

RUNNER = CliRunner()
PLAN = """name: q4
participants:
  - {name: "Ana\\e[2J", role: incident-commander}
  - {name: Ben, role: operator}
  - {name: Chloe, role: scribe}
drills: [canary-fail]
"""


def gameday(tmp_path: Path, *args: str) -> tuple[int, str]:
    store = tmp_path / "store" / "drill.db"
    result = RUNNER.invoke(app, ["gameday", *args, "--store", str(store), "--report-dir", str(tmp_path / "r")])
    assert not store.exists() and not (tmp_path / "r").exists(), "bad input must write nothing"
    return result.exit_code, result.output.replace("\n", " ")


@pytest.mark.parametrize("char", ["\x1b", "\x00", "\x07", "\x9b", "\u202e", "\n"])
def test_plain_refuses_control_characters(char: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        plain(f"Ana{char}x")
    assert plain("Ana Übel — on call") == "Ana Übel — on call"


def test_an_escape_in_a_participant_name_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    code, out = gameday(tmp_path, str(path))
    assert code == ExitStatus.BAD_INPUT and "participants.0.name" in out and "U+001B" in out


def test_a_nul_in_the_retrospective_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace('"Ana\\e[2J"', "Ana"))
    answers = tmp_path / "answers.yaml"
    answers.write_text('drills:\n  - [rollback, done]\nretrospective:\n  went_well: ["fine\\0"]\n')
    code, out = gameday(tmp_path, str(path), "--answers", str(answers))
    assert code == ExitStatus.BAD_INPUT and "retrospective.went_well.0" in out and "U+0000" in out


def test_a_retrospective_line_with_an_escape_is_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace('"Ana\\e[2J"', "Ana"))
    due = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    typed = "\n".join(["ok\x1b[31m", "the alert was clear", ".", ".", "fix | Ben | " + due, "."]) + "\n"
    said: list[str] = []
    retro = ask_retrospective(HumanInput(io.StringIO(typed), prompt=said.append), load_plan(path))
    assert retro.went_well == ["the alert was clear"]
    assert sum("not taken" in line for line in said) == 1


def test_the_import_format_and_the_record_commands_refuse_them(tmp_path: Path) -> None:
    store = str(tmp_path / "drill.db")
    events = tmp_path / "e.jsonl"
    events.write_text('{"type": "deployment", "model": "fr\\u001baud", "version": "1", '
                      '"deployed_at": "2026-10-01T00:00:00Z"}\n')
    r = RUNNER.invoke(app, ["import", str(events), "--store", store])
    assert r.exit_code == ExitStatus.BAD_INPUT and f"{events}:1: model" in r.output
    r = RUNNER.invoke(app, ["record", "deploy", "--model", "fr\x00aud", "--version", "1", "--store", store])
    assert r.exit_code == ExitStatus.BAD_INPUT and "control character" in r.output
    r = RUNNER.invoke(app, ["record", "rca", "#1", "--url", "https://pm/\x1b[2J", "--store", store])
    assert r.exit_code == ExitStatus.BAD_INPUT and "control character" in r.output


def test_the_store_refuses_them_from_a_library_caller_too() -> None:
    from datetime import date

    from harness.store import ActionItem, GameDayRecord, Participant

    with pytest.raises(ValueError, match="U\\+001B"):
        Participant("Ana\x1b[2J", "scribe")
    with pytest.raises(ValueError, match="U\\+0000"):
        ActionItem("fix\x00", "Ben", date(2026, 12, 31))
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="U\\+202E"):
        GameDayRecord("g", "q4", "plan.yaml", now, now, None, (Participant("Ana", "scribe"),),
                      went_well=("fine\u202e",))
