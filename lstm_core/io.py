"""Save and load parameter dicts without pickle.

Parameters are flat dicts ``{name: np.ndarray}`` in ``torch.nn.LSTM``'s layout:
``W_ih (4H, I)``, ``W_hh (4H, H)``, ``b_ih, b_hh (4H,)``, optional peepholes
``w_ci, w_cf, w_co (H,)`` and a readout ``W_hy, b_y``.

A parameter file is a plain ``.npz`` (NumPy's zip of ``.npy`` arrays) holding
each array under its name plus two reserved entries: ``__format__`` (the int
``FORMAT_VERSION``) and ``__meta__`` (a JSON string as a 0-d unicode array), so
``np.load(..., allow_pickle=False)`` reads everything. Files are written to a
temporary file in the same directory (created with mode 0o666, which the OS
reduces by the process's umask, as for any new file; the umask itself is never
changed, so threads cannot race on it), flushed to disk, moved into place with
``os.replace``, and the directory is synced, so a crash never leaves a
half-written file under the real name. Loading checks every array as saving
does: a file that ``save_params`` would refuse to write is refused on reading.

A trained generator (`lstm_core.recipes.Generator`) is saved the same way by
``save_generator``: its parameters as arrays, and its standardisation (mean,
scale), recipe (``GeneratorConfig``) and training history in ``__meta__`` (JSON
writes floats with their shortest round-trip form, so mean and scale come back
bit for bit); ``load_generator`` rebuilds it and checks every part.

References: NumPy's ``.npy``/``.npz`` format (NEP 1, ``numpy.lib.format``);
PyTorch's ``torch.load(weights_only=True)`` for checkpoints of tensors only.
"""
import io
import json
import os
import pickle
import secrets
import zipfile
from pathlib import Path

import numpy as np

from . import validate as V

FORMAT_VERSION = 1
_READ_ERRORS = (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError)


def atomic_write(path, data):
    """Write bytes or str to path atomically (see the module doc); returns path."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or pathlib.Path, got {V.describe(path)}")
    if isinstance(data, str):
        data = data.encode()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes or str, got {V.describe(data)}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except PermissionError as err:
        raise PermissionError(f"no permission to write {str(path)!r} (a temporary "
                              f"file in {str(path.parent)!r} is needed): {err}") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot write {str(path)!r}: the folder "
                                f"{str(path.parent)!r} does not exist") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder):
    if os.name == "nt":                      # directories cannot be opened there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _npz_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or pathlib.Path, "
                        f"got {type(path).__name__}")
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in '.npz', got {str(path)!r}")
    return path


def _check_params(params):
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict {{name: np.ndarray}}, "
                        f"got {type(params).__name__}")
    if not params:
        raise ValueError("params must be a non-empty dict, got an empty dict")
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"params keys must be str, got {type(name).__name__} "
                            f"({name!r})")
        if name.startswith("__"):
            raise ValueError(f"params key {name!r} is reserved: names starting "
                             "with '__' belong to the file format")
        if name in ("file", "allow_pickle"):
            raise ValueError(f"params key {name!r} clashes with an argument of "
                             "np.savez; rename it")
        V.array(f"params[{name!r}]", value, nonempty=False)


def save_params(path, params, meta=None):
    """Write ``params`` ({name: float array}) and a JSON ``meta`` dict to ``path``.

    ``path`` must end in ``.npz``. The write is atomic: either the old file or
    the complete new one is under ``path``, never a partial one.
    """
    path = _npz_path(path)
    _check_params(params)
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict or None, got {type(meta).__name__}")
    try:
        meta_json = json.dumps(meta)
    except (TypeError, ValueError) as err:
        raise TypeError(f"meta must be JSON-serialisable, got {meta!r}: {err}") from err
    arrays = {**params, "__format__": np.array(FORMAT_VERSION),
              "__meta__": np.array(meta_json)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def _read_npz(path):
    """All arrays of the ``.npz`` at ``path`` as a dict of in-memory copies."""
    try:
        # Our own handle, closed whatever happens: np.load leaves the file open
        # when the zip archive it starts to read turns out to be corrupt.
        with open(path, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an .npz archive")
            with data:
                return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"no parameter file at {str(path)!r}") from None
    except PermissionError as err:
        raise PermissionError(f"no permission to read {str(path)!r}: {err}") from None
    except _READ_ERRORS as err:
        raise ValueError(f"{str(path)!r} is not a readable .npz parameter file "
                         f"(truncated or corrupt?): {err}") from err


def load_params(path, expected_keys=None):
    """Read a file written by ``save_params``; return ``(params, meta)``.

    If ``expected_keys`` is given, the parameter names must match it exactly.
    """
    if isinstance(expected_keys, str) or not (
            expected_keys is None or hasattr(expected_keys, "__iter__")):
        raise TypeError(f"expected_keys must be a collection of names (a list, a set, "
                        f"a dict) or None, got {V.describe(expected_keys)}")
    arrays = _read_npz(_npz_path(path))
    if "__format__" not in arrays:
        raise ValueError(f"{str(path)!r} was not written by save_params: "
                         "it has no '__format__' entry")
    version = arrays.pop("__format__")
    if version.shape != () or version.dtype.kind not in "iu" or \
            version.item() != FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} has format version {version.tolist()!r}, but "
                         f"this lstm_core reads format version {FORMAT_VERSION}")
    try:
        meta = json.loads(str(arrays.pop("__meta__", np.array("null"))))
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} has an unreadable '__meta__' entry: "
                         f"{err}") from err
    if meta is not None and not isinstance(meta, dict):
        raise ValueError(f"{str(path)!r} has a '__meta__' entry that is not a JSON "
                         f"object (save_params writes a dict or None), got "
                         f"{type(meta).__name__}")

    try:
        _check_params(arrays)                # as save_params would have checked
    except (TypeError, ValueError) as err:
        raise ValueError(f"{str(path)!r} holds what save_params would not have "
                         f"written: {err}") from None
    if expected_keys is not None:
        missing = sorted(set(expected_keys) - set(arrays))
        extra = sorted(set(arrays) - set(expected_keys))
        if missing or extra:
            raise ValueError(f"{str(path)!r} does not hold the expected parameters: "
                             f"missing {missing}, extra {extra}")
    return arrays, meta


def load_torch_state(path):
    """Load a torch checkpoint (e.g. a ``state_dict``) on the CPU, tensors only.

    Uses ``weights_only=True``, so a file that would unpickle arbitrary objects
    is refused with a ValueError instead of running their code.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"no torch checkpoint at {str(path)!r}") from None
    except (pickle.UnpicklingError, RuntimeError, *_READ_ERRORS) as err:
        raise ValueError(f"{str(path)!r} is not a readable torch checkpoint of "
                         "tensors only: it is corrupt, or holds other objects, which "
                         f"weights_only=True refuses to unpickle: {err}") from err


GENERATOR_KIND = "lstm_core.recipes.Generator"


def save_generator(path, generator, meta=None):
    """Write a `recipes.Generator` to ``path`` (.npz, atomic, no pickle).

    meta: an optional JSON-serialisable dict of your own (it comes back as
    ``generator.meta``).
    """
    from . import recipes
    if not isinstance(generator, recipes.Generator):
        raise TypeError(f"generator must be a lstm_core.recipes.Generator (what "
                        f"fit_generator returns), got {V.describe(generator)}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict or None, got {V.describe(meta)}")
    info = {"kind": GENERATOR_KIND, "mean": generator.mean, "scale": generator.scale,
            "config": recipes.config_dict(generator.config),
            "history": generator.history, "meta": meta}
    save_params(path, generator.model.to_numpy(), info)


def load_generator(path):
    """Read a file written by ``save_generator``; return the `recipes.Generator`."""
    from . import recipes
    params, info = load_params(path)
    if not isinstance(info, dict) or info.get("kind") != GENERATOR_KIND:
        raise ValueError(f"{str(path)!r} was not written by save_generator (its "
                         f"metadata does not say kind={GENERATOR_KIND!r}); for a "
                         "parameter dict use load_params")
    try:
        config = recipes.GeneratorConfig(**info["config"])
        missing = sorted({"mean", "scale", "history", "meta"} - set(info))
        if missing:
            raise ValueError(f"the metadata lacks {missing}")
        from .torch_lstm import SequenceModel
        model = SequenceModel(1, config.hidden_size, 1,
                              dtype=_torch_dtype(params.get("W_ih")))
        model.load_arrays(params)
        return recipes.Generator(model, info["mean"], info["scale"], config,
                                 info["history"], info["meta"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{str(path)!r} holds a generator that cannot be rebuilt: "
                         f"{err}") from None


def _torch_dtype(W_ih):
    import torch
    if not isinstance(W_ih, np.ndarray) or W_ih.dtype not in V.FLOAT_DTYPES:
        raise ValueError(f"W_ih must be a float32 or float64 array, got "
                         f"{V.describe(W_ih)}")
    return torch.float32 if W_ih.dtype == np.float32 else torch.float64
