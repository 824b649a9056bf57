"""The command line: output contract, import, replay, bad input.

In-process (:func:`clirun.cli` calls the console script's ``main`` with its standard streams as
strings): the exit status and both outputs are what a person sees. One test keeps a real process,
where the process is the point: the installed entry point, giving an error's exit status and one
line as the shell gets them (``python -m psoas_sense`` runs in the signal and crash tests).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clirun import cli, events
from conftest import BUNDLED, RECORDINGS
from psoas_sense.errors import InputError


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_detect_prints_exhales_in_the_contract_format(path):
    r = cli("detect", str(path))
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    assert {e["event"] for e in evs} == {"exhale", "inhale"}  # phase changes only, by contract
    phases = evs
    assert sum(e["event"] == "exhale" for e in phases) >= 5
    for e in phases:
        assert isinstance(e["t"], float | int) and isinstance(e["detected_at"], float | int)
        assert e["detected_at"] >= e["t"]
    # exhales and inhales alternate
    kinds = [e["event"] for e in phases]
    assert all(a != b for a, b in zip(kinds, kinds[1:]))


def test_detect_signal_choice_and_missing_stream():
    nk = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"
    r = cli("detect", str(nk), "--signal", "rr")
    assert r.returncode == 0
    assert {e.get("signal") for e in events(r.stdout)} == {"rr"}
    assert all(e.get("approximate") for e in events(r.stdout))
    r = cli("detect", str(RECORDINGS / "biosppy-belt-60s.jsonl.gz"), "--signal", "acc")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "has no 'acc' stream" in r.stderr


def test_import_then_detect_gives_the_same_events(tmp_path):
    t = np.arange(0, 60, 0.04)
    resp = np.sin(2 * np.pi * t / 5.0) + 0.3 * np.sin(2 * np.pi * t / 2.5)
    csv = tmp_path / "belt.csv"
    csv.write_text("t,resp\n" + "\n".join(f"{a:.2f},{b:.6f}" for a, b in zip(t, resp)) + "\n")
    out = tmp_path / "belt.jsonl"
    r = cli("import", str(csv), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    a, b = cli("detect", str(csv)), cli("detect", str(out))
    assert a.stdout == b.stdout and len(events(a.stdout)) >= 20
    # an existing output is never overwritten
    again = cli("import", str(csv), "-o", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_an_import_that_fails_part_way_leaves_nothing_behind(tmp_path):
    """The input streams into a hidden file that becomes OUT only when complete."""
    t = np.arange(0, 120, 0.04)
    csv = tmp_path / "belt.csv"
    csv.write_text("t,resp\n" + "\n".join(f"{a:.2f},{np.sin(a):.6f}" for a in t) + "\n")
    good = tmp_path / "good.jsonl"
    assert cli("import", str(csv), "-o", str(good)).returncode == 0
    lines = good.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines[:-3] + ["{not json"] + lines[-3:]) + "\n")
    out = tmp_path / "out.jsonl"
    r = cli("import", str(bad), "-o", str(out))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and f"bad.jsonl:{len(lines) - 2}" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "belt.csv", "good.jsonl"]
    # with --force the old file stays until a complete new one replaces it
    keep = good.read_bytes()
    r = cli("import", str(bad), "-o", str(good), "--force")
    assert r.returncode == 2 and good.read_bytes() == keep
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "belt.csv", "good.jsonl"]
    r = cli("import", str(csv), "-o", str(good), "--force")
    assert r.returncode == 0 and stat.S_IMODE(good.stat().st_mode) == 0o600


def test_replay_headless_is_deterministic_and_matches_detect():
    path = RECORDINGS / "phone-chest-paced-6s.jsonl.gz"
    a = cli("replay", str(path), "--headless", "--speed", "max")
    b = cli("replay", str(path), "--headless", "--speed", "max")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    # the same events as detect --notices (replay also prints the detector's notices)
    assert a.stdout == cli("detect", str(path), "--notices").stdout


def test_demo_runs_without_hardware():
    r = cli("--speed", "max", "--duration", "40")
    assert r.returncode == 0, r.stderr
    assert sum(e["event"] == "exhale" for e in events(r.stdout)) >= 5
    assert "demo" in r.stderr


def test_help_and_version():
    r = cli("--help")
    assert r.returncode == 0 and "detect" in r.stdout and "replay" in r.stdout
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("psoas-sense ")


def test_the_installed_entry_point():
    """Through a real process, the console script pip installed: a bad input's exit status 2 and
    one line on stderr as the shell gets them (no traceback, nothing on stdout)."""
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    script = Path(sys.executable).with_name("psoas-sense")
    exe = str(script) if script.exists() else shutil.which("psoas-sense") or "psoas-sense"
    r = subprocess.run([exe, "detect", "nope.csv"], capture_output=True, text=True, timeout=60, env=env)
    assert (r.returncode, r.stdout) == (2, "") and r.stderr.startswith("psoas-sense: error: nope.csv: ")
    assert r.stderr.count("\n") == 1 and "no such file" in r.stderr


def _bad_inputs(tmp: Path) -> list[tuple[str, Path, int | None, str]]:
    rng = np.random.default_rng(5)
    cases: list[tuple[str, Path, int | None, str]] = []
    cases.append(("missing file", tmp / "nope.csv", None, "no such file"))
    p = tmp / "unknown.txt"
    p.write_text("this is not a recording\nnor a table\n")
    cases.append(("unknown format", p, 1, "unknown format"))
    p = tmp / "nocols.csv"
    p.write_text("t,pressure\n0,1\n")
    cases.append(("csv without the required columns", p, 1, "needs a 'resp'"))
    p = tmp / "nonnum.csv"
    p.write_text("t,resp\n0,1\n0.1,2\n0.2,oops\n")
    cases.append(("non-numeric value", p, 4, "not a number"))
    p = tmp / "backwards.csv"
    p.write_text("t,resp\n0,1\n0.2,2\n0.1,3\n")
    cases.append(("time going backwards (csv)", p, 4, "time goes backwards"))
    p = tmp / "backwards.jsonl"
    p.write_text(
        '{"format": "psoas-sense-recording", "version": 1, "streams": {}}\n'
        '{"t": 2.0, "kind": "status", "state": "streaming"}\n'
        '{"t": 1.0, "kind": "status", "state": "lost"}\n'
    )
    cases.append(("time going backwards (recording)", p, 3, "time goes backwards"))
    p = tmp / "random.bin"
    p.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    cases.append(("random bytes", p, None, "unknown format"))
    p = tmp / "random.jsonl.gz"
    p.write_bytes(b"\x1f\x8b" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    cases.append(("random bytes behind a gzip magic", p, None, "gzip"))
    return cases


@pytest.mark.parametrize("command", ["detect", "replay", "import"])
def test_every_bad_input_gets_one_line(tmp_path, command):
    for label, path, line, reason in _bad_inputs(tmp_path):
        args = [command, str(path)]
        if command == "replay":
            args += ["--headless", "--speed", "max"]
        if command == "import":
            args += ["-o", str(tmp_path / f"out-{path.name}.jsonl")]
        r = cli(*args)
        assert r.returncode == 2, (label, r.stderr)
        assert r.stdout == "", label
        err = r.stderr
        assert err.count("\n") == 1, (label, err)
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        assert err.startswith(f"psoas-sense: error: {where}"), (label, err)
        assert reason in err, (label, err)
        assert "Traceback" not in err
        if command == "import":
            assert not (tmp_path / f"out-{path.name}.jsonl").exists(), label


def test_debug_shows_the_traceback(tmp_path):
    # --debug lets the error through (the interpreter prints its traceback) instead of one line
    with pytest.raises(InputError, match="no such file"):
        cli("--debug", "detect", str(tmp_path / "nope.csv"))


def test_usage_errors_are_one_line():
    r = cli("detect")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("psoas-sense: error:")
    r = cli("replay", "x.jsonl", "--speed", "fast")
    assert r.returncode == 2 and "speed" in r.stderr


def test_a_recording_cut_by_a_crash_reads_with_one_warning_line(tmp_path):
    import gzip

    data = gzip.open(RECORDINGS / "biosppy-belt-60s.jsonl.gz").read()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: len(data) // 2])  # mid-line, as a crash while writing leaves it
    r = cli("detect", str(cut))
    assert r.returncode == 0
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"psoas-sense: warning: {cut}:") and "incomplete" in r.stderr
    assert sum(e["event"] == "exhale" for e in events(r.stdout)) >= 3


def test_coach_settings_without_a_protocol_say_they_do_nothing(capsys):
    """`--set` with no coach would be silently ignored: say so, in one line, and still run."""
    from psoas_sense.cli import main

    rc = main(["replay", str(RECORDINGS / "h10-rr-10min.jsonl.gz"), "--headless", "--speed", "max",
               "--duration", "5", "--set", "hold_s=40"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 0 and len(err) == 1 and "--protocol" in err[0] and "note" in err[0]
