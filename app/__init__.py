"""Checkpoint Browser: look inside TensorFlow checkpoints, graphs and SavedModels."""

__version__ = "0.1.0"
