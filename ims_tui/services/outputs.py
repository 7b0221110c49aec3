"""Writing a file the user named (exports, an import's error report, label files) safely.

A new path or an existing regular file is written beside the target and renamed into place only
when complete, so a failed export never leaves half a file.  Anything else the user may name -
a symlink, a device such as ``/dev/null``, a FIFO another process reads, ``/dev/stdout`` - is
written straight through and never replaced: renaming over a device node as root would swap the
system's ``/dev/null`` for a regular file.  No temporary file is ever made in ``/dev``.  A write
that fails (a full disk, ``/dev/full``, a closed pipe) is an error, never a silent success.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from ims_tui.services.errors import BadInput

T = TypeVar("T")

_DEVICE_DIRS = (Path("/dev"),)


def replaces_in_place(target: Path) -> bool:
    """True when ``target`` is a new path or a regular file (not a symlink) outside ``/dev``:
    then it is written beside and renamed over; else it is written straight through."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        parent = target.parent.resolve()
        return not any(parent == d or d in parent.parents for d in _DEVICE_DIRS)
    return stat.S_ISREG(mode)


def write_output(target: str | Path, produce: Callable[[Path], T], *, suffix: str = "") -> T:
    """Call ``produce(scratch)`` to write the whole document to a scratch regular file, then put it
    at ``target``: renamed into place over a new path or a regular file, copied straight through
    into anything else.  Returns what ``produce`` returned; OS errors become :class:`BadInput`."""
    target = Path(target).expanduser()
    if not target.parent.is_dir():
        raise BadInput(f"cannot write {target}: no such directory {target.parent}")
    in_place = replaces_in_place(target)
    try:
        handle, scratch_name = tempfile.mkstemp(prefix=".ims-", suffix=suffix, dir=target.parent if in_place else None)
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(handle)
    scratch = Path(scratch_name)
    try:
        result = produce(scratch)
        if in_place:
            _fsync(scratch)
            _keep_mode(target, scratch)
            os.replace(scratch, target)
        else:
            with scratch.open("rb") as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
                out.flush()
        return result
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        scratch.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _keep_mode(target: Path, scratch: Path) -> None:
    """The replaced file keeps its permissions; a new one gets the umask's (mkstemp makes 0600)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(scratch, mode)


def write_output_to_stream(stream: IO[bytes], produce: Callable[[Path], T], *, suffix: str = "") -> T:
    """As :func:`write_output`, into an open binary stream (standard output).  A closed pipe
    (``ims export moves | head -1``) is left to the caller as :class:`BrokenPipeError`."""
    handle, scratch_name = tempfile.mkstemp(prefix=".ims-", suffix=suffix)
    os.close(handle)
    scratch = Path(scratch_name)
    try:
        result = produce(scratch)
        with scratch.open("rb") as source:
            shutil.copyfileobj(source, stream)
        stream.flush()
        return result
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise BadInput(f"cannot write the output: {exc.strerror or exc}") from None
    finally:
        scratch.unlink(missing_ok=True)
