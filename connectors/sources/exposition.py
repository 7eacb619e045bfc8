"""Prometheus text (0.0.4) and OpenMetrics 1.0 exposition parser with a series cache.

prometheus-client's parser is the reference (tests compare both on the shared
samples and on generated exposition); this one is faster because, like
Prometheus' own scrape cache, it remembers each raw series text
(``name{labels}``) it has seen on a target and maps it straight to the caller's
prepared entry (final labels, series id, pre-encoded Avro pieces). Only new
series go through the full validating parse.

Sample names are kept as exposed (a text-format counter ``foo`` stays ``foo``;
prometheus-client renames it ``foo_total``). Family types follow
prometheus-client's rules: a sample takes the type of the ``# TYPE`` family it
belongs to (by the allowed suffixes), otherwise it is UNTYPED.

>>> p = ExpositionParser(lambda name, labels, mtype: (name, labels, mtype))
>>> r = p.parse('# TYPE up gauge\\nup{job="a"} 1\\nx 2 1700000000000\\n', default_ts=5)
>>> r.entries, r.values, r.timestamps
([('up', {'job': 'a'}, 'GAUGE'), ('x', {}, 'UNTYPED')], [1.0, 2.0], [5, 1700000000000])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from sys import intern
from typing import Generic, TypeVar

E = TypeVar("E")

OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text"

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}

TEXT_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
OM_TYPES = {"counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary",
            "unknown"}
# MetricBatch's MetricType for every exposition type
AVRO_TYPE = {
    "counter": "COUNTER", "gauge": "GAUGE", "histogram": "HISTOGRAM", "summary": "SUMMARY",
    "untyped": "UNTYPED", "unknown": "UNTYPED", "gaugehistogram": "HISTOGRAM",
    "stateset": "GAUGE", "info": "GAUGE",
}
# sample-name suffixes that belong to a family of each type (prometheus-client's rules)
TEXT_SUFFIXES = {
    "counter": ("",), "gauge": ("",), "summary": ("_count", "_sum", ""),
    "histogram": ("_count", "_sum", "_bucket"),
}
OM_SUFFIXES = {
    "counter": ("_total", "_created"), "summary": ("_count", "_sum", "_created", ""),
    "histogram": ("_count", "_sum", "_bucket", "_created"),
    "gaugehistogram": ("_gcount", "_gsum", "_bucket"), "info": ("_info",),
}


class ExpositionError(ValueError):
    """Malformed exposition; the message names the line and the reason."""

    def __init__(self, lineno: int, reason: str, line: str) -> None:
        super().__init__(f"line {lineno}: {reason}: {line[:200]!r}")
        self.lineno = lineno
        self.reason = reason


@dataclass
class ParseResult(Generic[E]):
    """Columns of one parsed exposition: entry, value and timestamp (ms) per sample."""

    entries: list[E]
    values: list[float]
    timestamps: list[int]
    new_series: int = 0


def parse_series(text: str) -> tuple[str, dict[str, str], int]:
    """Validate ``name{a="b",...}`` at the start of ``text``; (name, labels, end index)."""
    m = _NAME.match(text)
    if m is None:
        raise ValueError("invalid metric name")
    name = intern(m.group())
    pos = m.end()
    n = len(text)
    while pos < n and text[pos] in " \t":
        pos += 1
    labels: dict[str, str] = {}
    if pos >= n or text[pos] != "{":
        return name, labels, pos
    pos += 1
    while True:
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n:
            raise ValueError("unterminated label set")
        if text[pos] == "}":
            return name, labels, pos + 1
        lm = _LABEL.match(text, pos)
        if lm is None:
            raise ValueError("invalid label name")
        key = intern(lm.group())
        pos = lm.end()
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n or text[pos] != "=":
            raise ValueError(f"expected '=' after label {key}")
        pos += 1
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n or text[pos] != '"':
            raise ValueError(f"label {key} value must be quoted")
        pos += 1
        out: list[str] = []
        while True:
            q = text.find('"', pos)
            b = text.find("\\", pos)
            if q < 0:
                raise ValueError(f"unterminated value of label {key}")
            if 0 <= b < q:
                out.append(text[pos:b])
                esc = text[b + 1 : b + 2]
                if esc not in _ESCAPES:
                    raise ValueError(f"invalid escape \\{esc} in label {key}")
                out.append(_ESCAPES[esc])
                pos = b + 2
                continue
            out.append(text[pos:q])
            pos = q + 1
            break
        if key in labels:
            raise ValueError(f"duplicate label {key}")
        labels[key] = intern("".join(out))  # names and values repeat across series
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos < n and text[pos] == ",":
            pos += 1
        elif pos < n and text[pos] != "}":
            raise ValueError("expected ',' or '}' in label set")


def _value(tok: str) -> float:
    if "_" in tok:
        raise ValueError(f"invalid value {tok!r}")
    return float(tok)


class ExpositionParser(Generic[E]):
    """Parses one target's scrapes; ``make_entry(name, labels, avro_type)`` builds the
    cached per-series entry (called once per new series)."""

    def __init__(self, make_entry: Callable[[str, dict[str, str], str], E],
                 max_cache: int = 1_000_000) -> None:
        self.make_entry = make_entry
        self.max_cache = max_cache
        self._cache: dict[str, E] = {}
        self._types_seen: tuple[str, ...] = ()

    def clear(self) -> None:
        """Forget every cached series."""
        self._cache.clear()

    def parse(self, body: str, *, default_ts: int, openmetrics: bool = False) -> ParseResult[E]:
        """Parse a whole exposition; raises :class:`ExpositionError` on malformed input."""
        result, types = self._parse(body, default_ts, openmetrics)
        if types != self._types_seen:
            if self._types_seen and result.new_series < len(result.entries):
                self._cache.clear()  # family types changed: rebuild cached entries
                result, types = self._parse(body, default_ts, openmetrics)
            self._types_seen = types
        if len(self._cache) > max(2 * len(result.entries), 10_000) or \
                len(self._cache) > self.max_cache:
            self._cache.clear()  # series churn: start afresh next scrape
        return result

    def _parse(self, body: str, default_ts: int, om: bool) -> tuple[ParseResult[E], tuple]:
        cache_get = self._cache.get
        entries: list[E] = []
        values: list[float] = []
        add_entry = entries.append
        add_value = values.append
        explicit: list[tuple[int, int]] = []
        types: list[str] = []
        state = _FamilyState(om)
        new = 0
        lines = body.split("\n")
        eof_at = -1
        for i, raw in enumerate(lines):
            if not raw:
                continue
            if raw[0] == "#":
                if raw.startswith("# TYPE"):
                    types.append(raw)
                elif om and raw == "# EOF":
                    eof_at = i
                    break
                state.comment(raw.strip(), i + 1)
                continue
            # fast path: a known series whose rest is just the value
            b = raw.find("}")
            if b > 0:
                entry = cache_get(raw[: b + 1])
                rest = raw[b + 1 :]
            else:
                sp = raw.find(" ")
                entry = cache_get(raw[:sp]) if sp > 0 else None
                rest = raw[sp:]
            if entry is not None and "_" not in rest:
                try:
                    value = float(rest)
                except ValueError:
                    pass
                else:
                    add_entry(entry)
                    add_value(value)
                    continue
            # slow path: new series, timestamps, exemplars, odd spacing, errors
            line = raw if om else raw.strip()
            if not line:
                continue
            if line[0] == "#":
                if line.startswith("# TYPE"):
                    types.append(line)
                state.comment(line, i + 1)
                continue
            try:
                name, labels, end = parse_series(line)
            except ValueError as exc:
                raise ExpositionError(i + 1, str(exc), line) from None
            key = line[:end].rstrip(" \t")
            entry = cache_get(key)
            if entry is None:
                entry = self.make_entry(name, labels, state.type_of(name))
                self._cache[key] = entry
                new += 1
            try:
                value, ts = _value_and_timestamp(line[end:], om)
            except ValueError as exc:
                raise ExpositionError(i + 1, str(exc), line) from None
            if ts is not None:
                explicit.append((len(entries), ts))
            add_entry(entry)
            add_value(value)
        if om:
            if eof_at < 0:
                raise ExpositionError(len(lines), "OpenMetrics exposition must end with # EOF",
                                      "")
            for k in range(eof_at + 1, len(lines)):
                if lines[k]:
                    raise ExpositionError(k + 1, "content after # EOF", lines[k])
        timestamps = [default_ts] * len(entries)
        for idx, ts in explicit:
            timestamps[idx] = ts
        return ParseResult(entries, values, timestamps, new), tuple(types)


def _value_and_timestamp(rest: str, om: bool) -> tuple[float, int | None]:
    parts = rest.split()
    if not parts:
        raise ValueError("sample without a value")
    value = _value(parts[0])
    if len(parts) == 1:
        return value, None
    if om and parts[1] == "#":
        return value, None  # an exemplar follows: not kept
    if len(parts) == 2 or (om and parts[2] == "#"):
        return value, _timestamp(parts[1], om)
    raise ValueError(f"unexpected tokens after the value: {parts[1:]}")


def _timestamp(tok: str, om: bool) -> int:
    if "_" in tok:
        raise ValueError(f"invalid timestamp {tok!r}")
    if om:
        return round(float(tok) * 1000)  # OpenMetrics: seconds
    try:
        return int(tok)  # text format: milliseconds
    except ValueError:
        return int(float(tok))


class _FamilyState:
    """The current ``# TYPE``/``# HELP`` family while scanning (prometheus-client rules)."""

    def __init__(self, om: bool) -> None:
        self.om = om
        self.family = ""
        self.mtype = "unknown" if om else "untyped"
        self.allowed: set[str] = set()

    def comment(self, line: str, lineno: int) -> None:
        parts = line.split(None, 3)
        if len(parts) < 3 or parts[1] not in ("TYPE", "HELP", "UNIT"):
            if self.om and len(parts) >= 2 and parts[1] in ("TYPE", "HELP", "UNIT"):
                raise ExpositionError(lineno, f"# {parts[1]} without a metric name", line)
            return
        kind, name = parts[1], parts[2]
        if _NAME.fullmatch(name) is None:
            raise ExpositionError(lineno, "invalid metric name in comment", line)
        if kind == "TYPE":
            if len(parts) < 4:
                raise ExpositionError(lineno, "# TYPE without a type", line)
            mtype = parts[3].strip()
            if mtype not in (OM_TYPES if self.om else TEXT_TYPES):
                raise ExpositionError(lineno, f"unknown metric type {mtype!r}", line)
            self.family, self.mtype = name, mtype
            suffixes = (OM_SUFFIXES if self.om else TEXT_SUFFIXES).get(mtype, ("",))
            self.allowed = {name + s for s in suffixes}
        elif name != self.family:
            self.family = name
            self.mtype = "unknown" if self.om else "untyped"
            self.allowed = {name}

    def type_of(self, name: str) -> str:
        if name in self.allowed:
            return AVRO_TYPE[self.mtype]
        self.family = ""
        self.allowed = set()
        return "UNTYPED"
