"""Feature extraction from timm models (:func:`extract_features`) and the :class:`FeatureSet` record."""

from .featureset import FeatureSet

__all__ = ["FeatureSet", "extract_features"]


def __getattr__(name):
    # Lazy, so FeatureSet users (metrics, app pages) don't pay for importing torch.
    if name == "extract_features":
        from .extract import extract_features

        return extract_features
    raise AttributeError(name)
