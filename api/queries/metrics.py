"""Metric series, label names/values and range queries over raw or rollup tables.

Tables by step: a multiple of 1 h reads ``metrics_1h``, of 1 min ``metrics_1m``,
anything else the raw ``metrics`` table (``resolution`` can force one); a rollup read
takes the samples its builder has not aggregated yet from ``metrics``
(:mod:`api.queries.rollups`). Label names in matchers and ``by`` are validated; every
value is a bound parameter.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from api.db import ClickHousePool
from api.errors import bad_request
from api.queries.rollups import source as rollup_source
from api.queries.sql import Where, label_name

MATCHER_RE = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$', re.S)
AGGREGATIONS = ("avg", "sum", "min", "max", "quantile")
QUANTILES = {0.5: 1, 0.9: 2, 0.99: 3}
RESOLUTIONS = {"raw": ("metrics", 1), "1m": ("metrics_1m", 60), "1h": ("metrics_1h", 3600)}
FORBIDDEN_RE = ("(?=", "(?!", "(?<", "\\1", "\\2")
MAX_POINTS = 11_000
MAX_SERIES = 5_000
SERIES_TTL_S = 10.0  # the series index is read at most this often per query shape


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str


def parse_matcher(text: str) -> Matcher:
    """``job="api"``, ``pod!~"web-.*"`` ... into a matcher (400 when malformed).

    >>> parse_matcher('pod=~"web-.*"')
    Matcher(label='pod', op='=~', value='web-.*')
    """
    m = MATCHER_RE.match(text)
    if not m or len(text) > 2048:
        raise bad_request(f"invalid label matcher {text!r} (want label=value, !=, =~, !~)")
    label, op, value = label_name(m.group(1)), m.group(2), m.group(3)
    if op in ("=~", "!~"):
        if any(f in value for f in FORBIDDEN_RE):
            raise bad_request("lookarounds and backreferences are not supported", regex=value)
        try:
            re.compile(value)
        except re.error as exc:
            raise bad_request(f"invalid regex: {exc}", regex=value) from exc
    return Matcher(label, op, value)


def apply_matchers(w: Where, matchers: list[Matcher]) -> None:
    for m in matchers:
        key = w.bind(m.label, "String")
        if m.op == "=":
            w.add(f"labels[{key}] = {{}}", m.value, "String")
        elif m.op == "!=":
            w.add(f"labels[{key}] != {{}}", m.value, "String")
        else:
            neg = "NOT " if m.op == "!~" else ""
            w.add(f"{neg}match(labels[{key}], {{}})", f"^(?:{m.value})$", "String")


def choose_resolution(step_s: int, forced: str | None) -> tuple[str, str]:
    """(resolution, table) for ``step_s``."""
    if forced and forced != "auto":
        table, grain = RESOLUTIONS[forced]
        if step_s % grain:
            raise bad_request(f"step must be a multiple of {grain}s for resolution {forced}")
        return forced, table
    for name in ("1h", "1m"):
        table, grain = RESOLUTIONS[name]
        if step_s % grain == 0:
            return name, table
    return "raw", "metrics"


def _series_where(clusters: list[str] | None, name: str | None,
                  matchers: list[Matcher]) -> Where:
    w = Where()
    w.clusters(clusters)
    if name:
        w.add("name = {}", name, "String")
    apply_matchers(w, matchers)
    return w


def series(pool: ClickHousePool, *, clusters: list[str] | None, name: str | None,
           matchers: list[Matcher], offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Known series (the ``series`` index) matching the filters."""
    w = _series_where(clusters, name, matchers)
    total = pool.rows(f"SELECT count() FROM series FINAL WHERE {w.sql}", w.params)[0][0]
    rows = pool.dicts(
        f"SELECT cluster, name, series_id, labels FROM series FINAL WHERE {w.sql} "
        "ORDER BY cluster, name, series_id LIMIT {_lim:UInt32} OFFSET {_off:UInt64}",
        {**w.params, "_lim": limit, "_off": offset})
    return rows, int(total)


def label_names(pool: ClickHousePool, *, clusters: list[str] | None, name: str | None
                ) -> list[str]:
    w = _series_where(clusters, name, [])
    rows = pool.rows(f"SELECT DISTINCT arrayJoin(mapKeys(labels)) AS k FROM series FINAL "
                     f"WHERE {w.sql} ORDER BY k LIMIT 10000", w.params)
    return [r[0] for r in rows]


def label_values(pool: ClickHousePool, *, label: str, clusters: list[str] | None,
                 name: str | None) -> list[str]:
    w = _series_where(clusters, name, [])
    if label in ("cluster", "__name__"):
        column = "cluster" if label == "cluster" else "name"
        sql = (f"SELECT DISTINCT {column} AS v FROM series FINAL WHERE {w.sql} "
               "ORDER BY v LIMIT 10000")
    else:
        key = w.bind(label_name(label), "String")
        w.raw(f"mapContains(labels, {key})")
        sql = (f"SELECT DISTINCT labels[{key}] AS v FROM series FINAL WHERE {w.sql} "
               "ORDER BY v LIMIT 10000")
    return [r[0] for r in pool.rows(sql, w.params)]


def matching_series(pool: ClickHousePool, *, clusters: list[str] | None, name: str,
                    matchers: list[Matcher]) -> list[tuple[int, str, dict[str, str]]]:
    """(series_id, cluster, labels) of every series of ``name`` the matchers select."""
    w = _series_where(clusters, name, matchers)
    rows = pool.cached_rows(f"SELECT series_id, cluster, labels FROM series FINAL "
                            f"WHERE {w.sql} LIMIT {MAX_SERIES + 1}", w.params, SERIES_TTL_S)
    if len(rows) > MAX_SERIES:
        raise bad_request(f"query selects more than {MAX_SERIES} series; add matchers")
    return [(int(r[0]), r[1], dict(r[2])) for r in rows]


def _agg(agg: str, resolution: str, quantile: float) -> str:
    """The aggregate of ``agg`` over raw samples or rollup rows.

    Rollup averages read the plain ``sum``/``count`` columns (no aggregate-state
    merge): the same sum and count the ``avg`` state holds.
    """
    raw = resolution == "raw"
    if agg == "avg":
        return "avg(value)" if raw else "sum(sum) / sum(count)"
    if agg == "min":
        return "min(value)" if raw else "min(min)"
    if agg == "max":
        return "max(value)" if raw else "max(max)"
    if agg == "quantile":
        idx = QUANTILES[quantile]
        if raw:
            return f"quantilesTDigest(0.5, 0.9, 0.99)(value)[{idx}]"
        return f"quantilesTDigestMerge(0.5, 0.9, 0.99)(quantiles)[{idx}]"
    raise AssertionError(agg)


def _group_expr(w: Where, groups: list[str], keys: dict[tuple[str, ...], int],
                ids: list[int], gidx: list[int]) -> str:
    """A row's group index, computed in ClickHouse: by cluster name or by series id."""
    if not groups:
        return "toUInt32(0)"
    if groups == ["cluster"]:  # the sort key's own column: no per-series lookup
        names = [k[0] for k in keys]
        return (f"transform(cluster, {w.bind(names, 'Array(String)')}, "
                f"{w.bind(list(keys.values()), 'Array(UInt32)')}, toUInt32(0))")
    return (f"transform(series_id, {w.bind(ids, 'Array(Int64)')}, "
            f"{w.bind(gidx, 'Array(UInt32)')}, toUInt32(0))")


def _points(ts: Sequence[int], vs: Sequence[float]) -> list[list[float | None]]:
    """``[epoch ms, value]`` pairs (non-finite values as None), built column-wise."""
    values = np.asarray(vs, dtype=np.float64)
    out_v: list[float | None] = values.tolist()
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out_v[i] = None
    t_ms = (np.asarray(ts, dtype=np.int64) * 1000).tolist()
    return [list(p) for p in zip(t_ms, out_v, strict=True)]


def range_query(pool: ClickHousePool, *, name: str, clusters: list[str] | None,
                matchers: list[Matcher], start_ms: int, end_ms: int, step_s: int, agg: str,
                by: list[str], quantile: float = 0.99, resolution: str | None = None
                ) -> dict[str, Any]:
    """Aggregated points per group; ``by`` may name ``cluster`` or label names.

    Series are selected in the (cached) ``series`` index, then read by the rollup's
    sort key (cluster, name, series_id, timestamp); each row is mapped to its group
    in ClickHouse (the ``cluster`` column, or ``transform`` of the series id) so
    aggregation stays there, and the answer comes back column-wise.
    """
    if (end_ms - start_ms) / 1000 / step_s > MAX_POINTS:
        raise bad_request(f"too many points per series (max {MAX_POINTS}); raise step")
    if agg == "quantile" and quantile not in QUANTILES:
        raise bad_request("quantile must be one of 0.5, 0.9, 0.99")
    groups = list(dict.fromkeys(label if label == "cluster" else label_name(label)
                                for label in by))
    res, table = choose_resolution(step_s, resolution)
    found = matching_series(pool, clusters=clusters, name=name, matchers=matchers)
    keys: dict[tuple[str, ...], int] = {}
    ids, gidx = [], []
    for sid, cluster, labels in found:
        key = tuple(cluster if g == "cluster" else labels.get(g, "") for g in groups)
        ids.append(sid)
        gidx.append(keys.setdefault(key, len(keys)))
    result: dict[str, Any] = {"resolution": res, "table": table, "groups": groups,
                              "series": [], "rows_by_cluster": {}}
    if not ids:
        return result
    w = Where()
    w.clusters(sorted({c for _, c, _ in found}))
    w.add("name = {}", name, "String")
    w.add("series_id IN {}", ids, "Array(Int64)")
    w.time_range("timestamp", start_ms, end_ms)
    if res == "raw":
        w.raw("NOT isNaN(value)")
        src = table
    else:
        src = rollup_source(pool, table, w, ["count", "min", "max", "sum", "quantiles"]
                            if agg == "quantile" else ["count", "min", "max", "sum"])
    group = _group_expr(w, groups, keys, ids, gidx)
    step = w.bind(step_s, "UInt32")
    bucket = f"toUnixTimestamp(toStartOfInterval(toDateTime(timestamp), toIntervalSecond({step})))"
    if agg == "sum":
        inner_v = _agg("avg", res, quantile)
        sql = (f"SELECT t, g, sum(v) AS v, sum(n) AS n FROM (SELECT {bucket} AS t, series_id, "
               f"{group} AS g, {inner_v} AS v, count() AS n FROM {src} WHERE {w.sql} "
               "GROUP BY t, series_id, g) GROUP BY t, g ORDER BY g, t")
    else:
        sql = (f"SELECT {bucket} AS t, {group} AS g, {_agg(agg, res, quantile)} AS v, "
               f"count() AS n FROM {src} WHERE {w.sql} GROUP BY t, g ORDER BY g, t")
    ts, gs, vs, ns = pool.columns(sql, w.params)
    by_index = {i: key for key, i in keys.items()}
    g_arr = np.asarray(gs, dtype=np.int64)
    n_arr = np.asarray(ns, dtype=np.int64)
    cuts = [0, *(np.flatnonzero(np.diff(g_arr)) + 1).tolist(), len(g_arr)]
    series, read = [], {}
    for lo, hi in itertools.pairwise(cuts):  # rows are ordered by group, then time
        if lo == hi:
            continue
        g = int(g_arr[lo])
        series.append({"labels": dict(zip(groups, by_index[g], strict=True)),
                       "points": _points(ts[lo:hi], vs[lo:hi])})
        read[g] = int(n_arr[lo:hi].sum())
    result["series"] = series
    if "cluster" in groups:  # rows per cluster follow from the groups: no second query
        at = groups.index("cluster")
        rows: dict[str, int] = {}
        for g, n in read.items():
            rows[by_index[g][at]] = rows.get(by_index[g][at], 0) + n
        result["rows_by_cluster"] = rows
    else:
        coverage = pool.rows(f"SELECT cluster, count() FROM {src} WHERE {w.sql} "
                             "GROUP BY cluster", w.params)
        result["rows_by_cluster"] = {c: int(n) for c, n in coverage}
    return result
