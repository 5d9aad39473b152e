"""Issue 13, case 10: kill -9 during an overwrite, repeated: the old or the new entry is always readable."""

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from transvis.store import CorruptEntryWarning, FeatureStore

from ._store_helpers import featureset, parts

# The child overwrites one entry in a loop, alternating two versions. Every os.rename takes 40 ms longer
# (a slow file system), which widens any instant where neither version is in place.
CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[2])
from transvis.store import FeatureStore
from tests.robustness._store_helpers import featureset, parts

real_rename = os.rename
def slow_rename(src, dst):
    real_rename(src, dst)
    time.sleep(0.04)
os.rename = slow_rename

store = FeatureStore(sys.argv[1])
store.put(parts(), featureset(0))
print("ready", flush=True)
i = 0
while True:
    i += 1
    store.put(parts(), featureset(i % 2), overwrite=True)
"""


def test_kill_during_overwrite_never_loses_both_versions(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    versions = [featureset(seed).features.astype(np.float32) for seed in (0, 1)]
    rng = np.random.default_rng(0)
    for iteration in range(10):
        cache = tmp_path / f"cache{iteration}"
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(cache), str(repo)], stdout=subprocess.PIPE,
                                 text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        try:
            assert child.stdout.readline().strip() == "ready", "the writer process did not start"
            # let it overwrite a few times, then kill at an arbitrary instant
            import time

            time.sleep(float(rng.uniform(0.05, 0.4)))
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(30)
            child.stdout.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error", CorruptEntryWarning)
            got = FeatureStore(cache).get(parts())
        assert got is not None, f"iteration {iteration}: the kill lost the old entry and the new one"
        assert any(np.array_equal(got.features, v) for v in versions)
