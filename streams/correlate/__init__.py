"""Correlation: anomalies and alerts -> incidents (``aiops correlate``).

Plain modules hold the logic so it is testable without Faust: :mod:`members` (records to
topology-keyed members), :mod:`callgraph` (service neighbours), :mod:`grouping` (which
incident a member joins), :mod:`severity`, :mod:`lifecycle` (one incident's state and
record) and :mod:`engine` (one cluster's incidents).  :mod:`app` is the Faust app.
"""
