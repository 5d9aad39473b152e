"""Cancelling a feature extraction: it stops after the running batch and nothing partial is stored."""

from __future__ import annotations

import threading

import pytest

from tests.unit.test_extract import Tiny
from transvis.features.extract import ExtractionCancelled, extract_features
from transvis.models import load_model
from transvis.pipeline import get_features
from transvis.store import FeatureStore

MODEL = "test_resnet.random_init"  # timm's tiny test architecture, random weights: no download


@pytest.fixture(scope="module")
def resnet():
    return load_model("test_resnet", pretrained=False)


def test_a_callable_cancel_stops_after_the_running_batch(resnet):
    batches = []
    with pytest.raises(ExtractionCancelled, match="after 8 of 20 images"):
        extract_features(resnet, Tiny(n=20), batch_size=4, device="cpu", input_size=32, num_workers=0,
                         progress=lambda done, *_: batches.append(done), cancel=lambda: len(batches) >= 2)
    assert batches == [4, 8]  # the batch running when cancel was asked finished; no further batch started


def test_an_event_set_before_the_start_runs_no_batch(resnet):
    batches, event = [], threading.Event()
    event.set()
    with pytest.raises(ExtractionCancelled, match="before it started"):
        extract_features(resnet, Tiny(n=8), batch_size=4, device="cpu", input_size=32, num_workers=0,
                         progress=lambda done, *_: batches.append(done), cancel=event)
    assert batches == []


def test_a_cancel_asked_during_the_last_batch_keeps_the_finished_result(resnet):
    batches = []
    out = extract_features(resnet, Tiny(n=8), batch_size=4, device="cpu", input_size=32, num_workers=0,
                           progress=lambda done, *_: batches.append(done), cancel=lambda: len(batches) == 2)
    assert batches == [4, 8] and out.features.shape[0] == 8


def _nothing_on_disk(root) -> bool:
    features = root / "features"
    return not features.exists() or not any(features.iterdir())


def test_cancelled_extraction_stores_nothing_and_a_rerun_extracts_everything(tmp_path):
    store, data = FeatureStore(tmp_path), Tiny(n=12)
    batches = []
    with pytest.raises(ExtractionCancelled):
        get_features(MODEL, data, input_size=32, device="cpu", batch_size=4, store=store,
                     progress=lambda done, *_: batches.append(done), cancel=lambda: bool(batches))
    assert batches == [4]
    assert store.list() == [] and _nothing_on_disk(tmp_path)
    features, cached = get_features(MODEL, data, input_size=32, device="cpu", batch_size=4, store=store,
                                    progress=False)
    assert not cached and features.features.shape[0] == 12
    assert len(store.list()) == 1


class _ScriptInterrupted(BaseException):
    """Stands for Streamlit's RerunException: what a click on the Setup page's Cancel button raises inside
    the running script (at its next ``st.progress`` call, i.e. in the progress callback)."""


def test_an_interrupt_raised_by_the_progress_callback_stores_nothing(tmp_path):
    store = FeatureStore(tmp_path)

    def progress(done, total, rate, eta):
        if done >= 4:
            raise _ScriptInterrupted

    with pytest.raises(_ScriptInterrupted):
        get_features(MODEL, Tiny(n=12), input_size=32, device="cpu", batch_size=4, store=store, progress=progress)
    assert store.list() == [] and _nothing_on_disk(tmp_path)
