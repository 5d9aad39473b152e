"""bench/gpu_check.sh is the one-call check a session with a lent GPU runs: it must refuse a GPU-less machine
clearly, and its CPU dry run must produce every table it promises (so a GPU session does not spend its
device minutes debugging the script)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the script runs for real")


def _run(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GPU_CHECK"))}
    env.update(OUT=str(tmp_path), PYTHON=sys.executable, **extra)
    return subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_refuses_without_a_gpu(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 2
    assert "no CUDA GPU visible" in result.stderr and "GPU_CHECK_ALLOW_CPU=1" in result.stderr
    assert not any(tmp_path.iterdir())


def test_cpu_dry_run_writes_every_table(tmp_path):
    result = _run(tmp_path, GPU_CHECK_ALLOW_CPU="1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gpu_env.txt", "gpu_extract.txt", "gpu_metrics.txt", "gpu_tests.txt"]
    assert f"torch {torch.__version__}" in (tmp_path / "gpu_env.txt").read_text()
    tests = (tmp_path / "gpu_tests.txt").read_text()
    assert re.search(r"\d+ passed", tests) and not re.search(r"\d+ (failed|errors?)\b", tests)
    extract = (tmp_path / "gpu_extract.txt").read_text()
    assert "device=cpu" in extract and "resnet18" in extract and "worst wall-clock ratio" in extract
    metrics = (tmp_path / "gpu_metrics.txt").read_text()
    assert "backend=torch" in metrics and "suite per model" in metrics and "SFDA" in metrics
    assert "[gpu_check] device=cpu status=0" in result.stdout
