"""Coach settings from presets and user overrides (where the files live: :mod:`psoas_sense.paths`).

Built-in protocol presets are TOML files in ``psoas_sense/coach/presets``; a user file
``coach.toml`` in the config directory overrides them::

    [manual]            # applies to --protocol manual
    side_minutes = 4
    [breathing]
    pacer_exhale_s = 7
    [presets.evening]   # --preset evening (any protocol)
    hold_s = 60

Values are applied in this order: built-in protocol file, its ``[presets.NAME]``, the user
file's ``[PROTOCOL]`` table, the user file's ``[presets.NAME]``, then command-line options.
A bad value is a :class:`ConfigError` naming the file and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from psoas_sense.coach.settings import PROTOCOLS, CoachSettings, SettingsError, settings_from_mapping
from psoas_sense.errors import PsoasError
from psoas_sense.paths import APP_NAME, CONFIG_DIR_ENV, DATA_DIR_ENV, config_dir, data_dir

__all__ = ["APP_NAME", "CONFIG_DIR_ENV", "DATA_DIR_ENV", "ConfigError", "config_dir", "data_dir", "load_settings",
           "parse_value", "preset_names"]

USER_CONFIG_NAME = "coach.toml"
MAX_CONFIG_BYTES = 64 * 1024
"""A longer ``coach.toml`` is refused (a settings file is a few hundred bytes)."""
MAX_VALUE_CHARS = 200
"""A longer ``--set`` value is refused."""


class ConfigError(PsoasError):
    """A bad configuration value; the message names the file and key."""


def _load_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply (arrays or tables inside one another)") from None


def parse_value(raw: str, where: str) -> Any:
    """One TOML value given on the command line (``--set KEY=VALUE``), bounded in size and nesting.

    Raises:
        ConfigError: too long, nested too deeply, or not a TOML value.
    """
    raw = raw.strip()
    if len(raw) > MAX_VALUE_CHARS:
        raise ConfigError(f"{where}: value too long ({len(raw)} characters; at most {MAX_VALUE_CHARS})")
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, KeyError):
        raise ConfigError(f"{where}: not a value: {raw[:40]!r}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None


def builtin_preset(protocol: str) -> dict[str, Any]:
    """The built-in preset file of a protocol, as parsed TOML."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol: must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    text = resources.files("psoas_sense.coach").joinpath("presets", f"{protocol}.toml").read_text("utf-8")
    return _load_toml(text, f"{protocol}.toml")


def _split(table: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {k: v for k, v in table.items() if k != "presets"}
    presets = table.get("presets", {})
    return values, presets if isinstance(presets, dict) else {}


def preset_names(protocol: str, config_file: Path | None = None) -> list[str]:
    """Named presets available for a protocol (built-in and from the user file)."""
    names = set(_split(builtin_preset(protocol))[1])
    user = _user_config(config_file)
    if user is not None:
        names |= set(_split(user[1])[1])
    return sorted(names)


def _user_config(config_file: Path | None) -> tuple[str, dict[str, Any]] | None:
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
    else:
        path = config_dir() / USER_CONFIG_NAME
        if not path.is_file():
            return None
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: too large for a settings file (over {MAX_CONFIG_BYTES // 1024} KiB)")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    return str(path), _load_toml(text, str(path))


def load_settings(
    protocol: str,
    *,
    preset: str | None = None,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> CoachSettings:
    """Coach settings for ``protocol`` from the presets, the user file and ``overrides``."""
    base = builtin_preset(protocol)
    values, builtin_presets = _split(base)
    layers: list[tuple[str, str, Mapping[str, Any]]] = [(f"{protocol}.toml", "", values)]
    found = False
    if preset is not None and preset in builtin_presets:
        layers.append((f"{protocol}.toml", f"presets.{preset}.", builtin_presets[preset]))
        found = True
    user = _user_config(config_file)
    if user is not None:
        where, doc = user
        for key in doc:
            if key not in (*PROTOCOLS, "presets"):
                raise ConfigError(f"{where}: {key}: unknown table; use [manual], [tool], [breathing] or [presets.NAME]")
        table = doc.get(protocol, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {protocol}: must be a table")
        layers.append((where, f"{protocol}.", table))
        user_presets = doc.get("presets", {})
        if preset is not None and isinstance(user_presets, dict) and preset in user_presets:
            p = user_presets[preset]
            if not isinstance(p, dict):
                raise ConfigError(f"{where}: presets.{preset}: must be a table")
            layers.append((where, f"presets.{preset}.", p))
            found = True
    if preset is not None and not found:
        names = preset_names(protocol, config_file)
        raise ConfigError(f"preset: no preset {preset!r} for {protocol}; choose from {', '.join(names) or '(none)'}")
    if overrides:
        layers.append(("command line", "", dict(overrides)))
    settings = CoachSettings(protocol=protocol)
    for where, prefix, table in layers:
        if "protocol" in table and table["protocol"] != protocol:
            raise ConfigError(f"{where}: {prefix}protocol: must be {protocol!r} here")
        try:
            settings = settings_from_mapping(table, where=prefix, base=settings) if table else settings
        except SettingsError as e:
            raise ConfigError(f"{where}: {e.key}: {e.reason}") from None
    return settings
