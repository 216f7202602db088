"""Finished fits kept on disk, so that a long run which is stopped resumes where it was.

A paper-profile hmtDNA notebook trains for hours on a CPU; without this, a run stopped in its
last cell starts again from nothing. With ``RGD_FIT_CACHE`` set to a folder, each finished group
of fits is kept there under a key made of everything its result depends on, and a later run
with the same key loads it instead of fitting again. Unset (the default), nothing is read or
written.

The cache holds data, not code. One group is one ``<key>.npz`` file read with
``np.load(allow_pickle=False)``, which never unpickles: the decoders' ``state_dict`` tensors,
the latents and the test-time latents as arrays, and everything else (the estimators'
``get_params()``, ``history_``, ``best_epoch_``, ...) as one JSON document stored in the file. A
fitted estimator is rebuilt from its parameters (:meth:`RiemannianDecoder._prepare_fit` on one
row of zeros makes its manifold, dtype, device and an untrained decoder of the right shapes),
then its trained state is loaded into it.

The key (:func:`fit_key`) covers

- the estimators' class and parameters (without :data:`IGNORED_PARAMETERS`),
- the arrays' contents, shapes and dtypes,
- the source of the training code: the bytes of every file of :data:`TRAINING_SOURCES`, read by
  path from the repository (:func:`code_digest`), so a change to it makes every kept fit a miss,
- the format version of this module.

Anything unexpected is a miss with a warning, never executed: a foreign or corrupt file, a
file of another format or version, a pickle (those of older versions, ``<key>.pkl``, are never
opened), parameters or shapes that do not match. A cache folder that is a file raises before any
fit (:func:`check_folder`); one that cannot be written is said up front, and then its fits are
computed and used but not kept. A save that fails warns and the results stay in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from rgdkit.files.atomic import write_atomically

CACHE_VARIABLE = "RGD_FIT_CACHE"
# parameters that change how a fit is shown or where it runs, not what it finds
IGNORED_PARAMETERS = ("verbose", "device")
FORMAT = "rgdkit-fit-cache"
FORMAT_VERSION = 2  # 1: pickles (never read any more)
SUFFIX = ".npz"
META = "__meta__"  # the JSON document, as a uint8 array
# the repository, where the training code's source is read from (tests may point elsewhere)
SOURCE_ROOT = Path(__file__).resolve().parents[2]
# files, and folders whose .py files (recursively), make the training code; missing ones count
# as missing
TRAINING_SOURCES = ("rgd_utils.py", "rgdkit/training", "rgdkit/manifolds", "rgdkit/numerics")
# fitted attributes made again by _prepare_fit rather than stored (a device is the machine's)
REBUILT_ATTRIBUTES = ("manifold_", "device_", "decoder_")


class FitCacheMiss(Exception):
    """A kept file that cannot be used; the message says why (internal)."""


class _Unstorable(TypeError):
    """A value the cache cannot hold as data."""


# --------------------------------------------------------------------------------------------
# Folder and key
# --------------------------------------------------------------------------------------------
def cache_folder():
    """The folder of ``RGD_FIT_CACHE``, or None when fits are not kept."""
    value = os.environ.get(CACHE_VARIABLE, "")
    return Path(value) if value else None


def check_folder(folder) -> bool:
    """Check the cache folder before any fit; returns whether fits can be saved there.

    - a path that is a file (or runs through one) raises ValueError: nothing has been fitted
      yet, so nothing is lost;
    - a missing folder is created;
    - a folder that cannot be created or written warns now, up front: the run goes on, its fits
      are used but not kept (False);
    - pickle files there (``*.pkl``, the format of older versions) are never opened; a warning
      counts them.
    """
    folder = Path(folder)
    fix = (f"point {CACHE_VARIABLE} at a folder (it is created when missing), or unset it to "
           "fit without keeping fits")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"the fit cache {folder} ({CACHE_VARIABLE}) is a file, not a folder; "
                         f"{fix}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise ValueError(f"the fit cache {folder} ({CACHE_VARIABLE}) cannot be a folder: a part "
                         f"of its path is a file ({error}); {fix}") from None
    except OSError as error:
        _warn(f"the fit cache folder {folder} ({CACHE_VARIABLE}) cannot be created ({error}); "
              "this run's fits will be computed and used but not kept. Make its parent "
              f"writable or {fix}")
        return False
    try:
        _probe_write(folder)
    except OSError as error:
        _warn(f"the fit cache folder {folder} ({CACHE_VARIABLE}) is not writable ({error}); "
              "fits kept there are still loaded, but this run's new fits will be computed and "
              f"used without being kept. Make it writable or {fix}")
        writable = False
    else:
        writable = True
    pickles = sorted(p.name for p in folder.glob("*.pkl"))
    if pickles:
        _warn(f"the fit cache folder {folder} holds {len(pickles)} pickle file(s) (e.g. "
              f"{pickles[0]}), written by an older version or by something else; they are never "
              "opened (unpickling can run code) and their fits are made again. Delete them")
    return writable


def _probe_write(folder: Path):
    """Create and remove a small file in ``folder`` (OSError when that is not possible)."""
    handle, name = tempfile.mkstemp(dir=folder, prefix=".write-probe-")
    os.close(handle)
    os.remove(name)


def source_files(root=None, sources=None):
    """``(relative path, path)`` of every file of the training code, sorted: the listed files
    and the ``.py`` files under the listed folders (``SOURCE_ROOT`` and ``TRAINING_SOURCES`` by
    default). Listed entries that do not exist are left out (:func:`code_digest` counts them)."""
    root = Path(SOURCE_ROOT if root is None else root)
    found = {}
    for entry in (TRAINING_SOURCES if sources is None else sources):
        path = root / entry
        if path.is_file():
            found[entry] = path
        elif path.is_dir():
            for file in path.rglob("*.py"):
                if "__pycache__" not in file.parts and file.is_file():
                    found[file.relative_to(root).as_posix()] = file
    return sorted(found.items())


def code_digest(root=None, sources=None):
    """sha256 (hex) of the training code: each file's relative path and bytes, and the names of
    listed entries that are missing. Read from disk, nothing imported."""
    root = Path(SOURCE_ROOT if root is None else root)
    sources = TRAINING_SOURCES if sources is None else sources
    digest = hashlib.sha256()
    for relative, path in source_files(root, sources):
        digest.update(f"{relative}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for entry in sources:
        if not (root / entry).exists():
            digest.update(f"missing:{entry}\0".encode())
    return digest.hexdigest()


def fit_key(estimators, *arrays):
    """A hex key of the training code (:func:`code_digest`), the format version, the
    estimators' parameters (class and ``get_params``, without :data:`IGNORED_PARAMETERS`) and the
    arrays' contents, shapes and dtypes (None allowed)."""
    digest = hashlib.sha256()
    digest.update(f"{FORMAT} {FORMAT_VERSION} {code_digest()}".encode())
    for est in estimators:
        digest.update(f"{type(est).__qualname__}{sorted(_kept_params(est).items())!r}".encode())
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array.cpu().numpy() if torch.is_tensor(array) else array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:32]


def _kept_params(est):
    return {k: v for k, v in est.get_params(deep=False).items() if k not in IGNORED_PARAMETERS}


def storable_problem(estimators):
    """Why fits of these estimators cannot be kept (a parameter that is not data, such as a
    geoopt manifold instance), or None when they can."""
    for i, est in enumerate(estimators):
        for name, value in est.get_params(deep=False).items():
            try:
                _encode(value)
            except _Unstorable:
                return (f"estimator {i}'s parameter {name} is a {type(value).__module__}."
                        f"{type(value).__qualname__}, not data (a name, number or tuple)")
    return None


# --------------------------------------------------------------------------------------------
# Save and load
# --------------------------------------------------------------------------------------------
def save(folder, key, result) -> bool:
    """Keep ``result``, ``(estimators, Z_tests)`` of one group (fitted RiemannianDecoders and one
    array or None per member), as ``<folder>/<key>.npz``, written atomically. Returns whether it
    was kept; a failure warns (naming the fix) and the results stay with the caller."""
    path = Path(folder) / f"{key}{SUFFIX}"
    try:
        arrays = _to_arrays(key, *result)

        def write(temporary):
            with open(temporary, "wb") as handle:
                np.savez(handle, **arrays)
        write_atomically(path, write)
    except Exception as error:  # the results are in memory: never lose them over the cache
        _warn(f"fits could not be kept in the fit cache as {path} ({type(error).__name__}: "
              f"{error}); they are used by this run but a rerun fits them again. Check the "
              f"folder ({CACHE_VARIABLE}): space, permissions")
        return False
    return True


def load(folder, key, members=None):
    """The group kept under ``key``, ``(estimators, Z_tests)``, or None when there is none or it
    cannot be used (a warning says why; the fits are made again).

    ``members``: the unfitted estimators of the group being asked for. Their parameters must be
    those kept (else a miss), and the estimators returned are fitted copies of them. Without
    them, the estimators are rebuilt from the kept parameters.
    """
    path = Path(folder) / f"{key}{SUFFIX}"
    if not path.exists():
        return None
    try:
        return _read(path, key, members)
    except Exception as error:  # anything unexpected: a miss, never trusted
        reason = str(error) if isinstance(error, FitCacheMiss) else (
            f"{type(error).__name__}: {error}")
        _warn(f"fit cache {path.name} could not be read ({reason}); it is not used and the fits "
              "are made again (the file is replaced when they finish)")
        return None


def _to_arrays(key, estimators, Z_tests):
    """Every array of the group, and the JSON document as the uint8 array ``META``."""
    estimators, Z_tests = list(estimators), list(Z_tests)
    if len(Z_tests) != len(estimators):
        raise ValueError(f"{len(Z_tests)} test latents for {len(estimators)} estimators")
    problem = storable_problem(estimators)
    if problem:
        raise _Unstorable(f"{problem}; pass it by name (e.g. manifold='lorentz', curvature=...) "
                          "to have such fits kept")
    arrays, members = {}, []
    for i, (est, Z_test) in enumerate(zip(estimators, Z_tests)):
        entry = {"class": type(est).__name__,
                 "params": _encode(est.get_params(deep=False)),
                 "attributes": {}, "arrays": [], "decoder": [], "generator": None,
                 "z_test": Z_test is not None}
        for name, value in sorted(vars(est).items()):
            if not name.endswith("_") or name.startswith("_") or name in REBUILT_ATTRIBUTES:
                continue
            if isinstance(value, np.ndarray):
                arrays[f"m{i}.{name}"] = _plain_array(value, name)
                entry["arrays"].append(name)
            elif torch.is_tensor(value):
                arrays[f"m{i}.{name}"] = _plain_array(value.detach().cpu().numpy(), name)
                entry["arrays"].append(name)
            else:
                try:
                    entry["attributes"][name] = _encode(value)
                except _Unstorable as error:
                    raise _Unstorable(f"attribute {name} of estimator {i}: {error}") from None
        for name, tensor in est.decoder_.state_dict().items():
            arrays[f"m{i}.decoder.{name}"] = tensor.detach().cpu().numpy()
            entry["decoder"].append(name)
        generator = getattr(est, "_generator", None)
        if generator is not None:
            arrays[f"m{i}.generator"] = generator.get_state().numpy()
            entry["generator"] = generator.device.type
        if Z_test is not None:
            arrays[f"m{i}.Z_test"] = _plain_array(np.asarray(Z_test), "Z_test")
        members.append(entry)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "key": key, "members": members}
    arrays[META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays


def _plain_array(array, name):
    if array.dtype.hasobject:
        raise _Unstorable(f"{name} is an object array, not numbers")
    return array


def _read(path, key, members):
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head[:1] == b"\x80":
        raise FitCacheMiss("it is a Python pickle, which is never unpickled here (that could run "
                           "code)")
    if head != b"PK\x03\x04":
        raise FitCacheMiss(f"it is not an .npz archive (it starts with {head!r})")
    with np.load(path, allow_pickle=False) as npz:  # a pickle inside raises here, unread
        arrays = {name: npz[name] for name in npz.files}
    meta = _meta(arrays, key)
    entries = meta["members"]
    if not isinstance(entries, list) or not entries:
        raise FitCacheMiss("it holds no fits")
    if members is not None:
        members = list(members)
        if len(members) != len(entries):
            raise FitCacheMiss(f"it holds {len(entries)} fits, {len(members)} were asked for")
    estimators, Z_tests = [], []
    for i, entry in enumerate(entries):
        est = _rebuild(entry, i, arrays, None if members is None else members[i])
        estimators.append(est)
        Z_tests.append(_z_test(entry, i, arrays, est))
    return estimators, Z_tests


def _meta(arrays, key):
    raw = arrays.get(META)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise FitCacheMiss(f"no {META} document: not written by rgdkit's fit cache")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, ValueError) as error:
        raise FitCacheMiss(f"its {META} document is not JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FitCacheMiss(f"not a {FORMAT} file")
    if meta.get("version") != FORMAT_VERSION:
        raise FitCacheMiss(f"format version {meta.get('version')!r}, this version reads "
                           f"{FORMAT_VERSION}")
    if meta.get("key") != key:
        raise FitCacheMiss(f"it was written under the key {meta.get('key')!r} (a renamed or "
                           "copied file)")
    return meta


def _rebuild(entry, i, arrays, member):
    """A fitted estimator from one member's entry: built from the parameters (or cloned from
    ``member``, whose parameters must match), given its shapes by ``_prepare_fit``, then its
    trained state loaded and checked."""
    import rgd_utils as R  # the estimator's class; only when a kept fit is read
    from sklearn.base import clone

    # the class asked for (a subclass such as SwitchedDecoder), or, without one, the estimator
    expected = "RiemannianDecoder" if member is None else type(member).__name__
    if entry.get("class") != expected:
        raise FitCacheMiss(f"member {i} is a {entry.get('class')!r}, not a {expected}")
    params = _decode(entry["params"])
    if member is not None:
        if not isinstance(member, R.RiemannianDecoder):
            raise FitCacheMiss(f"member {i} asked for is a {type(member).__name__}")
        asked = _encode(_kept_params(member))
        kept = _encode({k: v for k, v in params.items() if k not in IGNORED_PARAMETERS})
        if asked != kept:
            raise FitCacheMiss(f"member {i}'s parameters differ from those asked for")
        est = clone(member)
    else:
        est = R.RiemannianDecoder(**params)
    attributes = {name: _decode(value) for name, value in entry["attributes"].items()}
    n_features = attributes.get("n_features_in_")
    if not isinstance(n_features, int) or n_features < 1:
        raise FitCacheMiss(f"member {i} has no valid n_features_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est._prepare_fit(np.zeros((1, n_features), dtype=np.float32), None)
    state = {name: torch.from_numpy(_array(arrays, f"m{i}.decoder.{name}"))
             for name in entry["decoder"]}
    if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
        raise FitCacheMiss(f"member {i}'s decoder has NaN or inf weights")
    try:
        est.decoder_.load_state_dict(state)
    except RuntimeError as error:
        raise FitCacheMiss(f"member {i}'s decoder does not fit its parameters ({error})") from None
    for name in ("latent_shape_", "dtype_"):
        if name in attributes and attributes.pop(name) != getattr(est, name):
            raise FitCacheMiss(f"member {i}'s {name} differs from the one its parameters give")
    for name, value in attributes.items():
        setattr(est, name, value)
    for name in entry["arrays"]:
        setattr(est, name, _array(arrays, f"m{i}.{name}"))
    _check_points(est.latents_, est, f"member {i}'s latents_")
    if entry["generator"] == est._generator.device.type:
        est._generator.set_state(torch.from_numpy(_array(arrays, f"m{i}.generator")).clone())
    if not hasattr(est, "history_"):
        raise FitCacheMiss(f"member {i} has no history_")
    return est


def _z_test(entry, i, arrays, est):
    if not entry.get("z_test"):
        return None
    Z = _array(arrays, f"m{i}.Z_test")
    _check_points(Z, est, f"member {i}'s test latents")
    return Z


def _check_points(Z, est, what):
    if not isinstance(Z, np.ndarray) or Z.shape[1:] != tuple(est.latent_shape_):
        raise FitCacheMiss(f"{what} do not have the shape (n, *{tuple(est.latent_shape_)})")
    if torch.from_numpy(Z).dtype != est.dtype_:
        raise FitCacheMiss(f"{what} are {Z.dtype}, the model's latents {est.dtype_}")
    if not np.isfinite(Z).all():
        raise FitCacheMiss(f"{what} have NaN or inf entries")


def _array(arrays, name):
    if name not in arrays:
        raise FitCacheMiss(f"array {name} is missing")
    return arrays[name]


# --------------------------------------------------------------------------------------------
# Values as JSON
# --------------------------------------------------------------------------------------------
_TAGS = ("__tuple__", "__dict__", "__dtype__", "__device__")


def _encode(value):
    """``value`` as JSON data, tuples, dicts, torch dtypes and devices tagged so that
    :func:`_decode` gives back an equal value; _Unstorable for anything else (objects, code)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _Unstorable("a dict with keys that are not strings")
        return {"__dict__": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    raise _Unstorable(f"a {type(value).__name__}")


def _decode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag == "__tuple__" and isinstance(inner, list):
            return tuple(_decode(v) for v in inner)
        if tag == "__dict__" and isinstance(inner, dict):
            return {k: _decode(v) for k, v in inner.items()}
        if tag == "__dtype__" and isinstance(getattr(torch, str(inner), None), torch.dtype):
            return getattr(torch, inner)
        if tag == "__device__" and isinstance(inner, str):
            return torch.device(inner)
    raise FitCacheMiss(f"an unexpected value in its document: {str(value)[:80]}")


def _warn(message):
    warnings.warn(message, UserWarning, stacklevel=3)
