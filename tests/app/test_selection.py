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
