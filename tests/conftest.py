"""Shared fixtures: the bundled recordings, the shared data folder, an isolated data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["conftest_ble"]  # the --ble-device option for the optional real-strap tests

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
SHARED_DATA = ROOT.parent / "shared" / "data"
BUNDLED = sorted(RECORDINGS.glob("*.jsonl.gz"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared data folder not found at {SHARED_DATA}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never write history or config into the real home directory."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("PSOAS_SENSE_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("PSOAS_SENSE_CONFIG_DIR", str(base / "config"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA
