"""Masking rules: what gets masked, what stays, and Drain3 compatibility."""

from __future__ import annotations

import pytest

from streams.logs.masking import DEFAULT_RULES, FastMasker, masking_instructions

CASES = [
    ("req 3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b done", "req <UUID> done"),
    ("from 10.1.2.3:8080 to 192.168.0.1", "from <IP> to <IP>"),
    ("peers 10.0.0.1,10.0.0.2 up", "peers <IP> up"),
    ("open /var/log/app/x.log now", "open <PATH> now"),
    ("GET http://example.com/a?b=1 ok", "GET <URL> ok"),
    ("took 12ms and 3.5 s", "took <DUR> and <DUR>"),
    ("addr 0x7fed806eb5d flags=0x1", "addr <HEX> flags=<HEX>"),
    ("block blk_-1608999687919862906 ok", "block <BLK> ok"),
    ("host worker-3.cluster.local:443 up", "host <HOST> up"),
    ("sent 1190 bytes (1.16 KB) ok", "sent <SIZE> ok"),
    ("mac 00:1a:2b:3c:4d:5e", "mac <MAC>"),
    ("count=42 ratio -1.5 id 00000009", "count=<NUM> ratio <NUM> id <NUM>"),
    ("channels 1 2 3 4 5", "channels <NUM>"),
    ("isOverlap:true", "isOverlap:<BOOL>"),
    ("rdd_42_20 stays partly", "rdd_<NUM>_<NUM> stays partly"),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_masks(line: str, expected: str) -> None:
    assert FastMasker().mask(line)[0] == expected


@pytest.mark.parametrize("word", ["user1", "ipv4", "sshd", "HTTP", "e.g.", "deadbeef"])
def test_words_are_kept(word: str) -> None:
    assert FastMasker().mask(f"a {word} b")[0] == f"a {word} b"


def test_values_in_order() -> None:
    masked, values = FastMasker().mask("u 7 from 10.0.0.2 in 5ms")
    assert masked == "u <NUM> from <IP> in <DUR>"
    assert values == [("7", "NUM"), ("10.0.0.2", "IP"), ("5ms", "DUR")]


def test_drain3_instructions_compile_and_agree_on_simple_lines() -> None:
    mis = masking_instructions()
    assert len(mis) == len(DEFAULT_RULES)
    line = "conn 3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b from 10.0.0.1"
    seq = line
    for mi in mis:
        seq = mi.mask(seq, "<", ">")
    assert seq == FastMasker().mask(line)[0]


def test_bad_rule_name_rejected() -> None:
    with pytest.raises(ValueError):
        FastMasker([("bad name", r"\d+")])
