"""Time the Model deep-dive's UMAP maps: what ``transvis demo prepare`` spends on them per target, and the
first fit's extra cost (umap-learn's import, numba's compilation) that the app's background job pays.

    .venv/bin/python bench/umap_overview.py                        # the prepared demo, every target (~3 min each)
    .venv/bin/python bench/umap_overview.py --targets mnist-5k     # one target
    .venv/bin/python bench/umap_overview.py --synthetic 3000x1280  # a synthetic N x D pool member instead

Prints ``import umap`` seconds, one row per model (N, D, fit seconds; the first includes numba's compilation)
and the total per target, i.e. ``compute_demo_overviews``. Nothing is written to the cache.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="*", default=None, help="demo targets (default: all)")
    parser.add_argument("--synthetic", default=None, help="NxD: time one synthetic feature set instead")
    args = parser.parse_args()

    start = time.perf_counter()
    import umap  # noqa: F401

    print(f"import umap: {time.perf_counter() - start:.1f} s", flush=True)
    from transvis.demo import DEMO_TARGETS, Demo, compute_demo_overviews, load_demo

    if args.synthetic:
        from transvis.features import FeatureSet

        import numpy as np

        n, d = (int(v) for v in args.synthetic.split("x"))
        rng = np.random.default_rng(0)
        labels = np.arange(n) % 10
        x = np.maximum(rng.normal(size=(n, d)) + rng.normal(size=(10, d))[labels] * 2, 0).astype(np.float32)
        fs = FeatureSet(x, labels, [str(c) for c in range(10)], "synthetic", "synthetic")
        demos = {"synthetic": Demo(name="synthetic", features={"first": fs, "second": fs})}
    else:
        demos = {t: load_demo(target=t) for t in (args.targets or list(DEMO_TARGETS))}
    for target, demo in demos.items():
        last = [time.perf_counter()]

        def row(done, model, demo=demo, last=last):
            now = time.perf_counter()
            fs = demo.features[model]
            print(f"  {done:2d}/{len(demo.features)} {model:45s} N={fs.n_samples} D={fs.n_dims:5d} "
                  f"{now - last[0]:6.1f} s", flush=True)
            last[0] = now

        start = time.perf_counter()
        compute_demo_overviews(demo, progress=row)
        print(f"{target}: {len(demo.features)} maps in {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
