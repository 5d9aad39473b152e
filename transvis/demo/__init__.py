"""The built-in demos the app opens on, and the prepared demo's caches.

* :func:`load_demo` (``fashion_mnist``) — the demo pool's real features on a demo target (Fashion-MNIST by
  default, or MNIST-5k), prepared once by the setup command (:func:`prepare_demo`, ``transvis demo prepare``)
  and read from the cache. The pool's tiers (pretrained, random-init twins, layer taps) and the targets are
  ``pool``'s; :func:`tau_across_targets` (``targets``) summarises the metrics' agreement over the targets.
* :func:`load_demo_ranking`, :func:`load_demo_method_rankings` (``ranking_cache``) — the persisted default
  rankings; :func:`load_demo_trajectories` (``trajectory_cache``) — the dynamics pages' default trajectories;
  :func:`load_demo_overviews` (``overview_cache``) — the Model deep-dive's UMAP maps of every pool member.
  Each is keyed by everything it depends on and ignored when stale.
* :func:`synthetic_demo` (``synthetic``) — a pool of synthetic "models" with known, graded class separation:
  instant, needs no weights, and useful for teaching.

The files of the prepared demo and their paths are in ``_files``.
"""

from transvis.demo._files import (
    DEFAULT_TARGET,
    DEMO_MANIFEST_FORMAT,
    demo_manifest_path,
    demo_overviews_path,
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
from transvis.demo.overview_cache import (
    DEMO_OVERVIEWS_FORMAT,
    compute_demo_overviews,
    demo_overviews_key,
    load_demo_overviews,
    load_prepared_overviews,
    save_demo_overviews,
)
from transvis.demo.pool import (
    DEMO_RANDOM_INIT_BASES,
    DEMO_TAP_MODEL,
    DEMO_TAPS,
    DEMO_TARGETS,
    TIER_LAYER,
    TIER_PRETRAINED,
    TIER_RANDOM,
    DemoTarget,
    PoolMember,
    demo_member,
    demo_pool_ids,
    demo_pool_members,
    demo_target,
    pool_features,
    tiers_of,
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
from transvis.demo.targets import tau_across_targets
from transvis.demo.trajectory_cache import (
    DEMO_TRAJECTORIES_FORMAT,
    compute_demo_trajectories,
    demo_trajectories_key,
    load_demo_trajectories,
    save_demo_trajectories,
)

__all__ = [
    "DEFAULT_TARGET", "DEMO_RANDOM_INIT_BASES", "DEMO_TAP_MODEL", "DEMO_TAPS", "DEMO_TARGETS", "TIER_LAYER",
    "TIER_PRETRAINED", "TIER_RANDOM", "DemoTarget", "PoolMember", "demo_member", "demo_pool_ids",
    "demo_pool_members", "demo_target", "pool_features", "tau_across_targets", "tiers_of",
    "DEMO_DATASET", "DEMO_FINETUNE_MAX_PER_CLASS", "DEMO_GROUNDTRUTH_CSV", "DEMO_INPUT_SIZE",
    "DEMO_MANIFEST_FORMAT", "DEMO_MAX_PER_CLASS", "DEMO_RANKING_FORMAT", "DEMO_SEED", "DEMO_SPLIT",
    "DEMO_TRAJECTORIES_FORMAT", "Demo", "DemoNotPreparedError", "compute_demo_ranking",
    "compute_demo_trajectories", "compute_method_rankings", "demo_dataset", "demo_manifest_path",
    "demo_ranking_key", "demo_ranking_path", "demo_trajectories_key", "demo_trajectories_path", "load_demo",
    "load_demo_method_rankings", "load_demo_ranking", "load_demo_trajectories", "prepare_demo",
    "save_demo_ranking", "save_demo_trajectories", "synthetic_demo",
    "DEMO_OVERVIEWS_FORMAT", "compute_demo_overviews", "demo_overviews_key", "demo_overviews_path",
    "load_demo_overviews", "load_prepared_overviews", "save_demo_overviews",
]
