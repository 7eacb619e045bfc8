"""``aiops sink`` topic selection: the catalogue's tabled topics, or explicit name=schema."""

from __future__ import annotations

import pytest
import typer

from connectors.sinks.tables import FAMILIES
from schemas.topics import TOPICS
from streams.cli.sink import parse_topics


def test_default_is_every_catalogue_topic_with_a_table_family() -> None:
    chosen = parse_topics(None)
    assert chosen == {t.name: t.value_schema for t in TOPICS if t.value_schema in FAMILIES}
    assert "aiops.metrics" in chosen and "aiops.deadletter" in chosen


def test_explicit_topics_and_schemas() -> None:
    assert parse_topics(["aiops.gpu", "lab.metrics=metric_batch"]) == {
        "aiops.gpu": "gpu_batch", "lab.metrics": "metric_batch"}


@pytest.mark.parametrize("option", ["nope", "x=no_such_schema"])
def test_unknown_topics_and_schemas_are_refused(option: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_topics([option])
