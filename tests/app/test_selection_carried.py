"""A lasso selection on an animated scatter survives the redraw a background result causes (synthetic demo,
Fisher space): Streamlit drops a chart's selection when its figure changes, here when the score noise arrives
and the race gains its whiskers, although the user did nothing. The table keeps the samples and says so; its
button clears them."""

from __future__ import annotations

import pytest

from tests.app._gates import WAIT, GatedNoise, session_jobs
from tests.app.conftest import errors
from tests.app.test_hover_scatter import _selected_table, _selection

CARRIED = "Selected before the chart was redrawn with a finished result"


@pytest.fixture
def gated(monkeypatch):
    """Every unit of SFDA without ConfMix (not the demo's precomputed variant) held until the test lets it
    through."""
    import transvis.noise_jobs

    gate = GatedNoise(transvis.noise_jobs.score_noise,
                      lambda metric, params: params.get("sfda", {}).get("confmix") is False)
    monkeypatch.setattr(transvis.noise_jobs, "score_noise", gate)
    return gate


def _anim(at) -> str:
    [spec] = [e.proto.spec for e in at.get("plotly_chart") if e.proto.id.endswith("fs_anim")]
    return spec


def _captions(at, fragment):
    return [c.value for c in at.caption if fragment in c.value]


def test_the_selection_is_kept_when_the_noise_redraws_the_chart_and_the_button_clears_it(app, gated,
                                                                                         fresh_results):
    at = app("pages/fisher_space.py")
    at.toggle(key="w:fs_confmix").set_value(False).run()
    assert not at.exception
    trajectories = session_jobs(at, "trajectory_job:")
    for job in trajectories.values():
        assert job.wait(WAIT).state == "done"
    [noise_job] = [j for j in session_jobs(at, "noise_job:").values() if j.tag[1] == "sfda"]
    at.run()
    assert not at.exception and not errors(at)
    before = _anim(at)
    assert noise_job.status().state == "running"  # the race has no whiskers yet

    at.session_state["fs_anim"] = _selection([4, 11, 30])
    at.run()
    assert _selected_table(at)["sample"].tolist() == [4, 11, 30] and not _captions(at, CARRIED)

    for _ in range(len(at.session_state["pools"][at.session_state["active_pool"]].models)):
        gated.step()
    assert noise_job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at)
    after = _anim(at)
    assert after != before  # redrawn: the race now judges order changes against the noise
    assert _selected_table(at)["sample"].tolist() == [4, 11, 30] and _captions(at, CARRIED)
    at.run()  # and on later runs, while the user does nothing
    assert _selected_table(at)["sample"].tolist() == [4, 11, 30]

    at.button(key="fs_selected_clear").click().run()
    assert not at.exception
    assert not [df for df in at.dataframe if "sample" in df.value.columns]
    assert _captions(at, "Box- or lasso-select samples on the scatter")
