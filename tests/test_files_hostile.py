"""Hand-made hostile inputs and outputs: every one is a one-line error naming the file (and the
line where one applies), never an internal error, a hang or a memory blow-up."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from clirun import cli
from psoas_sense.errors import InputError, OutputError
from psoas_sense.model import Status
from psoas_sense.recording import bounded
from psoas_sense.recording.format import Header, RecordingWriter, read_recording
from psoas_sense.recording.importers import load_input
from psoas_sense.recording.reader import Recording
from psoas_sense.safefile import open_private

pytestmark = pytest.mark.hostile

HEADER = {"format": "psoas-sense-recording", "version": 1, "streams": {"resp": {"unit": "au", "rate_hz": 25}}}
HEADER_LINE = json.dumps(HEADER).encode() + b"\n"


def _fails(path: Path, *, line: int | None = None, match: str = "") -> InputError:
    with pytest.raises(InputError) as exc:
        load_input(path)
    err = exc.value
    assert "\n" not in str(err) and str(err).startswith(str(path))
    if line is not None:
        assert err.line == line, str(err)
    assert match in err.reason, str(err)
    return err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    _fails(fifo, match="FIFO")  # would block forever on open() without O_NONBLOCK


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_refused_before_reading() -> None:
    with pytest.raises(InputError, match="device"):
        load_input("/dev/zero")


def test_a_gzip_bomb_stops_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "bomb.jsonl.gz"
    p.write_bytes(gzip.compress(HEADER_LINE + b'{"t":0,"kind":"hr","hr_bpm":60}\n' * 40_000))
    monkeypatch.setattr(bounded, "MAX_INPUT_BYTES", 64 * 1024)
    stream = bounded.InputStream(p)
    with pytest.raises(InputError, match="larger than 65536 bytes"):
        for _ in stream.blocks():
            pass
    assert stream.total <= 64 * 1024 + bounded.READ_BLOCK_BYTES


def test_gzip_of_zeros_is_binary_not_a_recording(tmp_path: Path) -> None:
    p = tmp_path / "zeros.jsonl.gz"
    p.write_bytes(gzip.compress(b"\x00" * (1 << 20)))
    _fails(p, match="binary")


def test_blank_line_flood_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "blank.jsonl"
    p.write_bytes(HEADER_LINE + b"   \n" * 300_000)
    err = _fails(p, match="blank lines")
    assert err.line is not None and err.line > 2


def test_blank_lines_in_a_csv_count_too(tmp_path: Path) -> None:
    p = tmp_path / "blank.csv"
    p.write_bytes(b"t,resp\n0,1\n" + b"\n" * (bounded.MAX_BLANK_BYTES + 10) + b"1,2\n")
    _fails(p, match="blank lines")


def test_one_spaces_line_is_too_long(tmp_path: Path) -> None:
    p = tmp_path / "spaces.jsonl"
    p.write_bytes(HEADER_LINE + b" " * (bounded.MAX_LINE_BYTES + 5) + b"{}\n")
    _fails(p, line=2, match="line longer")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_huge_first_line_is_refused(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"long{suffix}"
    if suffix == ".jsonl":
        first = b'{"format":"psoas-sense-recording","x":"' + b"a" * (bounded.MAX_LINE_BYTES + 1) + b'"}'
    else:
        first = b"t,resp" + b",x" * (bounded.MAX_LINE_BYTES // 2)
    p.write_bytes(first + b"\n")
    _fails(p, line=1, match="line longer")


def test_deep_nesting_is_refused_before_json_recursion(tmp_path: Path) -> None:
    p = tmp_path / "deep.jsonl"
    p.write_bytes(HEADER_LINE + b'{"t":0,"kind":"marker","marker":"note","data":' + b"[" * 200_000 + b"]" * 200_000
                  + b"}\n")
    _fails(p, line=2, match="nested deeper")


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    p = tmp_path / "note.jsonl"
    note = {"t": 0, "kind": "marker", "marker": "note", "data": {"text": "[" * 100}}
    p.write_bytes(HEADER_LINE + json.dumps(note).encode() + b"\n")
    (_, item), = load_input(p)[1]
    assert item.data == {"text": "[" * 100}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (b'{"t":' + b"9" * 400 + b',"kind":"hr","hr_bpm":60}', "number too long"),
        (b'{"t":1,"kind":"hr","hr_bpm":' + b"1" * 400 + b"}", "number too long"),
        (b'{"t":1e999,"kind":"hr","hr_bpm":60}', "out of range"),
        (b'{"t":1,"kind":"hr","hr_bpm":NaN}', "only finite"),
        (b'{"t":1,"kind":"hr","hr_bpm":1e308}', "out of range"),
        (b'{"t":1,"kind":"resp","ts":[1],"v":[-1e308]}', "beyond"),
        (b'{"t":1,"kind":"resp","t0":1,"dt":1e11,"v":[1,2,3,4,5,6,7,8,9,10,11,12]}', "beyond"),
    ],
)
def test_huge_numbers_in_a_recording(tmp_path: Path, line: bytes, match: str) -> None:
    p = tmp_path / "num.jsonl"
    p.write_bytes(HEADER_LINE + line + b"\n")
    _fails(p, line=2, match=match)


def test_a_400_digit_rate_in_the_header(tmp_path: Path) -> None:
    p = tmp_path / "rate.jsonl"
    p.write_bytes(b'{"format":"psoas-sense-recording","version":1,"streams":{"resp":{"unit":"au","rate_hz":'
                  + b"7" * 400 + b"}}}\n")
    _fails(p, line=1, match="number too long")


@pytest.mark.parametrize("value", ["1e308", "-1e308", "1e13", "inf", "9" * 400])
def test_huge_values_in_a_csv(tmp_path: Path, value: str) -> None:
    p = tmp_path / "big.csv"
    p.write_text("t,resp\n0,1\n0.04,2\n0.08," + value + "\n0.12,1\n")
    _fails(p, line=4, match="resp")


def test_huge_values_deep_in_a_long_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded, "READ_BLOCK_BYTES", 4096)  # many blocks: the line count carries over
    t = np.arange(5000) * 0.04
    rows = [f"{a:.2f},{np.sin(a):.4f}" for a in t]
    rows[4321] = f"{t[4321]:.2f},1e308"
    p = tmp_path / "big.csv"
    p.write_text("t,resp\n" + "\n".join(rows) + "\n")
    _fails(p, line=4323, match="out of range")


def test_cli_says_one_line_and_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "num.jsonl"
    p.write_bytes(HEADER_LINE + b'{"t":' + b"9" * 400 + b',"kind":"hr","hr_bpm":60}\n')
    proc = cli("detect", str(p))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"psoas-sense: error: {p}:2: number too long (400 characters; at most 40)"


def test_truncated_gzip_still_reads_up_to_the_last_whole_line(tmp_path: Path) -> None:
    p = tmp_path / "cut.jsonl.gz"
    body = HEADER_LINE + b"".join(b'{"t":%d,"kind":"status","state":"streaming"}\n' % i for i in range(2000))
    data = gzip.compress(body)
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.warns(UserWarning, match="incomplete"):
        rec = Recording(p)
        items = list(rec.items())
    assert 0 < len(items) < 2000 and all(isinstance(i, Status) for i in items)


# ------------------------------------------------------------------ outputs


@pytest.fixture
def umask000():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_recordings_are_0600_even_under_umask_000(tmp_path: Path, umask000: None) -> None:
    p = tmp_path / "r.jsonl"
    with RecordingWriter(p, Header(streams={})) as w:
        w.write(Status(t_s=0.0, state="connected"))
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    with open_private(tmp_path / "x.png") as f:
        f.write(b"png")
    assert stat.S_IMODE((tmp_path / "x.png").stat().st_mode) == 0o600


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_is_never_written_through(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "victim.txt"
    if not dangling:
        target.write_text("precious")
    link = tmp_path / "out.jsonl"
    link.symlink_to(target)
    for force in (False, True):
        with pytest.raises(OutputError, match="symbolic link"):
            RecordingWriter(link, Header(streams={}), force=force)
    assert link.is_symlink()
    assert (target.read_text() == "precious") if not dangling else not target.exists()


def test_force_replaces_a_regular_file_only(tmp_path: Path) -> None:
    p = tmp_path / "old.jsonl"
    p.write_text("old")
    os.chmod(p, 0o644)
    with pytest.raises(OutputError, match="already exists"):
        open_private(p)
    with open_private(p, force=True) as f:
        f.write(b"new")
    assert p.read_bytes() == b"new" and stat.S_IMODE(p.stat().st_mode) == 0o600
    with pytest.raises(OutputError, match="not a regular file"):
        open_private(tmp_path, force=True)


def test_report_png_onto_a_symlink_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from psoas_sense.report.fold import Origin, build_record
    from psoas_sense.report.render import plot_png

    target = tmp_path / "victim.txt"
    target.write_text("precious")
    link = tmp_path / "plot.png"
    link.symlink_to(target)
    report = build_record([], None, Origin(file="x"))
    waveform = (np.arange(10.0), np.zeros(10))

    with pytest.raises(OutputError, match="symbolic link"):
        plot_png(report, waveform, link)
    assert target.read_text() == "precious"
    out = tmp_path / "plot2.png"
    plot_png(report, waveform, out)
    assert out.read_bytes()[:4] == b"\x89PNG" and stat.S_IMODE(out.stat().st_mode) == 0o600


def test_read_recording_is_unchanged_for_a_good_file(tmp_path: Path) -> None:
    p = tmp_path / "ok.jsonl.gz"
    with RecordingWriter(p, Header(streams={"hr": {"unit": "bpm", "rate_hz": None}})) as w:
        w.write(Status(t_s=0.0, state="connected"))
    header, items = read_recording(p)
    assert items == [Status(t_s=0.0, state="connected")] and "hr" in header.streams
