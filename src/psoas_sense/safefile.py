"""Creating output files safely: owner-only, never through a symbolic link, never over a file.

Every file the program writes (recordings, imports, report plots and exports, history side
files) is created here. The file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``: a symbolic
link at the path (even a dangling one) is refused, an existing file is never overwritten unless
the caller passes ``force=True`` (the command offers ``--force``), and the mode is set to 0600
whatever the umask, because this is health data.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Literal, overload

from psoas_sense.errors import OutputError

PRIVATE_MODE = 0o600
"""The mode of every file the program creates (owner read and write only)."""
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def refuse_link(path: Path) -> os.stat_result | None:
    """The ``lstat`` of ``path`` (None when nothing is there); a symbolic link is refused.

    Raises:
        OutputError: ``path`` is a symbolic link (dangling or not).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(path, f"cannot inspect: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(path, "is a symbolic link; refusing to write through it")
    return st


def check_new(path: Path, *, force: bool = False) -> os.stat_result | None:
    """Whether a file may be created at ``path`` (its ``lstat`` when ``force`` will replace one):
    a command checks its output paths with this before any work, so a refusal costs nothing.

    Raises:
        OutputError: the path is a link, exists (without ``force``) or is not a regular file.
    """
    st = refuse_link(path)
    if st is not None:
        if not force:
            raise OutputError(path, "already exists; not overwritten (use --force to replace it)")
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(path, "exists and is not a regular file; not replaced")
    return st


def create_private_fd(path: str | os.PathLike[str], *, force: bool = False, append: bool = False) -> int:
    """A new owner-only file at ``path``, opened for writing; returns the file descriptor.

    Args:
        path: where to create it.
        force: replace an existing regular file (never a link, a directory or a device).
        append: open with ``O_APPEND`` (recordings are append-only).

    Raises:
        OutputError: the path is a link, exists (without ``force``), is not a regular file,
            or cannot be created.
    """
    p = Path(path)
    st = check_new(p, force=force)
    if st is not None:
        try:
            os.unlink(p)
        except OSError as exc:
            raise OutputError(p, f"cannot replace: {exc.strerror or exc}") from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
    if append:
        flags |= os.O_APPEND
    try:
        fd = os.open(p, flags, PRIVATE_MODE)
    except FileExistsError:
        # created meanwhile (or a link appeared): O_EXCL never follows or overwrites it
        raise OutputError(p, "already exists; not overwritten (use --force to replace it)") from None
    except OSError as exc:
        raise OutputError(p, f"cannot create: {exc.strerror or exc}") from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away; never more than 0600
    except OSError:  # pragma: no cover - a file system without modes
        pass
    return fd


@overload
def open_private(
    path: str | os.PathLike[str], mode: Literal["wb", "ab"] = ..., *, force: bool = ...
) -> IO[bytes]: ...
@overload
def open_private(path: str | os.PathLike[str], mode: Literal["w", "a"], *, force: bool = ...) -> IO[str]: ...
def open_private(path: str | os.PathLike[str], mode: str = "wb", *, force: bool = False) -> IO[bytes] | IO[str]:
    """A new owner-only file at ``path`` as a file object (see :func:`create_private_fd`).

    Args:
        path: where to create it.
        mode: ``"wb"``, ``"ab"`` (binary) or ``"w"``, ``"a"`` (UTF-8 text, ``\\n`` line ends).
        force: replace an existing regular file.
    """
    if mode not in ("wb", "ab", "w", "a"):
        raise ValueError(f"unsupported mode {mode!r}")
    fd = create_private_fd(path, force=force, append=mode.startswith("a"))
    if mode in ("w", "a"):
        return os.fdopen(fd, mode, encoding="utf-8", newline="\n")
    return os.fdopen(fd, mode)


def private_dir(path: Path) -> None:
    """Create ``path`` owner-only if needed and make it 0700, never through a symbolic link (a
    link there is left as it is: the user put it there; its target is not ours to change)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # a symbolic link (ELOOP), or not ours: nothing to change
        return
    try:
        os.fchmod(fd, 0o700)
    except OSError:  # pragma: no cover - a directory owned by someone else
        pass
    finally:
        os.close(fd)


def discard(path: str | os.PathLike[str]) -> None:
    """Remove a file this program just created and could not finish (ignores a missing file)."""
    try:
        if not os.path.islink(path):
            os.unlink(path)
    except OSError:
        pass
