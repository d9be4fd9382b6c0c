"""Calibration: per-channel pulse ranges, validation, persistence, DeepRacer import/export."""
