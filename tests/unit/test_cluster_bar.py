"""The cluster's progress bar in a log (no terminal): a line per tenth of the tasks, per new failure and at the
end, not one per task (no Ray needed)."""

import io

from transvis.cluster import ClusterProgress, stderr_bar


def _run(total: int, failing: set[int] = frozenset()) -> list[str]:
    out = io.StringIO()
    draw = stderr_bar(out)
    failed = 0
    for done in range(1, total + 1):
        failed += done in failing
        draw(ClusterProgress("extraction", done, total, failed, 2, 2, float(total - done), f"m{done}"))
    return out.getvalue().splitlines()


def test_a_long_run_logs_a_line_per_tenth_and_the_last():
    lines = _run(500)
    done = [line.split("] ")[1].split(" tasks")[0] for line in lines]
    assert done == ["1/500"] + [f"{k}/500" for k in range(50, 501, 50)]  # the first task, then every tenth
    assert lines[1].endswith("50/500 tasks · ETA 450 s · workers 2/2")


def test_every_new_failure_is_logged_at_once():
    lines = _run(500, failing={7, 8, 333})
    failures = [line for line in lines if "failed" in line]
    assert "] 7/500 tasks" in failures[0] and failures[0].endswith("1 failed")
    assert any("] 8/500 tasks" in line and line.endswith("2 failed") for line in failures)
    assert any("] 333/500 tasks" in line and line.endswith("3 failed") for line in failures)
    assert "500/500 tasks" in lines[-1] and lines[-1].endswith("3 failed")


def test_a_short_run_logs_every_task():
    assert [line.split("] ")[1].split(" tasks")[0] for line in _run(3)] == ["1/3", "2/3", "3/3"]
