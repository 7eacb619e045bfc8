"""Run Grafana panel SQL against ClickHouse the way the ClickHouse data source would.

Expands the plugin's macros ($__timeFilter, $__timeFilter_ms, $__fromTime,
$__toTime, $__fromTime_ms, $__toTime_ms, $__interval_s, $__timeInterval,
$__timeInterval_ms, $__conditionalAll) and Grafana template variables, runs each
panel's query and checks the column shape its panel type needs (and, unless told
otherwise, that it returns rows). Template variables not given are resolved as
Grafana resolves them when a dashboard loads: their own query runs, and the
default selection ("All" or the first value) is used.

>>> expand("SELECT 1 WHERE $__timeFilter(ts)", 0, 60, 15, {})
'SELECT 1 WHERE ts >= toDateTime(0) AND ts <= toDateTime(60)'
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from clickhouse_connect.driver.client import Client

FORMAT_TIMESERIES, FORMAT_TABLE, FORMAT_LOGS, FORMAT_TRACES = 0, 1, 2, 3
TRACE_COLUMNS = {"traceID", "spanID", "parentSpanID", "serviceName", "operationName",
                 "startTime", "duration"}
NUMERIC = re.compile(r"^(Nullable\()?(U?Int\d+|Float\d+|Decimal)")


def _args(text: str, start: int) -> tuple[list[str], int]:
    """Split the comma-separated, parenthesis-balanced arguments starting at ``start``."""
    depth, args, current, i = 0, [], [], start
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                args.append("".join(current).strip())
                return args, i + 1
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    raise ValueError(f"unbalanced macro arguments in {text[start - 20:start + 40]!r}")


def _variables(sql: str, variables: dict[str, list[str]]) -> str:
    def repl(m: re.Match[str]) -> str:
        name, fmt = m.group(1) or m.group(3), m.group(2)
        values = variables.get(name)
        if values is None:
            return m.group(0)
        if fmt == "singlequote":
            return ", ".join("'" + v.replace("'", "\\'") + "'" for v in values)
        return ", ".join(values)

    return re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)\b", repl, sql)


def expand(sql: str, from_s: int, to_s: int, interval_s: int,
           variables: dict[str, list[str]], all_vars: frozenset[str] = frozenset()) -> str:
    """The SQL the data source would send for this time range and variables."""
    out = sql
    while "$__conditionalAll(" in out:
        start = out.index("$__conditionalAll(")
        (condition, var), end = _args(out, start + len("$__conditionalAll("))
        use = "1=1" if var.lstrip("$") in all_vars else condition
        out = out[:start] + use + out[end:]
    macros = {
        "$__timeFilter_ms(": lambda c: (f"{c} >= fromUnixTimestamp64Milli({from_s * 1000}) AND "
                                        f"{c} <= fromUnixTimestamp64Milli({to_s * 1000})"),
        "$__timeFilter(": lambda c: f"{c} >= toDateTime({from_s}) AND {c} <= toDateTime({to_s})",
        "$__timeInterval_ms(": lambda c: (f"toStartOfInterval(toDateTime64({c}, 3), "
                                          f"INTERVAL {interval_s * 1000} millisecond)"),
        "$__timeInterval(": lambda c: (f"toStartOfInterval(toDateTime({c}), "
                                       f"INTERVAL {interval_s} second)"),
    }
    for name, build in macros.items():
        while name in out:
            start = out.index(name)
            (column,), end = _args(out, start + len(name))
            out = out[:start] + build(column) + out[end:]
    out = (out.replace("$__fromTime_ms", f"fromUnixTimestamp64Milli({from_s * 1000})")
              .replace("$__toTime_ms", f"fromUnixTimestamp64Milli({to_s * 1000})")
              .replace("$__fromTime", f"toDateTime({from_s})")
              .replace("$__toTime", f"toDateTime({to_s})")
              .replace("$__interval_s", str(interval_s)))
    return _variables(out, variables)


@dataclass
class PanelResult:
    """What one panel's query returned and whether its shape fits the panel."""

    dashboard: str
    panel: str
    ok: bool
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    error: str = ""
    ms: float = 0.0  # query wall time


def shape_problem(fmt: int, columns: list[str], types: list[str]) -> str:
    """Why these result columns do not fit the panel format ('' when they do)."""
    if fmt == FORMAT_TIMESERIES and (
        not columns or columns[0] != "time" or not types[0].startswith("DateTime")
    ):
        return f"time series needs a DateTime `time` first, got {columns[:1]} {types[:1]}"
    if fmt == FORMAT_TIMESERIES and not any(NUMERIC.match(t) for t in types[1:]):
        return f"time series needs a numeric value column, got {types[1:]}"
    if fmt == FORMAT_LOGS and not {"timestamp", "body", "level"} <= set(columns):
        return f"logs need timestamp/body/level, got {columns}"
    if fmt == FORMAT_LOGS and not types[columns.index("timestamp")].startswith("DateTime"):
        return f"logs need a DateTime `timestamp`, got {types[columns.index('timestamp')]}"
    if fmt == FORMAT_TRACES and not set(columns) >= TRACE_COLUMNS:
        return f"traces need {sorted(TRACE_COLUMNS)}, got {columns}"
    return ""


def template_values(client: Client, doc: dict) -> tuple[dict[str, list[str]], frozenset[str],
                                                       list[PanelResult]]:
    """What Grafana selects on load: variable -> values, the variables left on "All", failures.

    A multi-value variable whose default is All gets every value its query returns; any other
    gets the first value. A variable whose query fails or returns nothing is a failure.
    """
    values: dict[str, list[str]] = {}
    on_all: set[str] = set()
    failures: list[PanelResult] = []
    for var in doc.get("templating", {}).get("list", []):
        name = var["name"]
        try:
            found = [str(row[0]) for row in client.query(var["query"]).result_rows]
        except Exception as exc:  # noqa: BLE001 - reported per variable
            failures.append(PanelResult(doc["title"], f"${name}", False, error=str(exc)[:500]))
            continue
        if not found:
            failures.append(PanelResult(doc["title"], f"${name}", False, error="no values"))
            continue
        default_all = var.get("includeAll") and var.get("current", {}).get("value") in (
            "$__all", ["$__all"])
        values[name] = found if default_all else found[:1]
        if default_all:
            on_all.add(name)
    return values, frozenset(on_all), failures


def check_panel(client: Client, dashboard: str, panel: dict, target: dict, sql: str,
                require_rows: bool = True) -> PanelResult:
    """Run one panel target's expanded SQL and judge its result."""
    started = time.perf_counter()
    try:
        res = client.query(sql)
    except Exception as exc:  # noqa: BLE001 - reported per panel
        return PanelResult(dashboard, panel["title"], False, error=str(exc)[:500],
                           ms=(time.perf_counter() - started) * 1000)
    ms = (time.perf_counter() - started) * 1000
    columns = list(res.column_names)
    types = [t.name for t in res.column_types]
    if not columns:  # an empty result carries no header: ask for the shape
        described = client.query(f"DESCRIBE ({sql})").result_rows
        columns = [str(row[0]) for row in described]
        types = [str(row[1]) for row in described]
    problem = shape_problem(target["format"], columns, types)
    if not problem and require_rows and not res.row_count:
        problem = "no rows"
    return PanelResult(dashboard, panel["title"], not problem, res.row_count, columns, problem,
                       round(ms, 2))


def time_range(doc: dict, now_s: int) -> tuple[int, int]:
    """The dashboard's default time range (``now-6h`` .. ``now``) as epoch seconds.

    >>> time_range({"time": {"from": "now-6h", "to": "now"}}, 100_000)
    (78400, 100000)
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

    def point(text: str) -> int:
        m = re.fullmatch(r"now(?:-(\d+)([smhdw]))?", text)
        if m is None:
            raise ValueError(f"unsupported dashboard time {text!r} (expected now or now-N<unit>)")
        return now_s - (int(m.group(1)) * units[m.group(2)] if m.group(1) else 0)

    return point(doc["time"]["from"]), point(doc["time"]["to"])


def check_dashboards(client: Client, directory: Path, from_s: int | None = None,
                     to_s: int | None = None, variables: dict[str, list[str]] | None = None,
                     all_vars: frozenset[str] | None = None, interval_s: int = 60,
                     require_rows: bool = True) -> list[PanelResult]:
    """Run every panel of every dashboard JSON in ``directory``.

    ``from_s``/``to_s`` None: the dashboard's own default range, ending now. ``variables``
    None: each dashboard's variables are resolved from the data (see :func:`template_values`);
    ``all_vars`` None: the variables whose default is All (pass an empty set to select every
    value explicitly instead). ``require_rows``: an empty result fails.
    """
    results: list[PanelResult] = []
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text())
        default_from, default_to = time_range(doc, int(time.time()))
        start = default_from if from_s is None else from_s
        end = default_to if to_s is None else to_s
        scoped, on_all = variables, all_vars
        if scoped is None:
            scoped, resolved_all, failures = template_values(client, doc)
            results.extend(failures)
            on_all = resolved_all if on_all is None else on_all
        for panel in doc["panels"]:
            for tgt in panel["targets"]:
                sql = expand(tgt["rawSql"], start, end, interval_s, scoped,
                             on_all or frozenset())
                results.append(check_panel(client, doc["title"], panel, tgt, sql,
                                           require_rows))
    return results
