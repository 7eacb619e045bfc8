"""Log template mining (Drain3), masking, Loghub-style header parsing and template signals."""
