"""A read-only dict whose values are computed on first read: traces whose costly entries most callers never read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


class LazyMap(dict):
    """A read-only ``dict`` whose values are computed on first access and kept.

    Used for per-frame quantities, per-sample predictions and expensive spectra that the app reads for one
    displayed model at a time: ``frame.predicted[model]`` costs nothing until read. It is a ``dict`` subclass
    (``isinstance(x, dict)`` holds) whose every key is present; ``[]``, ``get``, iteration, ``items`` and
    ``values`` compute what they touch.
    """

    def __init__(self, keys, compute: Callable[[Any], Any]):
        super().__init__()
        self._keys = list(keys)
        self._compute = compute

    def __getitem__(self, key):
        if not dict.__contains__(self, key):
            if key not in self._keys:
                raise KeyError(key)
            dict.__setitem__(self, key, self._compute(key))
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self._keys else default

    def __contains__(self, key) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self):
        return list(self._keys)

    def items(self):
        return [(key, self[key]) for key in self._keys]

    def values(self):
        return [self[key] for key in self._keys]

    def copy(self) -> "LazyMap":
        """A new LazyMap over the same keys sharing what is computed so far (nothing is computed to copy it;
        ``dict(lazy)`` would compute every value)."""
        out = LazyMap(self._keys, self._compute)
        for key in dict.keys(self):
            dict.__setitem__(out, key, dict.__getitem__(self, key))
        return out

    def __reduce__(self):
        """Pickled (Ray, multiprocessing, ``copy.deepcopy``) as a plain dict with every value computed: the
        computing closure need not travel, and unpickling never writes into a read-only map."""
        return dict, (dict(self.items()),)

    def computed(self) -> list:
        """The keys whose values have been computed so far."""
        return list(dict.keys(self))

    def __setitem__(self, key, value):
        raise TypeError("LazyMap is read-only.")

    def __repr__(self) -> str:
        return f"LazyMap({len(self._keys)} keys; computed: {self.computed()})"
