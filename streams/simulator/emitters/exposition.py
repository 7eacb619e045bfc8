"""Prometheus text exposition of every simulated target, served over HTTP on loopback.

Routes (one server, one port):

* ``/targets``: Prometheus HTTP service-discovery JSON listing every target, with
  ``__metrics_path__``, ``cluster``, ``job`` and ``instance`` labels (point ``http_sd_configs``
  at it; ``instance`` is the target's name, so targets stay distinct on one host:port);
* ``/clusters/<cluster>/targets/<target>/metrics``: the target's latest scrape
  (``<target>`` is e.g. ``node-exporter/worker-0`` or ``app/boutique/frontend``);
* ``/clusters/<cluster>/dcgm/<node>/metrics``: a dcgm-exporter-like scrape of a GPU node.

A dark cluster answers 503. With ``timestamps=True`` (accelerated time) every sample carries its
simulated timestamp so a scraper stores simulated, not wall, time.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from streams.logs_setup import get_logger
from streams.simulator.emitters.base import Emitter
from streams.simulator.engine import ClusterSim, TickOutput
from streams.simulator.gpu import DCGM_FIELDS
from streams.simulator.series import Target

log = get_logger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DRIVER = "550.90.07"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(m: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in m.items()) + "}" if m else ""


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def render_target(target: Target, values: np.ndarray, ts: int | None) -> str:
    """Text exposition (format 0.0.4) of one target's series."""
    suffix = f" {ts}" if ts is not None else ""
    vals = values.tolist()
    rows: dict[str, list[int]] = {}
    for i, fam in enumerate(target.row_family):
        rows.setdefault(fam, []).append(i)
    out: list[str] = []
    for fam, mtype, text in target.families:
        out.append(f"# HELP {fam} {text}")
        out.append(f"# TYPE {fam} {mtype}")
        for i in rows[fam]:
            out.append(f"{target.names[i]}{_labels(target.labels[i])} {_num(vals[i])}{suffix}")
    return "\n".join(out) + "\n"


def render_dcgm(samples: list[dict], ts: int | None) -> str:
    """dcgm-exporter-like exposition of one node's GPUs."""
    suffix = f" {ts}" if ts is not None else ""
    out: list[str] = []
    for key, (name, mtype, text) in DCGM_FIELDS.items():
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {mtype}")
        for s in samples:
            lbl = {"gpu": str(s["gpu"]), "UUID": s["uuid"], "pci_bus_id": s["pci_bus_id"],
                   "device": f"nvidia{s['gpu']}", "modelName": s["model"], "Hostname": s["node"],
                   "DCGM_FI_DRIVER_VERSION": DRIVER}
            if s.get("pod"):
                lbl.update({"container": s["container"], "namespace": s["namespace"],
                            "pod": s["pod"]})
            out.append(f"{name}{_labels(lbl)} {_num(s[key])}{suffix}")
    return "\n".join(out) + "\n"


class ExpositionEmitter(Emitter):
    """Keeps each cluster's latest tick and renders it when a target is scraped."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, timestamps: bool = False) -> None:
        self.host, self.port, self.timestamps = host, port, timestamps
        self.latest: dict[str, tuple[ClusterSim, TickOutput]] = {}
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.scrapes = 0

    @property
    def base_url(self) -> str:
        if self.server is None:
            raise RuntimeError("exposition server not started")
        return f"http://{self.host}:{self.server.server_address[1]}"

    def setup(self) -> None:
        if self.server is not None:
            return
        emitter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                status, ctype, body = emitter.respond(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="sim-exposition",
                                       daemon=True)
        self.thread.start()
        log.info("exposition serving", url=self.base_url)

    def add(self, sim: ClusterSim, out: TickOutput, k: int) -> None:
        with self.lock:
            self.latest[sim.cluster.name] = (sim, out)

    def sd_targets(self) -> list[dict[str, Any]]:
        """HTTP service-discovery entries for every target and GPU node."""
        hostport = self.base_url.removeprefix("http://")
        entries = []
        with self.lock:
            items = list(self.latest.items())
        for name, (sim, _) in items:
            for t in sim.table.targets:
                job, _, instance = t.name.partition("/")
                entries.append({"targets": [hostport], "labels": {
                    "__metrics_path__": f"/clusters/{name}/targets/{t.name}/metrics",
                    "cluster": name, "job": job, "instance": instance or job}})
            for node in sorted({g.node for g in sim.cluster.gpus}):
                entries.append({"targets": [hostport], "labels": {
                    "__metrics_path__": f"/clusters/{name}/dcgm/{node}/metrics",
                    "cluster": name, "job": "nvidia-dcgm-exporter", "instance": node}})
        return entries

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of ``path``."""
        path = path.split("?", 1)[0]
        if path == "/targets":
            return 200, "application/json", json.dumps(self.sd_targets()).encode()
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[0] != "clusters" or parts[-1] != "metrics":
            return 404, "text/plain", b"not found\n"
        with self.lock:
            entry = self.latest.get(parts[1])
        if entry is None:
            return 404, "text/plain", f"no cluster {parts[1]}\n".encode()
        sim, out = entry
        if out.dark:
            return 503, "text/plain", b"cluster unreachable\n"
        ts = out.ts if self.timestamps else None
        self.scrapes += 1
        if parts[2] == "dcgm":
            samples = out.gpu_by_node.get("/".join(parts[3:-1]))
            if samples is None:
                return 404, "text/plain", b"no such GPU node\n"
            return 200, CONTENT_TYPE, render_dcgm(samples, ts).encode()
        if parts[2] == "targets":
            name = "/".join(parts[3:-1])
            for t in sim.table.targets:
                if t.name == name:
                    return 200, CONTENT_TYPE, render_target(t, out.values[t.rows], ts).encode()
        return 404, "text/plain", b"no such target\n"

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def stats(self) -> dict[str, float]:
        return {"scrapes": self.scrapes}
