"""The one JSON codec: nested numbers, strings, arrays, dicts, lists and tuples <-> JSON-able values.

:class:`JsonEncoder` walks a value once, in one order (arrays, numpy scalars, plain scalars, floats, the
subclass's own types, mappings, tuples, lists) and asks a hook for each kind; :class:`JsonDecoder` turns each
tagged dict (``{"__tag__": ...}``) back through one function per tag. Two formats are built on them and must
keep reading what they wrote before:

- :class:`InlineEncoder` / :class:`InlineDecoder` — one strict-JSON document (``RankingTable.to_json``):
  numeric arrays as base64 bytes ``{"__ndarray__", "dtype", "shape"}`` (exact, compact), numpy scalars as plain
  numbers, non-finite floats as ``{"__float__": repr}``, tuples as lists, dict keys as strings, anything else as
  ``{"__repr__": repr}``.
- :class:`AsideEncoder` / :class:`AsideDecoder` — a document plus its arrays stored beside it (the trajectory
  ``.npz`` of :mod:`transvis.dynamics.persist`): ``{"__array__": name}``, numpy scalars with their dtype
  (``{"__scalar__", "value"}``), tuples (``{"__tuple__"}``) and non-string keys (``{"__dict__": pairs}``) kept,
  NaN/inf as JSON's NaN tokens; other types raise unless a subclass names them (``other``/``tags``).
"""

from __future__ import annotations

import abc
import base64
import math
from collections.abc import Mapping
from typing import Any, Callable


class JsonEncoder(abc.ABC):
    """Value -> JSON-able value; subclasses decide each kind (``array``, ``scalar``, ``float``, ``mapping``,
    ``tuple``, ``other``). ``array`` has no default: where arrays go (inline bytes or a file beside the
    document) is what distinguishes the two formats, so each format must say it."""

    def encode(self, value) -> Any:
        import numpy as np

        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, np.generic):
            return self.scalar(value)
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return self.float(value)
        if isinstance(value, Mapping):  # also LazyMap: items() computes every value
            return self.mapping(value)
        if isinstance(value, tuple):
            return self.tuple(value)
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        return self.other(value)

    @abc.abstractmethod
    def array(self, value):
        """A numpy array as a JSON-able value (the format's choice)."""

    def scalar(self, value):
        return self.encode(value.item())

    def float(self, value):
        return value

    def mapping(self, value):
        return {str(k): self.encode(v) for k, v in value.items()}

    def tuple(self, value):
        return [self.encode(v) for v in value]

    def other(self, value):
        raise ValueError(f"cannot encode a value of type {type(value).__name__}.")


class JsonDecoder:
    """JSON-able value -> value: each dict holding one of ``tags`` goes through that tag's function, other dicts
    through ``plain``."""

    tags: dict[str, Callable[[JsonDecoder, dict], Any]] = {}

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        for tag, function in self.tags.items():
            if tag in value:
                return function(self, value)
        return self.plain(value)

    def plain(self, value: dict):
        return {k: self.decode(v) for k, v in value.items()}


# -- strict JSON, arrays inline -----------------------------------------------------------------------------
class InlineEncoder(JsonEncoder):
    """Strict JSON (``allow_nan=False`` holds): arrays as base64, non-finite floats and unknown types tagged."""

    def array(self, value):
        import numpy as np

        if value.dtype.kind in "biufc":
            data = np.ascontiguousarray(value)
            return {"__ndarray__": base64.b64encode(data.tobytes()).decode("ascii"),
                    "dtype": data.dtype.str, "shape": list(data.shape)}
        return [self.encode(v) for v in value.tolist()]

    def float(self, value):
        return value if math.isfinite(value) else {"__float__": repr(value)}

    def other(self, value):
        return {"__repr__": repr(value)}


def _inline_array(decoder, value):
    import numpy as np

    raw = base64.b64decode(value["__ndarray__"])
    return np.frombuffer(raw, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()


class InlineDecoder(JsonDecoder):
    tags = {
        "__ndarray__": _inline_array,
        "__float__": lambda decoder, value: float(value["__float__"]),
        "__repr__": lambda decoder, value: value["__repr__"],
    }


def encode_inline(value):
    """``value`` in the strict-JSON format (see the module docstring)."""
    return InlineEncoder().encode(value)


def decode_inline(value):
    """The value :func:`encode_inline` wrote (tuples come back as lists, keys as strings)."""
    return InlineDecoder().decode(value)


# -- arrays set aside ----------------------------------------------------------------------------------------
class AsideEncoder(JsonEncoder):
    """Arrays set aside in ``self.arrays`` ({name: array}); numpy scalars, tuples and dict keys kept exactly."""

    def __init__(self):
        self.arrays: dict[str, Any] = {}

    def array(self, value):
        if value.dtype.kind not in "biufcSU":
            raise ValueError(f"cannot save an array of dtype {value.dtype} (object arrays need pickling).")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = value
        return {"__array__": name}

    def scalar(self, value):  # numpy scalars keep their dtype
        if value.dtype.kind not in "biuf":
            raise ValueError(f"cannot save a numpy scalar of dtype {value.dtype}.")
        return {"__scalar__": value.dtype.str, "value": value.item()}

    def mapping(self, value):
        return {"__dict__": [[self.encode(k), self.encode(v)] for k, v in value.items()]}

    def tuple(self, value):
        return {"__tuple__": [self.encode(v) for v in value]}


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _aside_scalar(decoder, value):
    import numpy as np

    return np.dtype(value["__scalar__"]).type(value["value"])


class AsideDecoder(JsonDecoder):
    """Reads :class:`AsideEncoder`'s documents; ``arrays`` maps the names to the arrays stored beside them."""

    tags = {
        "__array__": lambda decoder, value: decoder.arrays[value["__array__"]],
        "__scalar__": _aside_scalar,
        "__dict__": lambda decoder, value: {_hashable(decoder.decode(k)): decoder.decode(v)
                                            for k, v in value["__dict__"]},
        "__tuple__": lambda decoder, value: tuple(decoder.decode(v) for v in value["__tuple__"]),
    }

    def __init__(self, arrays: Mapping[str, Any]):
        self.arrays = arrays

    def plain(self, value: dict):
        raise ValueError(f"unreadable entry: {sorted(value)[:5]}.")


__all__ = ["AsideDecoder", "AsideEncoder", "InlineDecoder", "InlineEncoder", "JsonDecoder", "JsonEncoder",
           "decode_inline", "encode_inline"]
