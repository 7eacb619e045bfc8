"""Offline evaluation of detectors (NAB scoring)."""
