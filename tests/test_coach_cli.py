"""The coach through the command line: replay with --protocol, history and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psoas_sense.cli import main

ROOT = Path(__file__).resolve().parents[1]
BELT = ROOT / "recordings" / "biosppy-belt-60s.jsonl.gz"
PHONE = ROOT / "recordings" / "phone-chest-paced-6s.jsonl.gz"


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, list[dict], str]:
    rc = main(argv)
    cap = capsys.readouterr()
    lines = [json.loads(x) for x in cap.out.splitlines() if x.startswith("{")]
    return rc, lines, cap.err


def _commands(tmp_path: Path, text: str = "") -> str:
    f = tmp_path / "commands.txt"
    f.write_text(text, encoding="utf-8")
    return str(f)


def _replay(tmp_path: Path, *extra: str, recording: Path = BELT, commands: str = "") -> list[str]:
    return [
        "replay",
        str(recording),
        "--headless",
        "--speed",
        "max",
        "--loop",
        "--commands",
        _commands(tmp_path, commands),
        *extra,
    ]


@pytest.mark.skipif(not BELT.exists(), reason="bundled recording missing")
def test_done_when_a_whole_two_side_session_then_history_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, lines, err = _run(capsys, _replay(tmp_path, "--protocol", "manual", "--confirm-safety", "--save"))
    assert rc == 0, err
    ev = [ln["event"] for ln in lines]
    assert {"exhale", "inhale"} <= set(ev)  # the detector's events are printed too
    coach = [ln for ln in lines if ln["event"] not in ("exhale", "inhale", "status")]
    stages = [ln["stage"] for ln in coach if ln["event"] == "stage"]
    for s in ("preparation", "locate", "static", "active", "switch", "finish"):
        assert s in stages, s
    cues = {ln["kind"] for ln in coach if ln["event"] == "cue"}
    assert {
        "lift_foot",
        "lower_foot",
        "sink_deeper",
        "hold_breathe",
        "slide_foot",
        "switch_sides",
        "side_ending",
    } <= cues
    assert [ln["side"] for ln in coach if ln["event"] == "side_start"] == ["left", "right"]
    side_ends = [ln for ln in coach if ln["event"] == "side_end"]
    assert len(side_ends) == 2 and abs(side_ends[0]["duration_s"] - side_ends[1]["duration_s"]) <= 15
    kinds = {ln["kind"] for ln in coach if ln["event"] == "hold_end"}
    assert kinds == {"static", "active"}
    for h in coach:
        if h["event"] == "hold_end" and h["kind"] == "static":
            assert 30 <= h["duration_s"] <= 60
    end = coach[-1]
    assert end["event"] == "session_end" and end["ended_by"] == "done"
    sink = next(ln for ln in coach if ln["event"] == "cue" and ln["kind"] == "sink_deeper")
    assert sink["text"] == "Sink deeper as you breathe out." and isinstance(sink["t"], float)

    assert main(["history"]) == 0
    out = capsys.readouterr().out
    assert "manual" in out and "done" in out and out.count("\n") == 2
    assert main(["history", "--json"]) == 0
    (row,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert row["sides"] == 2 and row["holds"] == len([ln for ln in coach if ln["event"] == "hold_end"])
    assert row["source"]["file"] == str(BELT) and row["source"]["loop"] is True

    assert main(["report", str(row["id"])]) == 0
    text = capsys.readouterr().out
    assert "Hold 1: static, left side" in text and "right" in text
    assert main(["report", "last", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert [s["side"] for s in rep["sides"]] == ["left", "right"]
    assert main(["report", "last", "--csv"]) == 0
    assert capsys.readouterr().out.startswith("session,side,hold,hold_kind")


def test_headless_live_session_without_confirm_safety_is_breathing_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "session",
        "--device",
        "emulated:hrs",
        "--headless",
        "--speed",
        "max",
        "--duration",
        "120",
        "--commands",
        _commands(tmp_path),
        "--protocol",
        "manual",
        "--breathing-minutes",
        "1",
    ]
    rc, lines, err = _run(capsys, argv)
    assert rc == 0, err
    (changed,) = [ln for ln in lines if ln["event"] == "protocol_changed"]
    assert changed["protocol"] == "breathing" and "breathing practice only" in changed["text"]
    assert not [ln for ln in lines if ln["event"] in ("hold_start", "side_start")]
    assert [ln for ln in lines if ln["event"] == "cue" and ln["kind"] == "pace_exhale"]
    end = [ln for ln in lines if ln["event"] == "session_end"][0]
    assert end["summary"]["practised"] == "breathing"


@pytest.mark.skipif(not BELT.exists(), reason="bundled recording missing")
def test_headless_replay_is_a_simulation_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # nobody is pressing on anything during a replay: the check is not asked, and the output says so
    rc, lines, _ = _run(capsys, _replay(tmp_path, "--protocol", "manual"))
    assert rc == 0
    (safety,) = [ln for ln in lines if ln["event"] == "safety"]
    assert safety["status"] == "not_asked_replay"
    assert not [ln for ln in lines if ln["event"] == "protocol_changed"]
    assert [ln for ln in lines if ln["event"] == "hold_start"]
    # a simulated contraindication still blocks the massage protocols
    rc, lines, _ = _run(
        capsys, _replay(tmp_path, "--protocol", "manual", "--condition", "pregnancy", "--breathing-minutes", "1")
    )
    assert rc == 0
    assert [ln for ln in lines if ln["event"] == "protocol_changed"]
    assert not [ln for ln in lines if ln["event"] == "hold_start"]


@pytest.mark.skipif(not BELT.exists(), reason="bundled recording missing")
def test_scripted_pain_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = _run(capsys, _replay(tmp_path, "--protocol", "manual", "--confirm-safety", commands="@130 pain\n"))
    assert rc == 0
    (stop,) = [ln for ln in lines if ln["event"] == "pain_stop"]
    assert stop["t"] >= 130 and "healthcare professional" in stop["text"]
    assert lines[-1]["event"] == "session_end" and lines[-1]["ended_by"] == "pain"


@pytest.mark.skipif(not BELT.exists(), reason="bundled recording missing")
@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (["--hold-seconds", "90"], "hold_s"),
        (["--side-minutes", "0"], "side_minutes"),
        (["--set", "wobble=1"], "wobble"),
        (["--set", "breath_hold_s=soon"], "breath_hold_s"),
        (["--pace", "0.5:6", "--protocol", "breathing"], "pacer_inhale_s"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], key: str
) -> None:
    argv = _replay(tmp_path, *extra)
    if "--protocol" not in extra:
        argv += ["--protocol", "manual"]
    rc, _, err = _run(capsys, argv)
    assert rc == 2
    assert err.startswith("psoas-sense: error: ") and key in err and err.count("\n") == 1


@pytest.mark.skipif(not PHONE.exists(), reason="bundled recording missing")
def test_accelerometer_recording_starts_with_calibration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = _run(
        capsys,
        _replay(
            tmp_path, "--protocol", "tool", "--confirm-safety", "--no-history", recording=PHONE, commands="@60 quit\n"
        ),
    )
    assert rc == 0
    coach = [ln for ln in lines if ln["event"] in ("stage", "cue")]
    assert coach[0]["event"] == "stage" and coach[0]["stage"] == "calibration"
    assert coach[1]["kind"] == "calibrate"
    assert lines[-1]["event"] == "session_end" and lines[-1]["ended_by"] == "quit"
    assert main(["history"]) == 0
    assert "No sessions saved yet" in capsys.readouterr().out


def test_report_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "7"]) == 2
    assert "no sessions saved yet" in capsys.readouterr().err
    assert main(["report", "no-such-file.jsonl"]) == 2
    assert "no such recording" in capsys.readouterr().err


def test_safety_check_lists_every_condition(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["safety"]) == 0
    out = capsys.readouterr().out
    for key in (
        "pregnancy",
        "recent_surgery",
        "inflammation",
        "blood_clot",
        "aneurysm",
        "kidney_disease",
        "gallbladder_disease",
    ):
        assert f"--condition {key}" in out
    assert "not medical advice" in out and "--confirm-safety" in out
    assert main(["safety", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["conditions"]) == 7


@pytest.mark.skipif(not BELT.exists(), reason="bundled recording missing")
def test_a_condition_on_the_command_line_gives_breathing_and_consult(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, lines, _ = _run(
        capsys,
        _replay(tmp_path, "--protocol", "tool", "--condition", "pregnancy", "--no-history", commands="@30 quit\n"),
    )
    assert rc == 0
    (changed,) = [ln for ln in lines if ln["event"] == "protocol_changed"]
    assert changed["reason"] == "contraindicated" and "pregnancy" in changed["text"]
    assert "healthcare professional" in changed["text"]


@pytest.mark.skipif(not BELT.exists(), reason="bundled recording missing")
@pytest.mark.parametrize(
    ("extra", "pacer"),
    [
        (["--pace", "5:5"], {"inhale_s": 5.0, "hold_in_s": 0.0, "exhale_s": 5.0, "hold_out_s": 0.0}),
        (["--preset", "box"], {"inhale_s": 4.0, "hold_in_s": 4.0, "exhale_s": 4.0, "hold_out_s": 4.0}),
    ],
)
def test_breathing_presets_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], pacer: dict
) -> None:
    rc, lines, err = _run(
        capsys, _replay(tmp_path, "--protocol", "breathing", "--breathing-minutes", "1", "--no-history", *extra)
    )
    assert rc == 0, err
    (stage,) = [ln for ln in lines if ln["event"] == "stage" and ln["stage"] == "breathing"]
    assert stage["pacer"] == pacer and stage["duration_s"] == 60.0
