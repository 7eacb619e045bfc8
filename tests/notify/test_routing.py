"""Routing rules: matching, grouping keys, mute windows and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.notify.notification import from_anomaly, from_incident
from connectors.notify.routing import RoutingError, parse_routes
from tests.notify.records import anomaly, incident

REPO = Path(__file__).resolve().parents[2]
DOC = """
endpoints:
  - {name: page, url: "http://127.0.0.1:1/page"}
  - {name: chat, url: "http://127.0.0.1:1/chat", format: slack}
  - {name: all, url: "http://127.0.0.1:1/all"}
routes:
  - name: prod-crit
    match: {min_severity: HIGH, cluster: ["prod-*"], namespace: [shop]}
    endpoints: [page]
    group_by: [cluster, namespace]
    continue: true
  - name: payments
    match: {labels: {team: payments}, severity: [HIGH, CRITICAL]}
    endpoints: [chat]
    mute:
      - {weekdays: [sat, sun]}
      - {start: "22:00", end: "06:00", timezone: Europe/Berlin}
  - name: rest
    endpoints: [all, page]
"""


def test_first_match_wins_unless_continue():
    cfg = parse_routes(DOC)
    note = from_incident(incident("prod-eu", "i1", severity="CRITICAL"))
    assert [(r.name, e.name) for r, e in cfg.targets(note)] == [
        ("prod-crit", "page"), ("rest", "all")]
    assert cfg.routes[0].group_key(note) == "cluster=prod-eu,namespace=shop"
    staging = from_incident(incident("staging", "i2", severity="CRITICAL"))
    assert [(r.name, e.name) for r, e in cfg.targets(staging)] == [
        ("rest", "all"), ("rest", "page")]


def test_labels_and_severity_list_match_anomalies():
    cfg = parse_routes(DOC)
    hot = from_anomaly(anomaly("staging", "a1", severity="HIGH"))
    assert [r.name for r, _ in cfg.targets(hot)] == ["payments"]
    medium = from_anomaly(anomaly("staging", "a2", severity="MEDIUM"))
    assert [r.name for r, _ in cfg.targets(medium)] == ["rest", "rest"]


def test_mute_windows_weekdays_and_overnight_in_a_timezone():
    route = parse_routes(DOC).routes[1]
    saturday_noon = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    thursday_noon = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    thursday_late = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    thursday_0530 = datetime(2026, 11, 26, 5, 30, tzinfo=UTC)  # 06:30 in Berlin
    assert route.muted(saturday_noon)
    assert not route.muted(thursday_noon)
    assert route.muted(thursday_late)
    assert not route.muted(thursday_0530)


def test_absolute_mute_window():
    cfg = parse_routes("""
endpoints: [{name: h, url: "http://x"}]
routes: [{name: r, endpoints: [h], mute: [{from: "2026-11-26T10:00:00Z",
                                         until: "2026-11-26T11:00:00Z"}]}]
""")
    route = cfg.routes[0]
    assert route.muted(datetime(2026, 11, 26, 10, 30, tzinfo=UTC))
    assert not route.muted(datetime(2026, 11, 26, 11, 0, tzinfo=UTC))


@pytest.mark.parametrize(("doc", "reason"), [
    ("endpoints: [{name: h, url: x}]\nroutes: [{name: r, endpoints: [nope]}]",
     "unknown endpoints"),
    ("endpoints: [{name: h, url: x}]\nroutes: [{name: r, endpoints: [h], "
     "match: {severity: [URGENT]}}]", "unknown severities"),
    ("endpoints: [{name: h, url: x, colour: red}]", "Extra inputs"),
    ("routes: [{name: r, endpoints: [h], mute: [{start: '25:00', end: '01:00'}]}]",
     "invalid routing document"),
    ("- just\n- a list", "must be a mapping"),
    ("endpoints: [unclosed", "does not parse"),
])
def test_bad_documents_say_why(doc, reason):
    with pytest.raises(RoutingError, match=reason):
        parse_routes(doc)


def test_example_file_is_valid():
    cfg = parse_routes((REPO / "deploy/notify/routes.example.yaml").read_text())
    assert {e.type for e in cfg.endpoints} == {"alertmanager", "webhook"}
    assert {e.format for e in cfg.endpoints if e.type == "webhook"} == {
        "alertmanager", "generic", "slack"}
