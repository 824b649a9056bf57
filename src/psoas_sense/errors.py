"""Errors the user can act on. Each renders as one line: ``FILE[:LINE]: what is wrong``."""

from __future__ import annotations

import os


class PsoasError(Exception):
    """Base of every error shown to the user as one line (exit status 2)."""


class InputError(PsoasError):
    """Bad input file: names the file and, where it applies, the 1-based line."""

    def __init__(self, path: str | os.PathLike[str], reason: str, line: int | None = None) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {reason}")


class DecodeError(PsoasError):
    """Bytes that do not decode as the protocol says (typed, so fuzzing can check for it)."""


class OutputError(PsoasError):
    """A file the program was asked to write cannot be created safely (exists, is a link, ...)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
