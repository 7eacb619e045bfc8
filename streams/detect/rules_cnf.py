"""CNF threshold rules on PTP metrics that never wait for a model (THRESHOLD_BREACH).

* ``openshift_ptp_clock_state`` != 1 (LOCKED): FREERUN (0) is CRITICAL, HOLDOVER (2) HIGH;
* ``|openshift_ptp_offset_ns|`` above ``offset_ns``: HIGH;
* ``openshift_ptp_clock_class`` worse (higher) than the best class the series has shown.

A rule fires once when its condition starts and again only after it has cleared.

>>> r = CnfRules(offset_ns=100.0)
>>> code = rule_code("openshift_ptp_clock_state")
>>> [len(r.check(1, code, v, t)) for v, t in ((1.0, 1), (0.0, 2), (0.0, 3), (1.0, 4), (2.0, 5))]
[0, 1, 0, 0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

NONE, PTP_STATE, PTP_OFFSET, PTP_CLASS = 0, 1, 2, 3
_NAMES = {
    "openshift_ptp_clock_state": PTP_STATE,
    "openshift_ptp_offset_ns": PTP_OFFSET,
    "openshift_ptp_clock_class": PTP_CLASS,
}
STATE_NAMES = {0.0: "FREERUN", 1.0: "LOCKED", 2.0: "HOLDOVER"}


def rule_code(name: str) -> int:
    """The rule that applies to a metric name (0: none)."""
    return _NAMES.get(name, NONE)


@dataclass
class Breach:
    """A rule that started firing: its text, severity and detector name."""

    rule: str
    detector: str
    severity: str
    start_ts: int
    threshold: float


class CnfRules:
    """Per-series rule state: which breaches are active, and the best clock class seen."""

    def __init__(self, offset_ns: float = 100.0) -> None:
        self.offset_ns = float(offset_ns)
        self.active: dict[int, int] = {}  # series id -> breach start
        self.best_class: dict[int, float] = {}

    def check(self, series: int, code: int, value: float, ts: int) -> list[Breach]:
        """Evaluate one sample; return the breach that starts now (at most one)."""
        if code == NONE or value != value:  # NaN: no reading, no decision
            return []
        breach: Breach | None = None
        if code == PTP_STATE and value != 1.0:
            state = STATE_NAMES.get(value, f"state {value:g}")
            breach = Breach(f"openshift_ptp_clock_state != LOCKED ({state})", "rule:ptp_state",
                            "CRITICAL" if value == 0.0 else "HIGH", ts, 1.0)
        elif code == PTP_OFFSET and abs(value) > self.offset_ns:
            breach = Breach(f"|openshift_ptp_offset_ns| > {self.offset_ns:g}", "rule:ptp_offset",
                            "HIGH", ts, self.offset_ns)
        elif code == PTP_CLASS:
            best = min(self.best_class.get(series, value), value)
            self.best_class[series] = best
            if value > best:
                breach = Breach(f"openshift_ptp_clock_class degraded ({best:g} -> {value:g})",
                                "rule:ptp_clock_class", "HIGH", ts, best)
        if breach is None:
            self.active.pop(series, None)
            return []
        if series in self.active:
            return []
        self.active[series] = ts
        return [breach]

    def forget(self, series_ids: list[int]) -> None:
        for s in series_ids:
            self.active.pop(s, None)
            self.best_class.pop(s, None)

    def state(self) -> dict[str, dict[int, float]]:
        return {"active": dict(self.active), "best_class": dict(self.best_class)}

    def load(self, state: dict[str, dict[int, float]]) -> None:
        self.active = {int(k): int(v) for k, v in state.get("active", {}).items()}
        self.best_class = {int(k): float(v) for k, v in state.get("best_class", {}).items()}
