"""The emitter contract: a sink of simulated ticks."""

from __future__ import annotations

from streams.simulator.engine import ClusterSim, TickOutput


class Emitter:
    """``setup()`` once, ``add()`` every cluster tick, ``add_truth()`` for faults, ``flush()``."""

    def setup(self) -> None:
        """Open connections or sockets."""

    def add(self, sim: ClusterSim, out: TickOutput, k: int) -> None:
        """Deliver one cluster's tick ``k`` (a dark cluster's tick must not be delivered)."""
        raise NotImplementedError

    def add_truth(self, records: list[dict]) -> None:
        """Deliver ground-truth FaultRecords as their faults start."""

    def flush(self) -> None:
        """Wait until everything handed over is delivered."""

    def close(self) -> None:
        """Release resources."""

    def stats(self) -> dict[str, float]:
        """Counters of what was delivered."""
        return {}
