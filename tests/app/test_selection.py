"""Reading chart selections (pages._selection): pure functions, no AppTest needed."""

from pages._selection import selected_indices, selected_labels, selected_values


def test_selection_readers():
    event = {"selection": {"points": [
        {"customdata": [5], "text": "m-1", "x": "class 2"},
        {"customdata": [3], "text": "m-1", "x": "class 1"},
        {"x": "class 2"},
        {"customdata": ["bad"]},
    ], "box": [], "lasso": []}}
    assert selected_indices(event) == [3, 5]
    assert selected_indices(event["selection"]) == [3, 5]
    assert selected_labels(event) == ["m-1", "bad"]  # text first, else customdata[0]
    assert selected_values(event, "x") == ["class 2", "class 1"]
    assert selected_indices(None) == [] and selected_labels({}) == [] and selected_values(None) == []


def test_a_selection_survives_a_redraw_by_a_background_result_but_not_the_users_clear():
    """Streamlit drops a chart's selection when its figure changes; a redraw the user did not ask for (same
    view, new figure) keeps the samples, marked as carried; a clear on the same figure or a new view drops them."""
    from pages._selection import carried_selection

    memory, view = {}, ("pool", "model-a", "sfda", "true label", True)
    first, second = object.__new__(type("Trajectory", (), {})), object.__new__(type("Trajectory", (), {}))
    assert carried_selection(memory, "fs", view, first, [4, 11]) == ([4, 11], False)
    assert carried_selection(memory, "fs", view, first, [4, 11]) == ([4, 11], False)  # the chart still has it
    assert carried_selection(memory, "fs", view, second, []) == ([4, 11], True)  # noise arrived: figure redrawn
    assert carried_selection(memory, "fs", view, second, []) == ([4, 11], True)  # and on every later run
    assert carried_selection(memory, "fs", view, second, [30]) == ([30], False)  # a new pick replaces it
    assert carried_selection(memory, "fs", view, second, []) == ([], False)  # the user's clear on that figure
    assert carried_selection(memory, "fs", view, second, []) == ([], False) and "fs" not in memory
    carried_selection(memory, "fs", view, second, [1])
    other_view = ("pool", "model-b", "sfda", "true label", True)
    assert carried_selection(memory, "fs", other_view, first, []) == ([], False)  # the user changed the model
    carried_selection(memory, "nc", view, first, [2])
    assert carried_selection(memory, "fs", view, first, []) == ([], False) and memory["nc"][2] == [2]  # per chart
