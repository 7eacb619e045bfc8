"""KRaft cluster ids are valid for the storage tool."""

from __future__ import annotations

import base64

from streams.stack.kafka import cluster_id


def test_cluster_ids_never_start_with_a_dash_and_decode_to_16_bytes() -> None:
    ids = [cluster_id() for _ in range(5000)]  # ~78 would start with '-' if not redrawn
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
