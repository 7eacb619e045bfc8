"""The numpy MetricBatch reader agrees with fastavro, and declines what it cannot read."""

from __future__ import annotations

import io

import fastavro
import pytest

from connectors.sinks.base import Record
from connectors.sinks.tables.metric_wire import read_columns
from connectors.sinks.tables.metrics import METRIC_TYPES, MetricsFamily
from schemas.codec import Codec
from schemas.errors import CodecError
from tests.sinks.records import fresh_record, metrics

CODEC = Codec("metric_batch")


@pytest.mark.parametrize("seed", range(40))
def test_fast_columns_equal_the_full_decode(seed: int) -> None:
    record = fresh_record("metric_batch", seed)
    record["timestamps"] = [t - seed * 10**9 * (i % 3) for i, t in enumerate(record["timestamps"])]
    payload = CODEC.encode(record)
    cols = read_columns(payload)
    if not record["series_ids"]:
        assert cols is None
        return
    assert cols is not None
    assert cols.cluster == record["cluster"]
    assert cols.timestamps.tolist() == record["timestamps"]
    assert cols.series_ids.tolist() == record["series_ids"]
    assert cols.values.tolist() == record["values"]
    assert [METRIC_TYPES[t] for t in cols.types] == record["types"]


def test_extreme_longs_decode() -> None:
    record = metrics("c", "t", 3, 0)
    record["series_ids"] = [-(2**63), 2**63 - 1, 0]
    record["timestamps"] = [-1, 2**62, 1]
    cols = read_columns(CODEC.encode(record))
    assert cols is not None
    assert cols.series_ids.tolist() == record["series_ids"]
    assert cols.timestamps.tolist() == record["timestamps"]


def test_multi_block_arrays_fall_back() -> None:
    # a writer that emits the values array as two blocks (legal Avro) is not fast-path
    record = metrics("c", "t", 4, 1000)
    payload = CODEC.encode(record)
    n = 4
    tail = 1 + n + 1 + 1 + 8 * n + 1  # 0, types, count, 0, doubles, count
    head = payload[:-tail]
    doubles = payload[-tail + 1: -tail + 1 + 8 * n]
    two_blocks = b"\x04" + doubles[:16] + b"\x04" + doubles[16:] + b"\x00"
    weird = head + two_blocks + payload[-(n + 2):]
    assert read_columns(weird) is None
    decoded = fastavro.schemaless_reader(io.BytesIO(weird[10:]), CODEC.schema, CODEC.schema)
    assert decoded["values"] == record["values"]
    family = MetricsFamily()
    out = family.decode(Record("t", 0, 0, None, weird, 0))
    assert out.columns.values.tolist() == record["values"] and family.full_decodes == 1


def test_known_series_skip_the_full_decode_and_write_labels_once() -> None:
    family = MetricsFamily()
    first = metrics("c1", "t", 50, 1_000)
    second = metrics("c1", "t", 50, 16_000, value=7.0)
    decoded = [family.decode(Record("t", 0, i, None, CODEC.encode(b), 0))
               for i, b in enumerate([first, second])]
    assert (family.full_decodes, family.fast_decodes) == (1, 1)
    tables = family.to_arrow(decoded)
    assert list(tables) == ["series", "metrics"]  # labels go in before the samples
    rows = tables["metrics"].to_pylist()
    assert len(rows) == 100
    assert rows[57]["name"] == second["names"][7] and rows[57]["value"] == 14.0
    assert rows[57]["series_id"] == second["series_ids"][7]
    assert {r["cluster"] for r in rows} == {"c1"} and rows[1]["type"] == "COUNTER"
    series = tables["series"].to_pylist()
    assert len(series) == 50
    assert dict(series[7]["labels"]) == second["labels"][7]
    assert list(family.to_arrow(decoded)) == ["metrics"]  # claimed by the first conversion
    family.released("series", tables["series"])
    again = family.to_arrow(decoded)
    assert again["series"].num_rows == 50
    family.acknowledged("series", again["series"])
    assert list(family.to_arrow(decoded)) == ["metrics"] and not family.unwritten


def test_a_forgotten_series_is_learned_again_at_conversion() -> None:
    family = MetricsFamily(max_series=10)
    decoded = [family.decode(Record("t", 0, i, None, CODEC.encode(
        metrics("c", "t", 8, 1000 * i, start=8 * i)), 0)) for i in range(3)]
    tables = family.to_arrow(decoded)  # cache had 24 > 10 series: cleared first
    assert tables["metrics"].num_rows == 24
    assert tables["metrics"]["name"].to_pylist() == [
        "container_cpu_usage_seconds_total" if i % 2 else "container_memory_rss"
        for i in range(24)]
    assert tables["series"].num_rows == 24


def test_ragged_columns_are_rejected() -> None:
    record = metrics("c", "t", 3, 0)
    record["values"] = record["values"][:2]
    with pytest.raises(ValueError, match="different lengths"):
        MetricsFamily().decode(Record("t", 0, 0, None, CODEC.encode(record), 0))


def test_corrupt_bytes_raise_codec_errors() -> None:
    payload = bytearray(CODEC.encode(metrics("c", "t", 5, 0)))
    payload[40:60] = b"\xff" * 20
    family = MetricsFamily()
    with pytest.raises((CodecError, ValueError)):
        family.decode(Record("t", 0, 0, None, bytes(payload), 0))
