"""Finding data files: a named path, ``data/``, then the HuggingFace Hub, each step said aloud.

Every loader (``branching``, ``cellcycle``, ``hmtdna``) says what it tried and what it used, so a
reader of a notebook knows which data produced its figures. One resolver, :func:`fetch_data_file`, finds every data file, trying in order

1. a path the caller names (an argument, or an environment variable such as ``RGD_CELLCYCLE_H5AD``);
2. ``data/<relpath>`` in this repository;
3. the paper's HuggingFace Hub dataset ``yhsure/riemannian-generative-decoder`` (normal Hub cache);

and raises :class:`DataNotAvailableError` when none has it, so that a loader can fall back to a
simulator (branching diffusion, cycling cells) and say so.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors
from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data"  # read at call time, so tests can point it elsewhere

HUB_REPO_ID = "yhsure/riemannian-generative-decoder"
# NOT pinned: "main" is a branch, so the Hub's files may change under us. No full commit hash of
# the dataset is known offline (only the short ids d5431af and 2702225), so this stays the
# default; set RGD_HUB_REVISION to a full commit hash to pin it. Files whose content is known
# (KNOWN_HUB_FILES) are checked byte for byte whatever the revision.
HUB_REVISION = "main"
HUB_REVISION_ENV = "RGD_HUB_REVISION"

# Size and sha256 of the Hub files whose content is known (from the paper's repository; see
# ../shared/data/hub_manifest.json), keyed by Hub path. Every copy of these, in data/ or
# downloaded, is verified before use.
KNOWN_HUB_FILES = {
    "cellcycle/QuickGO-annotations-human.tsv":
        (293934, "0fdb98aee2194dbf310fa920d72adcc733604cb9e674c039331f73e13b4af5aa"),
    "branchingdiffusion/tensordataset.pt":
        (2897084, "e03fa40a2352bc7ad8dfd52718d1a58dd0827dc34b0f1862f26f7f92ba1bf1d9"),
    "hmtDNA/trees/phylotree-rsrs/17.0/tree.xml":
        (1881773, "6f517e79d3148abee3cb670017caa919f507d531d0493b6bd7f3f83140294de8"),
    "hmtDNA/trees/phylotree-fu-rcrs/1.2/tree.xml":
        (2426061, "07275e7a32f2d9ddb13252f357559eaa3537f677600e127f5b3a1a2c089d45be"),
}
HUB_TIMEOUT_S = 5.0  # per request; the metadata request is not retried, so offline fails fast


# Everything hf_hub_download / get_hf_file_metadata raise when a file cannot be had: missing
# repository, revision or file; HTTP errors; and transport errors (the HTTP client's HTTPError
# base class, re-exported by huggingface_hub), ConnectionError, TimeoutError, OfflineModeIsEnabled.
_HUB_ERRORS = (hf_errors.EntryNotFoundError, hf_errors.HTTPError, OSError)


def hub_revision() -> str:
    """The Hub revision read: ``$RGD_HUB_REVISION``, else :data:`HUB_REVISION` (unpinned)."""
    return os.environ.get(HUB_REVISION_ENV, "").strip() or HUB_REVISION


def known_file(hub_path) -> dict:
    """``{"expected_size", "sha256"}`` of a Hub file whose content is known, else ``{}``.

    Spread into :func:`fetch_data_file`: ``fetch_data_file(relpath, **known_file(hub_path))``.
    """
    if hub_path not in KNOWN_HUB_FILES:
        return {}
    size, sha256 = KNOWN_HUB_FILES[hub_path]
    return {"expected_size": size, "sha256": sha256}


def is_known_content(path, hub_paths) -> bool:
    """Whether ``path`` is byte for byte the known file of one of ``hub_paths`` (size, sha256)."""
    size = Path(path).stat().st_size
    candidates = [KNOWN_HUB_FILES[p][1] for p in hub_paths
                  if p in KNOWN_HUB_FILES and KNOWN_HUB_FILES[p][0] == size]
    return bool(candidates) and _sha256_of(path) in candidates


class DataNotAvailableError(FileNotFoundError):
    """No usable copy of a data file was found locally, in ``data/``, or on the Hub."""


class CorruptDataError(ValueError):
    """A data file has the wrong size or checksum, or cannot be read as the format it should be."""


def corrupt_file_fix(path) -> str:
    """How to get a good copy of ``path``, by where it lies: data/, the Hub cache, or elsewhere."""
    path = Path(path).absolute()
    if _is_under(path, DATA_DIR):
        return (f"delete or replace {path}; without it the file is looked for on the Hub "
                f"({HUB_REPO_ID})")
    if _is_under(path, Path(hf_constants.HF_HUB_CACHE)):
        return (f"delete {path} (a damaged HuggingFace cache entry); the next run downloads it "
                "again")
    return "replace it with a good copy, or pass another file"


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(Path(folder).absolute())
    except ValueError:
        return False
    return True


def existing_file(path, what: str) -> Path:
    """``path`` as a Path; FileNotFoundError naming what was expected when it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected {what}")
    return path


# --------------------------------------------------------------------------------------------
# Finding data files
# --------------------------------------------------------------------------------------------
def fetch_data_file(relpath, local_path=None, env_var=None, allow_hub=True, expected_size=None,
                    sha256=None) -> Path:
    """Path to the data file ``relpath`` (e.g. ``"cellcycle/QuickGO-annotations-human.tsv"``).

    Tries, printing each step and its outcome: ``local_path``, else the path in environment
    variable ``env_var`` (either must exist: a named file that is missing raises
    ``FileNotFoundError``); then ``DATA_DIR/relpath``; then, if ``allow_hub``, ``relpath`` in the
    Hub dataset :data:`HUB_REPO_ID` at :func:`hub_revision` (unpinned "main" unless
    ``$RGD_HUB_REVISION`` names a commit). Every file found is checked against
    ``expected_size`` (bytes) and ``sha256`` when given (on the Hub, against the size the Hub
    reports); a corrupt download is fetched again once, a corrupt file elsewhere is reported and
    skipped (or, when named explicitly, raises :class:`CorruptDataError`).

    Raises :class:`DataNotAvailableError` naming the file and the ways to provide it when no step
    has it; callers with an offline fallback catch it.
    """
    explicit = _explicit_path(local_path, env_var)
    if explicit is not None:
        return _checked_explicit_file(*explicit, expected_size, sha256)
    tried = []
    found = _data_dir_file(relpath, expected_size, sha256, tried)
    if found is None and allow_hub:
        found = _hub_file(relpath, expected_size, sha256, tried)
    if found is None:
        raise DataNotAvailableError(_not_available_message(relpath, env_var, allow_hub, tried))
    return found


def _report(where, outcome, tried=None):
    """Print one step of the search; also append it to ``tried`` for the final error message."""
    line = f"data: trying {where}: {outcome}"
    print(line)
    if tried is not None:
        tried.append(line)


def _explicit_path(local_path, env_var):
    """``(path, how it was named)`` from the argument or the environment, or None."""
    if local_path is not None:
        return Path(local_path), "path given"
    if env_var and os.environ.get(env_var):
        return Path(os.environ[env_var]), f"${env_var}"
    return None


def _checked_explicit_file(path, named_by, expected_size, sha256) -> Path:
    where = f"{named_by} {path}"
    if not path.is_file():
        _report(where, "does not exist")
        raise FileNotFoundError(f"{where} does not exist; name an existing file, or name none to "
                                f"use {DATA_DIR} or the Hub")
    problem = _integrity_problem(path, expected_size, sha256)
    if problem is not None:
        _report(where, f"corrupt ({problem})")
        raise CorruptDataError(f"{where} is corrupt ({problem}); replace it with the expected "
                               f"file, or name none to use {DATA_DIR} or the Hub")
    _report(where, "found")
    return path


def _data_dir_file(relpath, expected_size, sha256, tried):
    path = DATA_DIR / relpath
    if not path.is_file():
        _report(path, "not there", tried)
        return None
    problem = _integrity_problem(path, expected_size, sha256)
    if problem is not None:
        _report(path, f"corrupt ({problem}); not used, delete or replace it", tried)
        return None
    _report(path, "found", tried)
    return path


def _hub_file(relpath, expected_size, sha256, tried):
    """Download ``relpath`` from the Hub (or take it from the Hub cache when offline), checked."""
    where = f"Hub {HUB_REPO_ID}@{hub_revision()} {relpath}"
    if _hub_offline():
        _report(where, "HF_HUB_OFFLINE=1, looking in the Hub cache only", tried)
        return _hub_download_checked(relpath, where, expected_size, sha256, tried, cache_only=True)
    try:
        hub_size = _hub_file_size(relpath)
    except _HUB_ERRORS as err:
        _report(where, _hub_failure(err), tried)
        if _missing_on_hub(err):
            return None
        return _hub_download_checked(relpath, where, expected_size, sha256, tried, cache_only=True)
    return _hub_download_checked(relpath, where, expected_size or hub_size, sha256, tried,
                                 cache_only=False)


def _hub_offline() -> bool:
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return hf_constants.HF_HUB_OFFLINE or flag in {"1", "ON", "YES", "TRUE"}


def _hub_file_size(relpath):
    """Size in bytes the Hub reports for ``relpath``: one request, no retries, short timeout.

    ``hf_hub_download`` retries a failed connection with back-off for about 20 s; asking for
    the metadata first makes an unreachable Hub fail in well under a second.
    """
    url = hf_hub_url(HUB_REPO_ID, relpath, repo_type="dataset", revision=hub_revision())
    return get_hf_file_metadata(url, timeout=HUB_TIMEOUT_S).size


def _hub_download_checked(relpath, where, expected_size, sha256, tried, cache_only):
    for force_download in ([False] if cache_only else [False, True]):
        try:
            path = Path(hf_hub_download(HUB_REPO_ID, relpath, repo_type="dataset",
                                        revision=hub_revision(), etag_timeout=HUB_TIMEOUT_S,
                                        force_download=force_download,
                                        local_files_only=cache_only))
        except _HUB_ERRORS as err:
            _report(where, _hub_failure(err), tried)
            return None
        problem = _integrity_problem(path, expected_size, sha256)
        if problem is None:
            how = "found in the Hub cache" if cache_only else "fetched"
            _report(where, f"{how}: {path}", tried)
            return path
        again = not (cache_only or force_download)
        _report(where, f"{path} is corrupt ({problem}); "
                       + ("downloading it again" if again else "not used"), tried)
    return None


def _missing_on_hub(err) -> bool:
    missing = (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError,
               hf_errors.EntryNotFoundError)
    return isinstance(err, missing) and not isinstance(err, hf_errors.LocalEntryNotFoundError)


def _hub_failure(err) -> str:
    """What an exception from the Hub client means, in a few words, with its type."""
    name = type(err).__name__
    if isinstance(err, hf_errors.LocalEntryNotFoundError):
        return f"not in the Hub cache ({name})"
    if _missing_on_hub(err):
        return f"not on the Hub ({name})"
    if isinstance(err, hf_errors.HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", "?")
        return f"Hub answered HTTP {status} ({name})"
    return f"unreachable ({name})"


def _integrity_problem(path, expected_size, sha256):
    """Why ``path`` fails the size / sha256 check, or None when it passes (or nothing is known)."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        return f"{size} bytes, expected {expected_size}"
    if sha256 is not None:
        digest = _sha256_of(path)
        if digest != sha256.lower():
            return f"sha256 {digest[:12]}..., expected {sha256.lower()[:12]}..."
    return None


def _sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _not_available_message(relpath, env_var, allow_hub, tried) -> str:
    ways = ["pass its path to the loader (or local_path= to fetch_data_file)"]
    if env_var:
        ways.append(f"set the environment variable {env_var}=/path/to/{Path(relpath).name}")
    ways.append(f"put it at {DATA_DIR / relpath}")
    lines = [f"data file {relpath} is not available.", "Tried:", *(f"  {t}" for t in tried),
             "Provide it in one of these ways:", *(f"  - {w}" for w in ways)]
    if allow_hub:
        lines.append(f"or run where huggingface.co is reachable (without HF_HUB_OFFLINE=1) to "
                     f"download it from the Hub dataset {HUB_REPO_ID}@{hub_revision()}.")
    return "\n".join(lines)
