"""transvis.cluster: rank_models(executor="ray") gives the serial table; addresses; fast unreachable error;
Ray stays unimported without the switch."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.unit.test_ranking_parallel import METRICS, _assert_same_tables, _relu_pool
from tests.cluster.conftest import RAY_MISSING
from transvis.cluster import ClusterAddress, ClusterUnreachable, connect, parse_address
from transvis.ranking import rank_models

pytestmark = pytest.mark.xdist_group("ray")


def test_nothing_imports_ray_without_the_switch():
    code = ("import sys, transvis, transvis.ranking, transvis.cli, transvis.pipeline, transvis.cluster;"
            "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_addresses_parse_and_a_wrong_one_names_the_forms():
    assert parse_address("ray") == ClusterAddress("local")
    assert parse_address("ray=auto").ray_address == "auto"
    assert parse_address("ray://10.0.0.5:6000").ray_address == "ray://10.0.0.5:6000"
    assert parse_address("ray://head").port == 10001
    with pytest.raises(ValueError, match="ray://HOST:PORT"):
        parse_address("dask://x")
    with pytest.raises(ValueError, match="ray://HOST:PORT"):
        parse_address("ray://head:notaport")


def test_an_unreachable_address_fails_within_seconds(monkeypatch):
    ray = pytest.importorskip("ray", reason=RAY_MISSING)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as a fresh CLI process would be
    start = time.monotonic()
    # 192.0.2.0/24 is TEST-NET-1 (never routed): the connection times out rather than being refused.
    with pytest.raises(ClusterUnreachable, match=r"ray://192\.0\.2\.1:10001.*ray start --head"):
        connect("ray://192.0.2.1:10001", timeout_s=1.5)
    with pytest.raises(ClusterUnreachable, match="ray start --head"):
        connect("ray://127.0.0.1:9", timeout_s=1.5)  # nothing listens on the discard port: refused
    assert time.monotonic() - start < 10


def test_ray_gives_the_serial_table(local_ray):
    pool, references = _relu_pool()
    kwargs = dict(params={"fsp": {"variant": "official"}}, model_params=references, backend="numpy",
                  blas_threads=1)
    serial = rank_models(pool, METRICS, **kwargs)
    through_ray = rank_models(pool, METRICS, executor="ray", **kwargs)
    _assert_same_tables(serial, through_ray, exact=False)
    assert serial.skipped and serial.skipped == through_ray.skipped  # LEEP without source probabilities


def test_ray_records_a_failing_model_and_raises_it_with_on_error_raise(local_ray):
    pool, _ = _relu_pool(n_models=3)
    broken = pool["model-1"]
    pool["model-1"] = (np.full_like(broken.features, np.nan), broken.labels)
    serial = rank_models(pool, ["logme", "hscore"], backend="numpy")
    through_ray = rank_models(pool, ["logme", "hscore"], backend="numpy", executor="ray")
    assert [f[:2] for f in through_ray.failed] == [("model-1", "logme"), ("model-1", "hscore")]
    assert through_ray.failed == serial.failed
    with pytest.raises(ValueError):
        rank_models(pool, ["logme"], backend="numpy", executor="ray", on_error="raise")


def _npz_pool(tmp_path, n_models=3):
    pool, _ = _relu_pool(n_models=n_models)
    paths = []
    for name, fs in pool.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, features=fs.features, labels=fs.labels)
        paths.append(str(path))
    return paths


def test_cli_score_with_cluster_prints_the_serial_scores(local_ray, tmp_path):
    from transvis.cli import main

    paths = _npz_pool(tmp_path)
    args = ["score", "--features", *paths, "--metrics", "logme,hscore", "--backend", "numpy"]
    assert main([*args, "--json", str(tmp_path / "serial.json")]) == 0
    assert main([*args, "--cluster", "ray", "--json", str(tmp_path / "ray.json")]) == 0

    serial = json.loads((tmp_path / "serial.json").read_text())["models"]
    through_ray = json.loads((tmp_path / "ray.json").read_text())["models"]
    assert [e["model"] for e in serial] == [e["model"] for e in through_ray] == ["model-0", "model-1", "model-2"]
    assert [e["ranks"] for e in serial] == [e["ranks"] for e in through_ray]
    np.testing.assert_allclose([list(e["scores"].values()) for e in through_ray],
                               [list(e["scores"].values()) for e in serial], rtol=1e-12)


def test_cli_cluster_with_an_unreachable_address_exits_2_naming_the_fix(tmp_path, capsys, monkeypatch):
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    from transvis.cli import main

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    start = time.monotonic()
    code = main(["score", "--features", *_npz_pool(tmp_path, 2), "--metrics", "logme",
                 "--cluster", "ray://127.0.0.1:9"])
    assert code == 2 and time.monotonic() - start < 10
    assert "no Ray cluster answers at ray://127.0.0.1:9" in capsys.readouterr().err


def test_a_seven_model_demo_pool_with_noise_and_groundtruth_ranks_the_same_through_ray(local_ray):
    from transvis.demo import synthetic_demo
    from transvis.metrics import default_metrics

    demo = synthetic_demo(n_models=7, seed=3)
    kwargs = dict(groundtruth=demo.groundtruth["ncm_heldout"], resamples=3, backend="numpy", blas_threads=1)
    serial = rank_models(demo.features, default_metrics(), **kwargs)
    through_ray = rank_models(demo.features, default_metrics(), executor="ray", **kwargs)
    _assert_same_tables(serial, through_ray, exact=False)
    assert serial.weighted_tau == pytest.approx(through_ray.weighted_tau, rel=1e-12, nan_ok=True)
    for metric, noise in serial.noise.items():  # the subsets' replicates, computed in the tasks, agree too
        for model, values in noise.replicates.items():
            np.testing.assert_allclose(through_ray.noise[metric].replicates[model], values, rtol=1e-12)
