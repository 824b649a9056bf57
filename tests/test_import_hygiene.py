"""The core stays pure: no clock, no textual, no bleak in model, decode, dsp, coach, simulate."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "psoas_sense"
CORE = ["model.py", "simulate.py", "errors.py", "decode", "dsp", "coach"]
FORBIDDEN_MODULES = {"textual", "bleak", "bleak_retry_connector", "asyncio", "socket", "sqlite3"}
FORBIDDEN_CALLS = {("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
                   ("datetime", "now"), ("datetime", "utcnow"), ("time", "time_ns"), ("time", "monotonic_ns")}


def core_files() -> list[Path]:
    out: list[Path] = []
    for name in CORE:
        p = SRC / name
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return [p for p in out if p.exists()]


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_imports_no_io_and_reads_no_clock(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in FORBIDDEN_MODULES | {"time"}, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in FORBIDDEN_MODULES | {"time"}, node.module
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, f"{node.value.id}.{node.attr}"


def test_importing_the_core_loads_neither_textual_nor_bleak():
    code = (
        "import sys\n"
        "import psoas_sense.model, psoas_sense.dsp.pipeline, psoas_sense.decode, psoas_sense.simulate\n"
        "import psoas_sense.coach\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'bleak'))\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""
