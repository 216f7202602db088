"""Write files atomically: a reader sees the old file or the new one, never half of one.

Every file the project writes (figures, tables, AnnData, executed notebooks, downloaded FASTA)
goes through :func:`write_atomically`, so an interrupted run never truncates a user's results.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path, write, mode=0o644):
    """Call ``write(temporary_path)`` on a file beside ``path``, then move it into place.

    The folder is created when missing. On any error (or interrupt) the temporary file is
    removed and the previous ``path``, if any, is left as it was. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, mode)  # mkstemp creates the file private (0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
