"""The history sink worker: every signal and result topic -> ClickHouse."""
