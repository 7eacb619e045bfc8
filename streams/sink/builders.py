"""Periodic ClickHouse builders run inside the sink (service edges, metric rollups).

A builder cuts slices of a table's inserted blocks from a single start, so only one may
run per database: the sink that owns partition 0 of the builder's topic runs it. A
failure is retried at the next interval (an open intent is redone exactly).

A builder runs in the consume thread (service edges: small slices), or in a thread of
its own (``background``; metric rollups, whose slices take seconds of ClickHouse time and
must not stall the inserts). A background run is halted and awaited before the leading
partition is given up (:meth:`PeriodicBuilder.halt` from the revoke callback), so two
sinks never build at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from streams.logs_setup import get_logger

log = get_logger(__name__)


class SliceBuilder(Protocol):
    def run(self) -> int | None: ...


class PeriodicBuilder:
    """Runs ``builder`` slices every ``interval_s`` while this sink leads ``leader``."""

    def __init__(self, name: str, builder: SliceBuilder, leader: tuple[str, int],
                 interval_s: float, max_slices: int = 5, background: bool = False,
                 after: Callable[[float], None] | None = None) -> None:
        self.name = name
        self.builder = builder
        self.leader = leader
        self.interval_s = interval_s
        self.max_slices = max_slices
        self.background = background
        self.after = after or (lambda started: None)  # called with the run's start time
        self.due_at = 0.0
        self.thread: threading.Thread | None = None
        self.halted = threading.Event()

    def maybe_run(self, assigned: set[tuple[str, int]], paused: bool,
                  force: bool = False) -> None:
        """Build when leading, not paused and due (``force``: now, in this thread, until
        nothing is left or 100 slices)."""
        if self.leader not in assigned or paused:
            return
        if self.thread is not None and self.thread.is_alive():
            if not force:
                return
            self.thread.join()
        now = time.monotonic()
        if not force and now < self.due_at:
            return
        self.due_at = now + self.interval_s
        if force or not self.background:
            self._run(100 if force else self.max_slices)
        else:
            self.thread = threading.Thread(target=self._run, args=(self.max_slices,),
                                           name=f"build-{self.name}", daemon=True)
            self.thread.start()

    def _run(self, max_slices: int) -> None:
        started = time.time()
        try:
            for _ in range(max_slices):
                if self.halted.is_set() or self.builder.run() is None:
                    break
            self.after(started)
        except Exception as exc:  # noqa: BLE001 - the next interval retries the slice
            log.warning("builder failed", builder=self.name, error=str(exc)[:300])

    def halt(self) -> None:
        """Stop after the slice in progress and wait for it (before leadership ends)."""
        thread = self.thread
        if thread is not None and thread.is_alive():
            self.halted.set()
            thread.join()
        self.halted.clear()
