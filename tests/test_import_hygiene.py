"""The layers hold: the core stays pure (no clock, no textual, no bleak, no I/O), the rings and
the front ends' independence hold (import-linter contracts in pyproject.toml), and the quick
commands start without the signal stack.

The core is one list, in pyproject.toml (the "core is pure" contract's ``source_modules``): these
tests read it from there."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "psoas_sense"
ROOT = SRC.parents[1]


def contracts() -> list[dict[str, Any]]:
    """The import-linter contracts of pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def core_modules() -> list[str]:
    """The core's modules (``psoas_sense.model``...), from the "core is pure" contract."""
    (pure,) = [c for c in contracts() if c["type"] == "forbidden" and "psoas_sense.model" in c["source_modules"]]
    return list(pure["source_modules"])


CORE = [m.removeprefix("psoas_sense.") for m in core_modules()]
FORBIDDEN_MODULES = {"textual", "bleak", "bleak_retry_connector", "asyncio", "socket", "sqlite3"}
FORBIDDEN_CALLS = {("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
                   ("datetime", "now"), ("datetime", "utcnow"), ("time", "time_ns"), ("time", "monotonic_ns")}


def core_files() -> list[Path]:
    out: list[Path] = []
    for name in CORE:
        p = SRC / name.replace(".", "/")
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p.with_suffix(".py")])
    return out


def test_the_core_is_one_list() -> None:
    """The layers contract's innermost ring is the "core is pure" contract's list, every module
    of it exists, and the contracts place every top-level module in a ring."""
    (layers,) = [c for c in contracts() if c["type"] == "layers"]
    assert layers["exhaustive"] is True
    innermost = {m.strip() for m in layers["layers"][-1].split(":")}
    assert innermost == set(CORE)
    for path in core_files():
        assert path.is_file(), path


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
    names = sorted(".".join(("psoas_sense", *p.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
                   for p in core_files())
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'bleak', 'sqlite3', 'platformdirs'))\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_the_layer_contracts_hold() -> None:
    """import-linter's contracts (pyproject.toml): the rings (core < edge < session < report < front
    ends), the core's purity, the front ends' independence, no cycles. CI also runs ``lint-imports``."""
    pytest.importorskip("importlinter")
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize("argv", [["--help"], ["history"], ["safety", "--json"]])
def test_quick_commands_do_not_load_scipy(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from psoas_sense.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'textual'})))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == ""
