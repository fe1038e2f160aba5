"""The PySide6 window: item models, views and workers over the pure layers."""
