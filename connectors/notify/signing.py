"""HMAC-SHA256 webhook signatures with a timestamp and a replay window.

Scheme (documented in docs/notify.md so receivers can verify without our code):

* header ``X-AIOps-Signature: t=<unix seconds>,v1=<hex>``
* ``<hex>`` = lowercase hex HMAC-SHA256 over ``"<t>." + raw body bytes``, keyed with the
  endpoint's secret (UTF-8).
* A receiver rejects a signature whose ``t`` is more than the replay window (default
  300 s) away from its clock, and compares digests in constant time.

>>> header = sign(b"secret", b'{"a":1}', timestamp=1700000000)
>>> header.startswith("t=1700000000,v1=")
True
>>> verify(b"secret", b'{"a":1}', header, now=1700000010)
True
>>> verify(b"secret", b'{"a":2}', header, now=1700000010)
False
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-AIOps-Signature"
DEFAULT_WINDOW_S = 300


class SignatureError(ValueError):
    """A signature header that cannot be parsed."""


def digest(secret: bytes, body: bytes, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-AIOps-Signature`` header value for ``body``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={digest(secret, body, ts)}"


def parse(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 digests) of a header; several ``v1`` allow secret rotation."""
    ts: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed signature element {part!r}")
        if key == "t":
            try:
                ts = int(value)
            except ValueError:
                raise SignatureError(f"timestamp {value!r} is not an integer") from None
        elif key == "v1":
            digests.append(value)
    if ts is None or not digests:
        raise SignatureError("signature needs t=<seconds> and at least one v1=<hex>")
    return ts, digests


def verify(secret: bytes, body: bytes, header: str, *, window_s: int = DEFAULT_WINDOW_S,
           now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within the replay window."""
    try:
        ts, digests = parse(header)
    except SignatureError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > window_s:
        return False
    expected = digest(secret, body, ts)
    return any(hmac.compare_digest(expected, d) for d in digests)
