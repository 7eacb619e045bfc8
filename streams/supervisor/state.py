"""The supervisor's state file (``<data_dir>/supervisor/state.json``) and telemetry log."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ComponentState:
    """One supervised component as the state file records it."""

    name: str
    argv: list[str]
    log: str
    pid: int | None = None
    status: str = "starting"  # starting | running | backoff | stopped | failed
    restarts: int = 0
    last_exit: int | None = None
    started_at: float | None = None
    health_url: str | None = None
    group: str | None = None
    topics: list[str] = field(default_factory=list)
    rate_metric: str | None = None
    rate_unit: str = "rec/s"


@dataclass
class SupervisorState:
    """The supervisor process and its components."""

    pid: int | None = None
    started_at: float | None = None
    bootstrap: str | None = None
    components: dict[str, ComponentState] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


class StateFiles:
    """Paths under ``<data_dir>/supervisor`` and ``<data_dir>/logs``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "supervisor"
        self.logs = Path(data_dir) / "logs"
        self.state = self.root / "state.json"
        self.telemetry = self.root / "telemetry.jsonl"
        self.specs = self.root / "specs.json"

    def log_of(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def load(self) -> SupervisorState:
        if not self.state.exists():
            return SupervisorState()
        raw: dict[str, Any] = json.loads(self.state.read_text())
        comps = {k: ComponentState(**v) for k, v in raw.pop("components", {}).items()}
        return SupervisorState(components=comps, **raw)

    def save(self, state: SupervisorState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state)

    def append_telemetry(self, row: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.telemetry.open("a") as fh:
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")

    def read_telemetry(self) -> list[dict[str, Any]]:
        if not self.telemetry.exists():
            return []
        rows = []
        for line in self.telemetry.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
        return rows
