"""Where psoas-sense keeps its files: the user data directory (the history) and the user config
directory (``coach.toml``), per platform, or where the environment moves them.

Apart from the settings (:mod:`psoas_sense.config`) so that the history (:mod:`psoas_sense.store`)
knows where it lives without loading the coach's settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from psoas_sense.safefile import private_dir

APP_NAME = "psoas-sense"
DATA_DIR_ENV = "PSOAS_SENSE_DATA_DIR"
CONFIG_DIR_ENV = "PSOAS_SENSE_CONFIG_DIR"


def _private_dir(path: Path) -> Path:
    private_dir(path)  # owner-only, never through a symbolic link
    return path


def data_dir(create: bool = False) -> Path:
    """The user data directory (history): ``$PSOAS_SENSE_DATA_DIR`` or the platform's."""
    env = os.environ.get(DATA_DIR_ENV)
    path = Path(env) if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return _private_dir(path) if create else path


def config_dir(create: bool = False) -> Path:
    """The user config directory: ``$PSOAS_SENSE_CONFIG_DIR`` or the platform's."""
    env = os.environ.get(CONFIG_DIR_ENV)
    path = Path(env) if env else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    return _private_dir(path) if create else path
