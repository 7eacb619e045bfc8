"""The embedded local stack: a real Kafka broker (KRaft) and a real ClickHouse server.

Exceptions::

    StackError
     ├── StackStartError   a component did not become ready
     └── StackConfigError  a version, port or path is unusable
"""

from __future__ import annotations


class StackError(Exception):
    """Root of the local stack's errors."""


class StackStartError(StackError):
    """A component failed to start or to become ready in time."""


class StackConfigError(StackError):
    """The stack's configuration cannot work (bad version, missing tool)."""
