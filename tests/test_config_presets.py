"""Protocol presets in TOML, user overrides in the config directory, errors naming the key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from psoas_sense.coach import CoachSettings
from psoas_sense.config import ConfigError, config_dir, data_dir, load_settings, preset_names
from psoas_sense.errors import PsoasError


def test_builtin_presets_follow_the_guide() -> None:
    m = load_settings("manual")
    assert (m.hold_min_s, m.hold_s, m.hold_max_s) == (30.0, 45.0, 60.0)
    assert m.side_minutes == 3.0 and m.side_warning_s > 0 and m.side_cap_extra_s > 0
    t = load_settings("tool")
    assert t.protocol == "tool" and t.hold_s >= 120 and not t.cue_inhale
    b = load_settings("breathing")
    assert (b.pacer_inhale_s, b.pacer_exhale_s) == (4.0, 6.0)
    assert "box" in preset_names("breathing") and "gentle" in preset_names("manual")


def test_builtin_defaults_match_the_dataclass_where_shared() -> None:
    m = load_settings("manual")
    d = CoachSettings()
    for key in ("side_minutes", "hold_s", "hold_min_s", "hold_max_s", "breath_hold_s", "min_quality"):
        assert getattr(m, key) == getattr(d, key)


def test_named_presets() -> None:
    box = load_settings("breathing", preset="box")
    assert (box.pacer_inhale_s, box.pacer_hold_in_s, box.pacer_exhale_s, box.pacer_hold_out_s) == (4, 4, 4, 4)
    assert load_settings("manual", preset="gentle").hold_s == 30.0
    with pytest.raises(ConfigError, match="preset: no preset 'nope'"):
        load_settings("manual", preset="nope")


def test_user_overrides_from_the_config_directory() -> None:
    cdir = config_dir(create=True)
    assert os.environ["PSOAS_SENSE_CONFIG_DIR"] == str(cdir)  # never the real home in tests
    (cdir / "coach.toml").write_text(
        "[manual]\nside_minutes = 4\nhold_s = 50\n[breathing]\npacer_exhale_s = 7.5\n"
        "[presets.evening]\nhold_s = 60\nside_minutes = 2\n",
        encoding="utf-8",
    )
    m = load_settings("manual")
    assert m.side_minutes == 4.0 and m.hold_s == 50.0
    assert load_settings("breathing").pacer_exhale_s == 7.5
    ev = load_settings("manual", preset="evening")
    assert ev.hold_s == 60.0 and ev.side_minutes == 2.0
    assert load_settings("manual", overrides={"hold_s": 35}).hold_s == 35.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[manual]\nhold_s = 90\n", "manual.hold_s"),
        ("[manual]\nhold_min_s = 10\n", "manual.hold_min_s"),
        ("[manual]\nside_minutes = 'three'\n", "manual.side_minutes"),
        ("[manual]\nwobble = 1\n", "manual.wobble"),
        ("[tool]\nside_minutes = 0\n", "tool.side_minutes"),
        ("[breathing]\npacer_exhale_s = -2\n", "breathing.pacer_exhale_s"),
        ("[presets.x]\nactive_exhales = 2.5\n", "presets.x.active_exhales"),
        ("[nonsense]\na = 1\n", "nonsense"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_key(text: str, key: str, tmp_path: Path) -> None:
    f = tmp_path / "coach.toml"
    f.write_text(text, encoding="utf-8")
    protocol = key.split(".")[0] if key.split(".")[0] in ("manual", "tool", "breathing") else "manual"
    with pytest.raises(ConfigError) as ei:
        load_settings(protocol, config_file=f, preset="x" if "presets.x" in key else None)
    assert isinstance(ei.value, PsoasError)
    msg = str(ei.value)
    assert f"{f}: {key}:" in msg and "\n" not in msg


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "coach.toml"
    f.write_text("[manual\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings("manual", config_file=f)
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings("manual", config_file=tmp_path / "missing.toml")


def test_command_line_override_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^command line: hold_s: must be between 30 and 60"):
        load_settings("manual", overrides={"hold_s": 75})


def test_dirs_are_owner_only() -> None:
    for d in (data_dir(create=True), config_dir(create=True)):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        assert "userdirs" in str(d)
