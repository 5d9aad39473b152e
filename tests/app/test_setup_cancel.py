"""Cancelling the Setup page's extraction: a click on Cancel (a rerun request while the extraction runs)
interrupts it at the next progress update; nothing partial is stored and no pool is built."""

import streamlit as st

from tests.app.conftest import errors

SETUP = "pages/setup.py"
MODELS = ["test_resnet.random_init", "test_efficientnet.random_init"]  # timm's tiny test nets: no weights needed


def test_cancel_stops_the_extraction_and_stores_nothing(app, tmp_path, monkeypatch):
    import transvis.features.extract as extract
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    from transvis.store import FeatureStore

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    batches = []
    update = extract._Progress.update

    def update_then_click_cancel(self, done, step):
        batches.append(done)
        update(self, done, step)  # draws the page's progress bar: where a pending rerun interrupts the script
        if len(batches) == 1:
            # What the Cancel button does while the script runs: its on_click flag, and a rerun request that
            # Streamlit honours at the script's next call into st (the next batch's progress update).
            st.session_state["setup_cancel"] = True
            ctx = get_script_run_ctx()
            ctx.script_requests.request_rerun(RerunData(query_string=ctx.query_string,
                                                        page_script_hash=ctx.page_script_hash))

    monkeypatch.setattr(extract._Progress, "update", update_then_click_cancel)
    at = app(SETUP)
    at.selectbox(key="w:setup_builtin").set_value("digits").run()
    at.number_input(key="w:setup_max_per_class").set_value(4).run()  # 40 images
    at.number_input(key="w:setup_input_size").set_value(32).run()
    at.number_input(key="w:setup_batch").set_value(8).run()
    for model in MODELS:
        at.text_input(key="setup_typed_model").input(model).run()
        at.button(key="setup_add_model").click().run()
    at.button(key="setup_extract").click().run()

    assert not at.exception and not errors(at), (at.exception, errors(at))
    # the batch running at the click finished; its progress update stopped the script (3 more batches to go)
    assert batches == [8, 16]
    assert any("Extraction cancelled" in w.value for w in at.warning)
    assert not any(" ready: " in s.value for s in at.success)  # the second model never started either
    assert FeatureStore(tmp_path / "cache").list() == []
    assert at.session_state["active_pool"].startswith("synthetic:")
