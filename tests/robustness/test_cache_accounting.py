"""Issue 13, case 11 (the store's part): a dead writer's temp folder is swept promptly, not after an hour, and
`transvis cache list` / `cache clear` account for every folder transvis writes under the cache (a zip bomb's
gigabytes under datasets/ included), with sizes."""

import os
import subprocess
import sys
import time
from pathlib import Path

from transvis.cli import main
from transvis.store import FeatureStore

from ._store_helpers import featureset, parts

# A writer killed after its temp folder is complete, just before the rename that publishes it.
KILLED_WRITER = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
import transvis.store.store as module
from tests.robustness._store_helpers import featureset, parts
module.os.rename = lambda src, dst: os._exit(9)
module.FeatureStore(sys.argv[1]).put(parts(), featureset())
"""


def test_dead_writers_temp_folder_is_swept_within_a_minute(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path), str(repo)], timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 9
    store = FeatureStore(tmp_path)
    [leftover] = list((store.root / ".tmp").iterdir())
    a_minute_ago = time.time() - 60
    os.utime(leftover, (a_minute_ago, a_minute_ago))

    store.list()  # any use of the store sweeps
    assert not leftover.exists()


def _fill(path: Path, n_bytes: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * n_bytes)


def _age(tree: Path, seconds: float) -> None:
    """Date everything in ``tree`` ``seconds`` back, as if its writer had died then."""
    then = time.time() - seconds
    for path in [*tree.rglob("*"), tree]:
        os.utime(path, (then, then))


def test_cache_list_and_clear_cover_datasets_and_temp_space(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path))
    FeatureStore(tmp_path).put(parts(), featureset())
    _fill(tmp_path / "datasets" / "zip-0123456789abcdef" / "bomb" / "a" / "zeros.bmp", 3_000_000)  # a zip bomb
    _fill(tmp_path / "datasets" / ".tmp-zip-feedface-1a2b3c4d" / "a" / "part.bmp", 2_000_000)
    _age(tmp_path / "datasets" / ".tmp-zip-feedface-1a2b3c4d", 600)
    _fill(tmp_path / "zoo" / "resnet.safetensors", 1_000_000)
    _fill(tmp_path / "demo" / "manifest.json", 10)

    assert main(["cache", "list"]) == 0
    listing = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in listing.splitlines() if line.startswith("  ")}
    assert rows["datasets"] == "3.0" and rows["temp"] == "2.0" and rows["zoo"] == "1.0"

    assert main(["cache", "clear"]) == 0
    assert "deleted 1 entries" in capsys.readouterr().out
    assert not any((tmp_path / "datasets").iterdir())  # the extraction and the dead extraction's temp folder
    assert FeatureStore(tmp_path).list() == []
    assert (tmp_path / "zoo" / "resnet.safetensors").is_file() and (tmp_path / "demo" / "manifest.json").is_file()
