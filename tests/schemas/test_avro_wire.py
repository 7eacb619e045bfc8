"""The hot-path Avro primitives agree with fastavro byte for byte."""

from __future__ import annotations

import io

import fastavro
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from schemas.avro_wire import read_long, read_long_array, write_long, write_string

LONGS = st.integers(-(2**63), 2**63 - 1)


@given(LONGS)
def test_long_matches_fastavro(n: int) -> None:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, "long", n)
    assert write_long(n) == buf.getvalue()
    assert read_long(buf.getvalue(), 0) == (n, len(buf.getvalue()))


@given(st.text(max_size=50))
def test_string_matches_fastavro(s: str) -> None:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, "string", s)
    assert write_string(s) == buf.getvalue()


@given(st.lists(LONGS, max_size=50))
def test_vectorised_read_matches_scalar(values: list[int]) -> None:
    data = b"".join(write_long(v) for v in values) + b"\x00"
    decoded, end = read_long_array(np.frombuffer(data, dtype=np.uint8), 0, len(values))
    assert decoded.tolist() == values and end == len(data) - 1
