"""Feature extraction from timm models (see :mod:`transvis.features.extract`)."""

from .featureset import FeatureSet

__all__ = ["FeatureSet"]
