"""Prometheus / Thanos HTTP API pull: curated PromQL through ``/api/v1/query``.

Each target is a Prometheus-compatible API base (``host:port``; ``metrics_path``
is ignored). Each configured ``{record, expr}`` runs as an instant query; vector
results become samples named ``record`` with the result's labels (merged with
the target labels by ``honor_labels``), scalar results one unlabelled sample.
A failed or rejected query (HTTP error, ``status: error``, bad JSON) fails the
scrape with the reason, so ``up`` drops to 0.
"""

from __future__ import annotations

import time

from connectors.publish.columnar import SeriesEntry
from connectors.sources.base import ScrapeError, ScrapeOutcome
from connectors.sources.discovery import Target
from connectors.sources.prometheus import (
    SELF_SAMPLES,
    PrometheusSource,
    capabilities_of,
    merge_labels,
)


class QueryApiSource(PrometheusSource):
    """Pulls a curated set of PromQL instant queries."""

    kind = "query"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = "query"
        self._entries: dict[tuple, SeriesEntry] = {}

    async def collect(self, target: Target, ts: int) -> ScrapeOutcome:
        t0 = time.perf_counter()
        entries: list[SeriesEntry] = []
        values: list[float] = []
        stamps: list[int] = []
        caps: set[str] = {"prometheus"}
        for q in self.job.queries:
            resp = await self.fetch(target, "/api/v1/query", {"query": [q.expr]})
            try:
                payload = resp.json()
            except ValueError as exc:
                raise ScrapeError("parse", f"{q.record}: answer is not JSON") from exc
            if payload.get("status") != "success":
                raise ScrapeError("query", f"{q.record}: {payload.get('error', payload)}")
            data = payload.get("data") or {}
            rtype, result = data.get("resultType"), data.get("result")
            if rtype == "scalar":
                result = [{"metric": {}, "value": result}]
            elif rtype != "vector":
                raise ScrapeError("query", f"{q.record}: unsupported resultType {rtype!r} "
                                           "(curated queries must be instant vectors)")
            caps |= capabilities_of(q.record)
            for item in result:
                labels = {k: v for k, v in item["metric"].items() if k != "__name__"}
                caps |= capabilities_of(item["metric"].get("__name__", ""))
                entries.append(self._entry(target, q.record, labels))
                at, raw = item["value"]
                values.append(float(raw))
                stamps.append(round(float(at) * 1000))
        n = len(entries)
        st = self.state(target)
        duration = time.perf_counter() - t0
        published = self.publish(
            target, ts, entries + st.self_entries,
            values + [1.0, duration, float(n), 0.0], stamps + [ts] * len(SELF_SAMPLES))
        return ScrapeOutcome(target, ts, True, duration, samples=n, published=published,
                             capabilities=caps)

    def _entry(self, target: Target, record: str, labels: dict[str, str]) -> SeriesEntry:
        key = (target.key(), record, tuple(sorted(labels.items())))
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) > 200_000:
                self._entries.clear()  # result churn: rebuild
            final = merge_labels(labels, target.labels, self.job.honor_labels)
            entry = SeriesEntry.build(self.cluster, record, final, "GAUGE")
            self._entries[key] = entry
        return entry
