"""One local Ray instance (2 CPUs, no dashboard) for the whole test session; the tests that need it run on one
pytest worker (xdist group "ray") and are skipped, with the reason, when the optional Ray extra is missing."""

import pytest

RAY_MISSING = "Ray is an optional extra: pip install -r requirements-ray.txt (scripts/test.sh installs it)"


@pytest.fixture(scope="session")
def local_ray():
    """The ``ray`` module connected to a local 2-CPU instance, started once, shut down at session end."""
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
