"""Hostile settings: every one is a single line and exit status 2, never an internal error,
never unbounded memory; every time setting has an upper limit."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest

from conftest import RECORDINGS
from psoas_sense.cli import main
from psoas_sense.coach.settings import UPPER_LIMITS, CoachSettings

BELT = str(RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz")
DEEP = "[" * 5000 + "]" * 5000

SET_VALUES = [
    "switch_s=1e12", "hold_s=1e400", "hold_s=-inf", "hold_s=nan", f"poor_events={10**500}", "good_events=10000000",
    f"hold_s={DEEP}", "hold_s=" + "[" * 90 + "]" * 90, "first_side=" + "x" * 100_000, "breathing_minutes=1e9",
    "signal_silence_s=1e9", "prep_max_s=1e6", "locate_place_s=86400", "fast_cooldown_s=1e300", "active_max_s=1e5",
    "hold_s={a={b={c=1}}}", "x" * 10_000 + "=1", "=1", "hold_s",
]
TOML_FILES = [
    "[manual]\nhold_s = " + DEEP,
    "[manual]\nhold_s = " + "{a=" * 3000 + "1" + "}" * 3000,
    "[manual]\nhold_s = [" + ",".join(["[1,2,3]"] * 5000) + "]",
    "# " + "x" * (1 << 20) + "\n",
    "[manual]\nswitch_s = 1e12",
    "[manual]\n" + "k" * 1000 + " = 1",
    "[" * 3000 + "a" + "]" * 3000,
    "[manual]\nround_max_s = 1e10\n",
]


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("psoas-sense: error: ") and "internal error" not in err
    assert len(lines[0]) < 400
    return lines[0]


@pytest.mark.parametrize("value", SET_VALUES, ids=lambda v: v[:24])
def test_a_hostile_set_value_is_one_line_and_exit_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_exit_2(["replay", BELT, "--headless", "--speed", "max", "--protocol", "manual", "--set", value], capsys)


@pytest.mark.parametrize("text", TOML_FILES, ids=range(len(TOML_FILES)))
def test_a_hostile_coach_toml_is_one_line_and_exit_2(text: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Path(os.environ["PSOAS_SENSE_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "coach.toml").write_text(text, encoding="utf-8")
    _one_line_exit_2(["replay", BELT, "--headless", "--speed", "max", "--protocol", "manual"], capsys)


def test_every_time_setting_has_an_upper_limit() -> None:
    numbers = [f.name for f in fields(CoachSettings) if f.type in ("float", "int", float, int)]
    assert set(numbers) <= set(UPPER_LIMITS)
    s = CoachSettings()
    for name in numbers:
        assert getattr(s, name) <= UPPER_LIMITS[name]  # the defaults are within them


def test_no_chmod_through_a_symbolic_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from psoas_sense.config import data_dir

    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    link = tmp_path / "data"
    link.symlink_to(target)
    monkeypatch.setenv("PSOAS_SENSE_DATA_DIR", str(link))
    data_dir(create=True)
    assert (target.stat().st_mode & 0o777) == 0o755  # the link's target is not ours to change
    own = tmp_path / "own"
    monkeypatch.setenv("PSOAS_SENSE_DATA_DIR", str(own))
    data_dir(create=True)
    assert (own.stat().st_mode & 0o777) == 0o700
