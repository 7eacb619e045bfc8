"""The fast MetricBatch encoder writes exactly what fastavro writes."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.publish.columnar import SeriesEntry, encode_metric_batch
from schemas.batches import metric_batch
from schemas.codec import Codec

TYPES = ["GAUGE", "COUNTER", "HISTOGRAM", "SUMMARY", "UNTYPED"]
TEXT = st.text(max_size=10)
SAMPLE = st.tuples(
    TEXT, st.dictionaries(TEXT, TEXT, max_size=3), st.floats(allow_nan=True),
    st.integers(-(2**62), 2**62), st.sampled_from(TYPES))


@settings(max_examples=200, deadline=None)
@given(st.lists(SAMPLE, max_size=30), st.booleans(), TEXT, st.integers(0, 2**45))
def test_byte_identical_to_codec(samples: list, same_ts: bool, target: str, scrape_ts: int):
    codec = Codec("metric_batch")
    entries = [SeriesEntry.build("c1", n, lbl, t) for n, lbl, _v, _ts, t in samples]
    values = [v for _n, _l, v, _ts, _t in samples]
    stamps = [scrape_ts if same_ts else ts for _n, _l, _v, ts, _t in samples]
    raw = encode_metric_batch("b-1", "c1", "prometheus", target, scrape_ts, entries, values,
                              stamps)
    expected = metric_batch(
        "c1", "prometheus", target, scrape_ts, names=[e.name for e in entries],
        labels=[e.labels for e in entries], values=values, timestamps=stamps,
        types=[e.mtype for e in entries], batch_id="b-1")
    assert raw == codec.encode(expected)
    back = codec.decode(raw)
    assert back["series_ids"] == expected["series_ids"]
    assert all(a == b or (math.isnan(a) and math.isnan(b))
               for a, b in zip(back["values"], values, strict=True))
