"""ims-tui: inventory management for warehouse stations."""

__version__ = "0.1.0"
