"""Issue 13, case 8: an error of the machine while reading (EMFILE, EIO, MemoryError) is raised as it is and
never deletes a valid entry; only verified damage does."""

import builtins
import errno
import warnings

import numpy as np
import pytest

from transvis.store import CorruptEntryWarning, FeatureStore

from ._store_helpers import featureset, parts

FAULTS = {
    "EMFILE": lambda: OSError(errno.EMFILE, "Too many open files"),
    "EIO": lambda: OSError(errno.EIO, "Input/output error"),
    "MemoryError": lambda: MemoryError(),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_transient_error_in_get_is_raised_and_the_entry_kept(tmp_path, monkeypatch, fault):
    store = FeatureStore(tmp_path)
    key = store.put(parts(), featureset())
    real_open = builtins.open

    def failing_open(file, *args, **kwargs):
        if str(file).endswith(".npy"):
            raise FAULTS[fault]()
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", failing_open)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptEntryWarning)
        with pytest.raises(type(FAULTS[fault]())):
            store.get(parts())
    monkeypatch.undo()

    assert (store.root / key / "features.npy").is_file()
    again = store.get(parts())
    np.testing.assert_array_equal(again.features, featureset().features.astype(np.float32))
