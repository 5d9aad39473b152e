"""Ground-truth accuracies as CSV: ``model,dataset,regime,accuracy,protocol,...``.

One row per (model, dataset, regime). ``accuracy`` is a fraction in [0, 1]; ``protocol`` is a JSON object
(seed, split, lr grid, epochs, input size, ...) or free text for user-supplied numbers. Regimes are
``linear_probe`` and ``finetune`` (spellings such as "linear probe", "fine-tune" are normalised); other
non-empty names are kept as given, for accuracies measured some other way.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

REQUIRED_COLUMNS = ("model", "dataset", "regime", "accuracy")
COLUMNS = ("model", "dataset", "regime", "accuracy", "protocol", "n_train", "n_val", "n_test", "seconds", "created")
REGIMES = ("linear_probe", "finetune")
_REGIME_ALIASES = {
    "linear_probe": "linear_probe", "linearprobe": "linear_probe", "linear": "linear_probe", "lp": "linear_probe",
    "finetune": "finetune", "fine_tune": "finetune", "finetuning": "finetune", "fine_tuning": "finetune",
    "ft": "finetune",
}


@dataclass
class GroundTruthRow:
    """One measured (or user-supplied) accuracy of one model on one dataset under one regime."""

    model: str
    dataset: str
    regime: str
    accuracy: float
    protocol: Any = ""
    extra: dict[str, str] = field(default_factory=dict)

    def as_csv_dict(self) -> dict[str, str]:
        protocol = self.protocol if isinstance(self.protocol, str) else json.dumps(self.protocol, sort_keys=True)
        return {"model": self.model, "dataset": self.dataset, "regime": self.regime,
                "accuracy": repr(float(self.accuracy)), "protocol": protocol,
                **{k: str(v) for k, v in self.extra.items()}}


def normalise_regime(regime: str) -> str:
    """Canonical regime name: "Linear probe" -> "linear_probe", "fine-tune" -> "finetune"; others lower-cased."""
    key = re.sub(r"[\s\-]+", "_", str(regime).strip().lower())
    return _REGIME_ALIASES.get(key, key)


def dataset_matches(row_dataset: str, dataset: str) -> bool:
    """True when ``row_dataset`` is ``dataset`` or ``dataset`` is its base name (the part before ':' or '/'),
    e.g. "fashion-mnist" matches "fashion-mnist:test"."""
    return row_dataset == dataset or re.split(r"[:/]", row_dataset, maxsplit=1)[0] == dataset


def write_groundtruth_csv(rows: Iterable[GroundTruthRow], path: str | os.PathLike, merge: bool = True) -> Path:
    """Write ``rows`` to ``path`` atomically. With ``merge``, rows already in the file for other
    (model, dataset, regime) triples are kept and same triples are replaced."""
    path = Path(path)
    rows = list(rows)
    if merge and path.is_file():
        new = {(r.model, r.dataset, r.regime) for r in rows}
        rows = [r for r in read_groundtruth_csv(path) if (r.model, r.dataset, r.regime) not in new] + rows
    extra_cols = sorted({k for r in rows for k in r.extra} - set(COLUMNS))
    columns = list(COLUMNS) + extra_cols
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="")
            writer.writeheader()
            for row in sorted(rows, key=lambda r: (r.dataset, r.regime, r.model)):
                writer.writerow(row.as_csv_dict())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def read_groundtruth_csv(path: str | os.PathLike) -> list[GroundTruthRow]:
    """Read and validate a ground-truth CSV; ``ValueError`` names the line and the fix for any problem.

    Required columns: model, dataset, regime, accuracy (header names are case- and space-insensitive);
    protocol and any other columns are kept. Accuracies must be finite fractions in [0, 1];
    (model, dataset, regime) must be unique.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"ground-truth file {path} does not exist.")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path} is empty; it needs a header line: {','.join(COLUMNS[:5])}") from None
        names = [h.strip().lower().replace(" ", "_") for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ValueError(
                f"{path} lacks the column(s) {', '.join(missing)}; the header must include "
                f"{','.join(REQUIRED_COLUMNS)} (optionally protocol,...). Found: {','.join(header)}"
            )
        rows, seen = [], {}
        for line_no, values in enumerate(reader, start=2):
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(names):
                raise ValueError(
                    f"{path}, line {line_no}: {len(values)} fields but the header has {len(names)}; quote fields "
                    "that contain commas (e.g. the JSON protocol)."
                )
            record = {n: v.strip() for n, v in zip(names, values, strict=True)}
            for col in ("model", "dataset", "regime"):
                if not record[col]:
                    raise ValueError(f"{path}, line {line_no}: empty {col}.")
            try:
                accuracy = float(record["accuracy"].rstrip("%")) if record["accuracy"] else math.nan
            except ValueError:
                raise ValueError(
                    f"{path}, line {line_no}: accuracy {record['accuracy']!r} is not a number."
                ) from None
            if record["accuracy"].endswith("%") or (math.isfinite(accuracy) and 1.0 < accuracy <= 100.0):
                raise ValueError(
                    f"{path}, line {line_no}: accuracy {record['accuracy']} looks like a percentage; write it as a "
                    "fraction in [0, 1] (e.g. 0.875 for 87.5%)."
                )
            if not (math.isfinite(accuracy) and 0.0 <= accuracy <= 1.0):
                raise ValueError(
                    f"{path}, line {line_no}: accuracy must be a fraction in [0, 1], got {record['accuracy']!r}."
                )
            regime = normalise_regime(record["regime"])
            triple = (record["model"], record["dataset"], regime)
            if triple in seen:
                raise ValueError(
                    f"{path}, line {line_no}: duplicate of line {seen[triple]} (model {triple[0]!r}, dataset "
                    f"{triple[1]!r}, regime {regime!r}); keep one row per model, dataset and regime."
                )
            seen[triple] = line_no
            protocol: Any = record.get("protocol", "")
            if protocol.startswith("{"):
                try:
                    protocol = json.loads(protocol)
                except json.JSONDecodeError:
                    pass  # free text is allowed
            extra = {k: v for k, v in record.items() if k not in REQUIRED_COLUMNS and k != "protocol"}
            rows.append(GroundTruthRow(record["model"], record["dataset"], regime, accuracy, protocol, extra))
    if not rows:
        raise ValueError(f"{path} has a header but no rows.")
    return rows


def test_sizes_for(source: str | os.PathLike | Sequence[GroundTruthRow], regime: str = "linear_probe",
                   dataset: str | None = None) -> dict[str, int]:
    """``{model: n_test}``: how many test samples each accuracy of :func:`groundtruth_for` was measured on
    (its binomial noise; see :mod:`transvis.uncertainty`). Rows without a positive integer ``n_test`` are left
    out."""
    rows = read_groundtruth_csv(source) if isinstance(source, (str, os.PathLike)) else list(source)
    chosen = _rows_for(rows, regime, dataset)
    out = {}
    for row in chosen:
        try:
            n = int(float(row.extra.get("n_test", "") or 0))
        except ValueError:
            continue
        if n > 0:
            out[row.model] = n
    return out


def _rows_for(rows: list[GroundTruthRow], regime: str, dataset: str | None) -> list[GroundTruthRow]:
    regime = normalise_regime(regime)
    in_regime = [r for r in rows if r.regime == regime]
    if not in_regime:
        have = sorted({r.regime for r in rows})
        raise ValueError(f"no ground truth for regime {regime!r}; available: {', '.join(have) or 'none'}.")
    if dataset is not None:
        chosen = [r for r in in_regime if dataset_matches(r.dataset, dataset)]
        if not chosen:
            have = sorted({r.dataset for r in in_regime})
            raise ValueError(f"no {regime} ground truth for dataset {dataset!r}; available: {', '.join(have)}.")
    else:
        chosen = in_regime
    datasets = sorted({r.dataset for r in chosen})
    if len(datasets) > 1:
        raise ValueError(f"{regime} ground truth covers several datasets ({', '.join(datasets)}); pass dataset=...")
    return chosen


def groundtruth_for(source: str | os.PathLike | Sequence[GroundTruthRow], regime: str = "linear_probe",
                    dataset: str | None = None) -> dict[str, float]:
    """``{model: accuracy}`` for one regime (and dataset) from a CSV path or rows.

    dataset : exact id or base name (see :func:`dataset_matches`); may be omitted when the regime's rows cover
    one dataset only.
    """
    rows = read_groundtruth_csv(source) if isinstance(source, (str, os.PathLike)) else list(source)
    return {r.model: float(r.accuracy) for r in _rows_for(rows, regime, dataset)}
