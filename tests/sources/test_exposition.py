"""The fast exposition parser agrees with prometheus-client's parser (the reference)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as om_reference,
)
from prometheus_client.parser import text_string_to_metric_families as reference

from connectors.sources.exposition import ExpositionError, ExpositionParser
from tests.conftest import shared_dir

SAMPLES = shared_dir() / "samples"


def ours(body: str, om: bool = False, parser: ExpositionParser | None = None) -> list[tuple]:
    p = parser or ExpositionParser(lambda n, labels, t: (n, labels, t))
    r = p.parse(body, default_ts=-1, openmetrics=om)
    return [(n, labels, v, None if ts == -1 else ts, t)
            for (n, labels, t), v, ts in zip(r.entries, r.values, r.timestamps, strict=True)]


def theirs(body: str, om: bool = False) -> list[tuple]:
    out = []
    parse = om_reference if om else reference
    for fam in parse(body):
        for s in fam.samples:
            name = s.name
            if not om and fam.type == "counter" and name == fam.name + "_total" \
                    and name not in body:
                name = fam.name  # prometheus-client renames text counters to *_total
            ts = None
            if s.timestamp is not None:
                ts = round(float(s.timestamp) * 1000)
            ftype = {"untyped": "UNTYPED", "unknown": "UNTYPED", "info": "GAUGE",
                     "stateset": "GAUGE", "gaugehistogram": "HISTOGRAM"}.get(
                fam.type, fam.type.upper())
            out.append((name, dict(s.labels), float(s.value), ts, ftype))
    return out


def same(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        vx, vy = x[2], y[2]
        if not (vx == vy or (math.isnan(vx) and math.isnan(vy))):
            return False
        if (x[0], x[1], x[3], x[4]) != (y[0], y[1], y[3], y[4]):
            return False
    return True


def shared_files() -> list[Path]:
    files = [SAMPLES / "prometheus" / "prometheus-common_expfmt_testdata_text",
             SAMPLES / "gpu_telemetry" / "datadog_dcgm_fixture_metrics.txt"]
    return [f for f in files if f.exists()]


@pytest.mark.skipif(not os.path.isdir(SAMPLES), reason=f"{SAMPLES} (shared samples) is absent")
@pytest.mark.parametrize("path", shared_files(), ids=lambda p: p.name)
def test_shared_samples_match_reference(path: Path) -> None:
    body = path.read_text()
    mine = ours(body)
    assert len(mine) > 20
    assert same(mine, theirs(body))
    parser = ExpositionParser(lambda n, labels, t: (n, labels, t))
    first = ours(body, parser=parser)
    assert same(ours(body, parser=parser), first)  # warm cache gives the same answer


# -- generated exposition -------------------------------------------------------------------
NAME = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not n.endswith(("_total", "_sum", "_count", "_bucket", "_created")))
LABEL = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in ("le", "quantile"))
LVALUE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
VALUE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6))
TS = st.one_of(st.none(), st.integers(0, 10**13))


def esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def fmt(v: float | int) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def line(name: str, labels: dict[str, str], value: float, ts: int | None) -> str:
    lbl = ",".join(f'{k}="{esc(v)}"' for k, v in labels.items())
    out = f"{name}{{{lbl}}} {fmt(value)}" if labels else f"{name} {fmt(value)}"
    return out if ts is None else f"{out} {ts}"


@st.composite
def family(draw: st.DrawFn) -> str:
    name = draw(NAME)
    mtype = draw(st.sampled_from(["counter", "gauge", "untyped", "summary", "histogram"]))
    lines = [f"# HELP {name} some help", f"# TYPE {name} {mtype}"]
    series = draw(st.lists(st.dictionaries(LABEL, LVALUE, max_size=3), min_size=1, max_size=3,
                           unique_by=lambda d: tuple(sorted(d.items()))))
    for labels in series:
        ts = draw(TS)
        if mtype == "summary":
            for q in ("0.5", "0.9"):
                lines.append(line(name, {**labels, "quantile": q}, draw(VALUE), ts))
            lines += [line(name + "_sum", labels, draw(VALUE), ts),
                      line(name + "_count", labels, draw(VALUE), ts)]
        elif mtype == "histogram":
            for le in ("0.1", "+Inf"):
                lines.append(line(name + "_bucket", {**labels, "le": le}, draw(VALUE), ts))
            lines += [line(name + "_sum", labels, draw(VALUE), ts),
                      line(name + "_count", labels, draw(VALUE), ts)]
        else:
            lines.append(line(name, labels, draw(VALUE), ts))
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(family(), min_size=1, max_size=4, unique_by=lambda f: f.split()[2]))
def test_generated_exposition_matches_reference(families: list[str]) -> None:
    body = "\n".join(families) + "\n"
    parser = ExpositionParser(lambda n, labels, t: (n, labels, t))
    first = ours(body, parser=parser)
    assert same(first, theirs(body)), body
    assert same(ours(body, parser=parser), first)


def test_openmetrics_matches_reference() -> None:
    body = (
        "# TYPE rpc_seconds histogram\n"
        'rpc_seconds_bucket{le="0.1"} 3 # {trace_id="abc"} 0.05 1700000000.5\n'
        'rpc_seconds_bucket{le="+Inf"} 5\n'
        "rpc_seconds_sum 1.5\nrpc_seconds_count 5\n"
        "# TYPE requests counter\n"
        'requests_total{path="/a b}"} 12 1700000000.250\n'
        "requests_created 1700000000\n"
        "# TYPE build info\nbuild_info{version=\"1.2\"} 1\n"
        "# EOF\n"
    )
    assert same(ours(body, om=True), theirs(body, om=True))


def test_label_values_with_braces_spaces_and_escapes_use_the_slow_path_correctly() -> None:
    body = 'a{x="}",y="q\\"} 1"} 2\na{x="}",y="q\\"} 1"} 3\nb{p="a b"} 4 5\n'
    got = ours(body)
    assert [g[1] for g in got] == [{"x": "}", "y": 'q"} 1'}] * 2 + [{"p": "a b"}]
    assert [g[2] for g in got] == [2.0, 3.0, 4.0] and got[2][3] == 5


def test_type_change_rebuilds_cached_entries() -> None:
    parser = ExpositionParser(lambda n, labels, t: (n, labels, t))
    assert ours("# TYPE a gauge\na 1\n", parser=parser)[0][4] == "GAUGE"
    assert ours("# TYPE a counter\na 1\n", parser=parser)[0][4] == "COUNTER"


@pytest.mark.parametrize(("body", "reason"), [
    ("1abc 3\n", "invalid metric name"),
    ('a{x="1" 2\n', "expected ',' or '}'"),
    ('a{x=1} 2\n', "must be quoted"),
    ('a{x="1\\q"} 2\n', "invalid escape"),
    ('a{x="1",x="2"} 2\n', "duplicate label"),
    ("a\n", "without a value"),
    ("a zz\n", "could not convert"),
    ("a 1_000\n", "invalid value"),
    ("a 1 2 3\n", "unexpected tokens"),
    ("# TYPE a flux\na 1\n", "unknown metric type"),
    ('a{x="1} 2\n', "unterminated"),
])
def test_malformed_exposition_is_rejected_with_the_reason(body: str, reason: str) -> None:
    with pytest.raises(ExpositionError, match=reason) as info:
        ours(body)
    assert info.value.lineno >= 1 and "line" in str(info.value)


def test_openmetrics_requires_eof() -> None:
    with pytest.raises(ExpositionError, match="EOF"):
        ours("a 1\n", om=True)
    with pytest.raises(ExpositionError, match="after # EOF"):
        ours("a 1\n# EOF\nb 2\n", om=True)
