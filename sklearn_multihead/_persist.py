"""Safe model files: tensors in safetensors, everything else in JSON.

Inside:

- ``encode`` / ``decode``: plain Python, numpy and pandas values (labels of any
  of the supported types, dtypes, tuples, dicts with non-string keys) to and
  from JSON-safe values, with explicit tags; decoding builds nothing but these
  few value types, so it can run no code.
- ``write_model`` / ``read_model``: one ``.safetensors`` file whose header
  metadata holds the JSON document (format name and version, a SHA-256 over
  the document and every tensor) and whose body holds the tensors. Reading
  never unpickles: safetensors parses a length-prefixed JSON header and raw
  buffers, and ``read_model`` checks the format, version and digest before it
  returns anything.

The estimators own what goes in the document (``JointRegressorClassifier.save``
and ``.load``); this layer only guarantees that it comes back as it went in.
"""

import hashlib
import json
import math
import os
import re

import numpy as np
import pandas as pd

#: written into every file; a reader refuses files of another format
FORMAT = "sklearn-multihead"
#: bump when a file written by this version cannot be read by older versions
FORMAT_VERSION = 2
#: metadata keys of the safetensors header
_DOC_KEY, _DIGEST_KEY = "sklearn_multihead", "sha256"
#: largest safetensors header read (the JSON document and the tensor table);
#: a model's header is a few kilobytes to a few megabytes (class labels)
MAX_HEADER_BYTES = 64 * 2**20
#: most tensors read from one file: a network holds a few dozen (weights,
#: buffers, optimiser moments), so this allows over a thousand averaged
#: networks, and bounds what a forged table of tiny tensors costs to read
MAX_TENSORS = 50_000
#: the most JSON lists and objects a document may hold, and the fewest bytes
#: of document per list or object: parsed, each costs ~60-200 bytes of Python
#: memory, so a document padded with empty lists ("[],", 3 bytes each) would
#: cost 20-60 x its size (3.8 GB for 64 MiB); a model's document holds a few
#: per column and per target (its arrays are tagged lists of values)
MAX_CONTAINERS = 1_000_000
MIN_BYTES_PER_CONTAINER = 8


class ModelFileError(ValueError):
    """A model file that is not, or no longer, a valid sklearn-multihead file."""


# -- values <-> JSON -------------------------------------------------------------
def encode(value, where="value"):
    """A JSON-safe, tagged form of ``value``; TypeError for what cannot be saved."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return {"__np__": value.dtype.str, "v": encode(value.item(), where)}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, where) for v in value]}
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, dict):
        return {
            "__dict__": [[encode(k, where), encode(v, where)] for k, v in value.items()]
        }
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufUO":
            raise TypeError(f"{where}: arrays of dtype {value.dtype} cannot be saved.")
        return {
            "__ndarray__": value.dtype.str if value.dtype.kind != "O" else "object",
            "shape": list(value.shape),
            "v": [encode(v, where) for v in value.ravel().tolist()],
        }
    if isinstance(value, pd.Index):
        return {
            "__index__": encode(value.dtype, where),
            "v": encode(value.to_numpy(dtype=object), where),
        }
    if isinstance(value, pd.CategoricalDtype):
        return {
            "__category__": encode(value.categories, where),
            "ordered": bool(value.ordered),
        }
    if isinstance(value, np.dtype):
        if value.kind not in "biufUO":
            raise TypeError(f"{where}: dtype {value} cannot be saved.")
        return {"__dtype__": value.str if value.kind != "O" else "object"}
    if isinstance(value, pd.api.extensions.ExtensionDtype):
        name = str(value)
        if pd.api.types.pandas_dtype(name) != value:
            raise TypeError(f"{where}: the pandas dtype {value!r} cannot be saved.")
        return {"__pandas_dtype__": name}
    raise TypeError(
        f"{where}: a value of type {type(value).__name__} cannot be saved in the "
        "safe format."
    )


_NP_KINDS = set("biufU")
#: the pandas extension dtypes that targets may have (labels, numbers)
_PANDAS_DTYPES = re.compile(
    r"U?Int(8|16|32|64)|Float(32|64)|boolean|str|string"
    r"|string\[(python|pyarrow|pyarrow_numpy)\]"
)


def _dtype(text):
    dtype = np.dtype(object if text == "object" else text)
    if dtype.kind not in _NP_KINDS | {"O"}:
        raise ModelFileError(f"unsupported dtype {text!r}")
    return dtype


def decode(value):
    """Inverse of ``encode``; ModelFileError on anything ``encode`` cannot write."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict) or len(value) not in (1, 2, 3):
        raise ModelFileError(f"unexpected value {str(value)[:80]}")
    if "__np__" in value:
        dtype = _dtype(value["__np__"])
        if dtype.kind == "O":
            raise ModelFileError("object numpy scalar")
        return np.array(decode(value["v"]), dtype=dtype)[()]
    if "__float__" in value:
        text = value["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise ModelFileError(f"unexpected float {text!r}")
        return float(text)
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["__dict__"]}
    if "__ndarray__" in value:
        dtype = _dtype(value["__ndarray__"])
        items = [decode(v) for v in value["v"]]
        shape = tuple(int(s) for s in value["shape"])
        if math.prod(shape) != len(items):
            raise ModelFileError("array shape does not match its values")
        if dtype.kind == "O":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(shape)
        return np.array(items, dtype=dtype).reshape(shape)
    if "__index__" in value:
        return pd.Index(decode(value["v"]), dtype=decode(value["__index__"]))
    if "__category__" in value:
        return pd.CategoricalDtype(
            decode(value["__category__"]), ordered=bool(value["ordered"])
        )
    if "__dtype__" in value:
        return _dtype(value["__dtype__"])
    if "__pandas_dtype__" in value:
        name = str(value["__pandas_dtype__"])
        # an allow-list: other dtype strings can make pandas open files
        # (a time zone such as "datetime64[ns, dateutil/<path>]")
        if not _PANDAS_DTYPES.fullmatch(name):
            raise ModelFileError(f"unsupported pandas dtype {name[:80]!r}")
        try:
            dtype = pd.api.types.pandas_dtype(name)
        except (TypeError, ValueError, ImportError) as exc:
            raise ModelFileError(
                f"the pandas dtype {name!r} cannot be made here "
                f"({type(exc).__name__}: {exc})"
            ) from None
        return dtype
    raise ModelFileError(f"unknown tag in {sorted(value)}")


def _hashable(key):
    if isinstance(key, list):
        raise ModelFileError("a list cannot be a dict key")
    return key


# -- files ---------------------------------------------------------------------
def _digest(doc_text, tensors):
    h = hashlib.sha256(doc_text.encode())
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(np.ascontiguousarray(t).tobytes())
    return h.hexdigest()


def write_model(path, doc, tensors):
    """Write ``doc`` (JSON-safe dict) and ``tensors`` (name -> numpy array) to
    ``path``."""
    from safetensors.numpy import save_file

    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, **doc}
    text = json.dumps(doc, allow_nan=False, sort_keys=True)
    # a file that read_model would refuse is never written (nor is the
    # path touched): the tensor table needs room in the header too
    if len(text.encode()) + 200 * (len(tensors) + 1) > MAX_HEADER_BYTES:
        raise ValueError(
            f"The model's description takes {len(text.encode()) / 2**20:.0f} MiB, "
            f"more than a model file holds ({MAX_HEADER_BYTES // 2**20} MiB): "
            "probably very many long class labels or categories. Nothing was "
            "written. Shorten the labels, or map them to codes first."
        )
    tensors = {k: np.ascontiguousarray(t) for k, t in tensors.items()}
    metadata = {_DOC_KEY: text, _DIGEST_KEY: _digest(text, tensors)}
    save_file(tensors, os.fspath(path), metadata=metadata)


def read_model(path):
    """The document and the tensors (numpy arrays) of a file written by
    ``write_model``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        The file is not a safetensors file (e.g. a pickle), was not written by
        sklearn-multihead, has a newer format version, or was changed or
        truncated since it was written.
    """
    from safetensors import safe_open

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    what = f"{path!r} is not a sklearn-multihead model file"
    with open(path, "rb") as f:  # safetensors: an 8-byte header length first
        head = f.read(8)
    header_bytes = int.from_bytes(head, "little") if len(head) == 8 else -1
    size = os.path.getsize(path)
    if not 0 < header_bytes <= min(MAX_HEADER_BYTES, size - 8):
        raise ModelFileError(
            f"{what}: it cannot be read as safetensors (a header of {header_bytes} "
            f"bytes in a file of {size}; a model's is at most {MAX_HEADER_BYTES}). "
            "Model files are written by est.save(path); pickle files are never "
            "loaded here."
        )
    try:
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            names = f.keys()
            if len(names) > MAX_TENSORS:
                raise ModelFileError(
                    f"{what}: it lists {len(names):,} tensors; a model holds at "
                    f"most {MAX_TENSORS:,}."
                )
            tensors = {k: f.get_tensor(k) for k in names}
    except ModelFileError:
        raise
    except Exception as exc:  # safetensors' own error types vary by version
        raise ModelFileError(
            f"{what}: it cannot be read as safetensors ({exc}). Model files are "
            "written by est.save(path); pickle files are never loaded here."
        ) from None
    text = metadata.get(_DOC_KEY)
    if text is None:
        raise ModelFileError(
            f"{what}: it is a safetensors file without sklearn-multihead metadata "
            "(a model file from another library?)."
        )
    # the digest first: nothing of a changed document is parsed
    if metadata.get(_DIGEST_KEY) != _digest(text, tensors):
        raise ModelFileError(
            f"{path!r} was changed after it was written: its SHA-256 digest does not "
            "match its content. Save the model again from a trusted copy."
        )
    containers = text.count("[") + text.count("{")  # strings count too: an upper bound
    if containers > min(MAX_CONTAINERS, len(text) // MIN_BYTES_PER_CONTAINER):
        raise ModelFileError(
            f"{what}: its metadata holds {containers:,} JSON lists and objects in "
            f"{len(text):,} characters, more than a model's (at most "
            f"{MAX_CONTAINERS:,}, and one per {MIN_BYTES_PER_CONTAINER} characters)."
        )
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(
            f"{what}: its metadata is not valid JSON ({type(exc).__name__})."
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{what}: its metadata names another format.")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has model format version {version!r}; this sklearn-multihead "
            f"reads versions up to {FORMAT_VERSION}. Upgrade sklearn-multihead."
        )
    return doc, tensors
