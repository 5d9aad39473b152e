"""The built-in demos the app opens on, and the prepared demo's caches.

* :func:`load_demo` (``fashion_mnist``) — the offline demo zoo's real features on Fashion-MNIST, prepared once
  by the setup command (:func:`prepare_demo`, ``transvis demo prepare``) and read from the cache.
* :func:`load_demo_ranking`, :func:`load_demo_method_rankings` (``ranking_cache``) — the persisted default
  rankings; :func:`load_demo_trajectories` (``trajectory_cache``) — the dynamics pages' default trajectories.
  Each is keyed by everything it depends on and ignored when stale.
* :func:`synthetic_demo` (``synthetic``) — a pool of synthetic "models" with known, graded class separation:
  instant, needs no weights, and useful for teaching.

The files of the prepared demo and their paths are in ``_files``.
"""

from transvis.demo._files import (
    DEMO_MANIFEST_FORMAT,
    demo_manifest_path,
    demo_ranking_path,
    demo_trajectories_path,
)
from transvis.demo.fashion_mnist import (
    DEMO_DATASET,
    DEMO_FINETUNE_MAX_PER_CLASS,
    DEMO_GROUNDTRUTH_CSV,
    DEMO_INPUT_SIZE,
    DEMO_MAX_PER_CLASS,
    DEMO_SEED,
    DEMO_SPLIT,
    DemoNotPreparedError,
    demo_dataset,
    load_demo,
    prepare_demo,
)
from transvis.demo.ranking_cache import (
    DEMO_RANKING_FORMAT,
    compute_demo_ranking,
    compute_method_rankings,
    demo_ranking_key,
    load_demo_method_rankings,
    load_demo_ranking,
    save_demo_ranking,
)
from transvis.demo.synthetic import Demo, synthetic_demo
from transvis.demo.trajectory_cache import (
    DEMO_TRAJECTORIES_FORMAT,
    compute_demo_trajectories,
    demo_trajectories_key,
    load_demo_trajectories,
    save_demo_trajectories,
)

__all__ = [
    "DEMO_DATASET", "DEMO_FINETUNE_MAX_PER_CLASS", "DEMO_GROUNDTRUTH_CSV", "DEMO_INPUT_SIZE",
    "DEMO_MANIFEST_FORMAT", "DEMO_MAX_PER_CLASS", "DEMO_RANKING_FORMAT", "DEMO_SEED", "DEMO_SPLIT",
    "DEMO_TRAJECTORIES_FORMAT", "Demo", "DemoNotPreparedError", "compute_demo_ranking",
    "compute_demo_trajectories", "compute_method_rankings", "demo_dataset", "demo_manifest_path",
    "demo_ranking_key", "demo_ranking_path", "demo_trajectories_key", "demo_trajectories_path", "load_demo",
    "load_demo_method_rankings", "load_demo_ranking", "load_demo_trajectories", "prepare_demo",
    "save_demo_ranking", "save_demo_trajectories", "synthetic_demo",
]
