"""On-vehicle inference and device control for a 1/18-scale autonomous race car."""

__version__ = "0.1.0"
