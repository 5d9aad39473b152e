"""Setup page: with a cluster configured (TRANSVIS_CLUSTER), "Extract on the cluster" hands the models to
transvis.cluster and the pool is built from what comes back; without one, the option is not shown."""

import numpy as np

from tests.app.conftest import errors

SETUP = "pages/setup.py"


def _choose(at):
    at.selectbox(key="w:setup_builtin").set_value("digits").run()
    at.number_input(key="w:setup_max_per_class").set_value(3).run()
    at.text_input(key="setup_typed_model").input("test_resnet.random_init").run()
    at.button(key="setup_add_model").click().run()
    assert not at.exception and not errors(at), errors(at)
    return at


def test_no_cluster_option_without_a_configured_address(app, monkeypatch):
    monkeypatch.delenv("TRANSVIS_CLUSTER", raising=False)
    at = _choose(app(SETUP))
    assert not [c for c in at.checkbox if c.key == "w:setup_cluster"]


def test_extract_on_the_configured_cluster_builds_the_pool(app, monkeypatch):
    import transvis.cluster
    from transvis.cluster import ClusterExtraction, ClusterProgress
    from transvis.features.featureset import FeatureSet

    calls = []

    def fake(address, model_ids, dataset, *, input_size=None, batch_size=64, cache_dir=None, progress=None):
        calls.append((address, list(model_ids), len(dataset), batch_size))
        progress(ClusterProgress("extraction", 1, 1, 0, 0, 2, 0.0, model_ids[0]))
        rng = np.random.default_rng(0)
        got = [FeatureSet(features=rng.normal(size=(len(dataset), 8)), labels=dataset.labels,
                          class_names=dataset.class_names, model_id=m, dataset_id=dataset.dataset_id)
               for m in model_ids]
        run = ClusterExtraction(keys={m: "k" * 20 for m in model_ids}, resumed=[], extracted=list(model_ids),
                                retried={}, failed={})
        return got, run

    monkeypatch.setenv("TRANSVIS_CLUSTER", "ray://head.example:10001")
    monkeypatch.setattr(transvis.cluster, "features_from_cluster", fake)
    at = _choose(app(SETUP))
    box = at.checkbox(key="w:setup_cluster")
    assert box.value is True and "ray://head.example:10001" in box.label
    at.button(key="setup_extract").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert calls == [("ray://head.example:10001", ["test_resnet.random_init"], 30, 64)]
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    assert pool.models == ["test_resnet.random_init"] and pool.n_samples == 30
    assert any("extracted on the cluster" in s.value for s in at.success)


def test_a_malformed_cluster_address_is_a_readable_error(app, monkeypatch):
    monkeypatch.setenv("TRANSVIS_CLUSTER", "dask://nope")
    at = app(SETUP)
    assert not at.exception
    assert any("ray://HOST:PORT" in e for e in errors(at))
