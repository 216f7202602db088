"""Write files atomically: a reader sees the old file or the new one, never half of one.

Every file the project writes (figures, tables, AnnData, executed notebooks, downloaded FASTA)
goes through :func:`write_atomically`, so an interrupted run never truncates a user's results.

The writer gets a temporary path beside the target. It keeps the target's suffix
(``.table.npy.<pid>-<random>.tmp.npy``), so writers that add a missing suffix (``np.save``)
write to it and not beside it. A writer that leaves it empty or missing raises instead of
emptying the target. Temporary files of runs killed mid-write (SIGKILL skips every cleanup) are
removed on the next write to the same target.
"""
from __future__ import annotations

import glob
import os
import re
import stat
import tempfile
import time
from pathlib import Path

NEW_FILE_MODE = 0o644
_RUN_STARTED = time.time()  # temporary files older than this, of an unknown writer, are stale


class EmptyWriteError(OSError):
    """The writer left its temporary file empty or missing; the target was not touched."""


def write_atomically(path, write, mode=None, allow_empty=False):
    """Call ``write(temporary_path)`` on a file beside ``path``, then move it into place.

    - The folder is created when missing (NotADirectoryError naming it when it is a file). A
      symlink ``path`` writes the file it points to; the link stays.
    - ``mode``: permission bits of the result; default: those of the existing file, else 0644.
    - A writer that leaves the temporary file missing or empty (it wrote elsewhere, or nothing)
      raises :class:`EmptyWriteError`; pass ``allow_empty=True`` where an empty file is meant.
    - On any error (or interrupt) the temporary file is removed and the previous ``path``, if
      any, is left as it was.

    Returns ``path`` (the name given, the link itself for a symlink).
    """
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # "File exists" names no file: say which
        raise NotADirectoryError(f"cannot write {path}: its folder {target.parent} is, or runs "
                                 "through, a file; write to another folder or move the file "
                                 "away") from None
    _remove_stale_temporaries(target)
    mode = _mode_for(target) if mode is None else mode
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}-",
                                         suffix=".tmp" + target.suffix)
    os.close(handle)
    try:
        write(temporary)
        _check_written(Path(temporary), target, allow_empty)
        os.chmod(temporary, mode)  # mkstemp creates the file private (0600)
        os.replace(temporary, target)
    except BaseException:
        _remove_with_strays(Path(temporary))
        raise
    return path


def _mode_for(target: Path) -> int:
    """Permission bits of the file being replaced, so a private file stays private."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return NEW_FILE_MODE


def _check_written(temporary: Path, target: Path, allow_empty: bool):
    if temporary.is_file() and (allow_empty or temporary.stat().st_size > 0):
        return
    strays = sorted(p.name for p in _strays(temporary))
    where = f"; it wrote {strays} instead" if strays else ""
    state = "did not leave a file at" if not temporary.is_file() else "wrote nothing to"
    raise EmptyWriteError(
        f"writing {target}: the writer {state} its temporary path {temporary.name}{where}. "
        f"{target} was left unchanged. Make the writer write to exactly the path it is given "
        "(pass allow_empty=True to write_atomically if an empty file is intended)")


def _strays(temporary: Path):
    """Files a writer made by appending to the temporary name (e.g. ``.tmp.npy`` -> ``.npy.npy``)."""
    return [p for p in temporary.parent.glob(f"{glob.escape(temporary.name)}?*") if p.is_file()]


def _remove_with_strays(temporary: Path):
    for stray in _strays(temporary):
        stray.unlink(missing_ok=True)
    temporary.unlink(missing_ok=True)


def _remove_stale_temporaries(target: Path):
    """Delete temporary files of ``target`` left by writers that were killed.

    A temporary name carries its writer's process id; it is stale when that process is gone.
    Names without one (written before ids were added) are stale when older than this run.
    """
    pattern = re.compile(re.escape(f".{target.name}.") + r"(?:(\d+)-)?[A-Za-z0-9_]+\.tmp"
                         + f"(?:{re.escape(target.suffix)})?$")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match and entry.is_file(follow_symlinks=False) and _is_stale(entry, match[1]):
            Path(entry.path).unlink(missing_ok=True)


def _is_stale(entry, pid) -> bool:
    if pid is not None:
        return not _process_alive(int(pid))
    try:
        return entry.stat(follow_symlinks=False).st_mtime < _RUN_STARTED
    except FileNotFoundError:
        return False


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # our own, possibly in another thread
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
