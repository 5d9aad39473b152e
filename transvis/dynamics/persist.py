"""Lossless save and load of trajectories: one ``.npz`` file holding, per trajectory, a JSON document of its
structure and every array it holds at its own dtype.

    save_trajectories(path, {"collapse": traj, ...}, header={...})   # atomic: readers see old or new file
    read_header(path)                 # the header and the names inside, without reading any trajectory
    load_trajectory(path, "collapse") # one trajectory, nothing else read

Everything lazy is computed before saving (each frame's quantities, predicted labels and per-sample
contributions, every model's ``info``), so a loaded trajectory holds plain dicts and costs nothing to read.
Projections keep their fitted linear map (``mean_``, ``components_``, spectra, ``shrinkage_``: what
``transform`` needs), not the helper objects they were fitted with (the Fisher plane's LDA). The trajectory's
score noise (``Trajectory.noise``) is kept as ``ScoreNoise.to_dict()`` (its subset scores included), so a
loaded trajectory announces exactly what the saved one did.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from transvis._jsoncodec import AsideDecoder, AsideEncoder
from transvis.projection import FisherProjection, PCAProjection
from transvis.store.atomic import write_atomic
from transvis.uncertainty import ScoreNoise

from .frames import Frame, Overtake, Trajectory

FORMAT = 2  # bump when the layout of a saved trajectory changes (2: noise, notes, tiers, within-noise changes)
_HEADER = "__header__"
_PROJECTIONS = {cls.__name__: cls for cls in (PCAProjection, FisherProjection)}


# -- one trajectory <-> (JSON document, arrays) ------------------------------------------------------------
def trajectory_to_parts(traj: Trajectory) -> tuple[dict, dict[str, np.ndarray]]:
    """``(document, arrays)``: the JSON-able structure of ``traj`` with ``{"__array__": name}`` in place of
    each array, and ``{name: array}``. Computes every lazy value first."""
    encoder = _Encoder()
    frames = [encoder.encode({
        "index": f.index, "value": f.value, "label": f.label, "positions": f.positions, "centres": f.centres,
        "scores": f.scores, "ranks": f.ranks, "rank_changes": f.rank_changes, "overtakes": f.overtakes,
        "within_noise": f.within_noise, "tiers": f.tiers, "note": f.note, "degenerate": f.degenerate,
        "quantities": {m: dict(f.quantities[m]) for m in f.quantities},
        "predicted": None if f.predicted is None else {m: f.predicted[m] for m in f.predicted},
        "contribution": None if f.contribution is None else {m: f.contribution[m] for m in f.contribution},
    }) for f in traj.frames]  # first: reading lazy quantities can append to traj.errors
    document = {
        "format": FORMAT,
        "method": traj.method, "metric": traj.metric, "metric_params": encoder.encode(traj.metric_params),
        "params": encoder.encode(traj.params), "parameter": traj.parameter, "models": list(traj.models),
        "labels": encoder.encode(np.asarray(traj.labels)), "frames": frames,
        "projection_name": traj.projection_name, "projection_fixed": bool(traj.projection_fixed),
        "projections": encoder.encode(traj.projections),
        "info": encoder.encode({m: dict(values) for m, values in traj.info.items()}),
        "scoring": encoder.encode(traj.scoring), "errors": encoder.encode([tuple(e) for e in traj.errors]),
        "seconds": float(traj.seconds), "cache_key": _encodable_or_none(encoder, traj.cache_key),
        "noise": None if traj.noise is None else traj.noise.to_dict(),
        "higher_is_better": bool(traj.higher_is_better),
    }
    return document, encoder.arrays


def trajectory_from_parts(document: Mapping, arrays: Mapping[str, np.ndarray]) -> Trajectory:
    """The :class:`Trajectory` that :func:`trajectory_to_parts` took apart."""
    if document.get("format") != FORMAT:
        raise ValueError(f"this trajectory was saved in format {document.get('format')!r}; this transvis reads "
                         f"format {FORMAT}. Compute it again (for the demo: `python -m transvis demo prepare`).")
    decode = _Decoder(arrays).decode
    frames = []
    for data in document["frames"]:
        f = decode(data)
        frames.append(Frame(
            index=f["index"], value=f["value"], label=f["label"], positions=f["positions"], centres=f["centres"],
            scores=f["scores"], ranks=f["ranks"], rank_changes=f["rank_changes"], overtakes=f["overtakes"],
            within_noise=f["within_noise"], tiers=f["tiers"], note=f["note"], degenerate=f["degenerate"],
            quantities=f["quantities"], predicted=f["predicted"], contribution=f["contribution"]))
    return Trajectory(
        method=document["method"], metric=document["metric"], metric_params=decode(document["metric_params"]),
        params=decode(document["params"]), parameter=document["parameter"], models=list(document["models"]),
        labels=decode(document["labels"]), frames=frames, projection_name=document["projection_name"],
        projection_fixed=document["projection_fixed"], projections=decode(document["projections"]),
        info=decode(document["info"]), scoring=decode(document["scoring"]),
        errors=[tuple(e) for e in decode(document["errors"])], seconds=document["seconds"],
        cache_key=decode(document["cache_key"]),
        noise=None if document["noise"] is None else ScoreNoise.from_dict(document["noise"]),
        higher_is_better=document["higher_is_better"],
    )


# -- files --------------------------------------------------------------------------------------------------
def save_trajectories(path, trajectories: Mapping[str, Trajectory], *, header: Mapping | None = None) -> Path:
    """Write ``{name: trajectory}`` and a JSON-able ``header`` (e.g. what they were computed from) to one
    ``.npz`` at ``path``, atomically. Returns the path."""
    path = Path(path)
    members: dict[str, np.ndarray] = {}
    names = []
    for name, traj in trajectories.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"trajectory names must be non-empty strings without '/'; got {name!r}.")
        document, arrays = trajectory_to_parts(traj)
        members[f"{name}/__doc__"] = _json_bytes(document)
        members.update({f"{name}/{key}": array for key, array in arrays.items()})
        names.append(name)
    members[_HEADER] = _json_bytes({"format": FORMAT, "names": names, "header": dict(header or {})})
    return write_atomic(path, lambda fh: np.savez(fh, **members), binary=True)


def read_header(path) -> dict | None:
    """``{"format", "names", "header"}`` of a file written by :func:`save_trajectories`; None when it is
    missing, unreadable or of another format."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            content = json.loads(archive[_HEADER].tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    return content if isinstance(content, dict) and content.get("format") == FORMAT else None


def load_trajectory(path, name: str) -> Trajectory:
    """The trajectory saved under ``name`` in ``path`` (only its own members are read)."""
    with np.load(path, allow_pickle=False) as archive:
        key = f"{name}/__doc__"
        if key not in archive.files:
            saved = sorted({f.split("/", 1)[0] for f in archive.files if f != _HEADER})
            raise ValueError(f"{path} holds no trajectory {name!r}; it holds {saved}.")
        document = json.loads(archive[key].tobytes().decode("utf-8"))
        prefix = f"{name}/"
        arrays = _LazyArrays(archive, prefix)
        return trajectory_from_parts(document, arrays)


class _LazyArrays(Mapping):
    """The arrays of one trajectory, read from the open archive when the document names them."""

    def __init__(self, archive, prefix):
        self._archive, self._prefix = archive, prefix

    def __getitem__(self, key):
        return self._archive[self._prefix + key]

    def __iter__(self):
        return (f[len(self._prefix):] for f in self._archive.files if f.startswith(self._prefix))

    def __len__(self):
        return sum(1 for _ in self)


def _json_bytes(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)  # NaN/inf kept as JSON's NaN tokens


# -- encoding: transvis._jsoncodec's arrays-aside format, plus overtakes and projections ----------------------
class _Encoder(AsideEncoder):
    """Nested dicts/lists/tuples/scalars/arrays/overtakes/projections -> JSON-able, arrays set aside."""

    def other(self, value):
        if isinstance(value, Overtake):
            return {"__overtake__": [value.model, value.passed]}
        if type(value).__name__ in _PROJECTIONS and isinstance(value, tuple(_PROJECTIONS.values())):
            state = {k: v for k, v in vars(value).items() if not k.startswith("_") and _plain(v)}
            return {"__projection__": type(value).__name__, "state": self.encode(state)}
        raise ValueError(f"cannot save a value of type {type(value).__name__} in a trajectory; trajectories hold "
                         "numbers, strings, arrays, dicts and lists.")


def _plain(value) -> bool:
    """Fitted state worth keeping on a projection: numbers, strings, None and arrays (not helper objects)."""
    return value is None or isinstance(value, (bool, int, float, str, np.generic, np.ndarray))


def _encodable_or_none(encoder: _Encoder, value):
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return None  # a caller's cache key that is not plain data is dropped, not an error
    return encoder.encode(value)


def _projection(decoder, value):
    cls = _PROJECTIONS.get(value["__projection__"])
    if cls is None:
        raise ValueError(f"unknown projection {value['__projection__']!r} in a saved trajectory.")
    projection = cls.__new__(cls)
    vars(projection).update(decoder.decode(value["state"]))
    return projection


class _Decoder(AsideDecoder):
    tags = {**AsideDecoder.tags,
            "__overtake__": lambda decoder, value: Overtake(*value["__overtake__"]),
            "__projection__": _projection}

    def plain(self, value: dict):
        raise ValueError(f"unreadable entry in a saved trajectory: {sorted(value)[:5]}.")


__all__ = ["FORMAT", "load_trajectory", "read_header", "save_trajectories", "trajectory_from_parts",
           "trajectory_to_parts"]
