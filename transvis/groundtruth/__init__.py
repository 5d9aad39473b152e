"""Ground truth: the transfer accuracy each model really reaches on a dataset, to rank the metrics against.

    from transvis.groundtruth import linear_probe, finetune, measure_groundtruth, groundtruth_for
    linear_probe(featureset).accuracy                      # frozen features -> logistic regression
    finetune(lambda: load_model(mid), dataset, input_size=64, epochs=1).accuracy
    measure_groundtruth(model_ids, "fashion-mnist", out_csv="gt.csv")   # both regimes -> CSV (merged)
    measure_groundtruth(..., out_csv="gt.csv", resume=True)              # skip rows already measured alike
    groundtruth_for("gt.csv", regime="linear_probe")       # {model: accuracy}

torch/timm are imported only by the fine-tuning and feature-pass functions.
"""

from .csvio import (
    COLUMNS,
    REGIMES,
    GroundTruthRow,
    dataset_matches,
    groundtruth_for,
    normalise_regime,
    read_groundtruth_csv,
    test_sizes_for,
    write_groundtruth_csv,
)
from .finetune import DEFAULT_LRS, FinetuneResult, finetune, with_new_head
from .linear_probe import DEFAULT_C_GRID, ProbeResult, linear_probe, linear_probe_accuracy
from .measure import embed_dataset, measure_groundtruth, protocol_matches, protocol_settings
from .splits import stratified_split

__all__ = [
    "COLUMNS",
    "DEFAULT_C_GRID",
    "DEFAULT_LRS",
    "FinetuneResult",
    "GroundTruthRow",
    "ProbeResult",
    "REGIMES",
    "dataset_matches",
    "embed_dataset",
    "finetune",
    "groundtruth_for",
    "linear_probe",
    "linear_probe_accuracy",
    "measure_groundtruth",
    "normalise_regime",
    "protocol_matches",
    "protocol_settings",
    "read_groundtruth_csv",
    "test_sizes_for",
    "stratified_split",
    "with_new_head",
    "write_groundtruth_csv",
]
