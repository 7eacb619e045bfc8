"""Webhook signatures, checked by independent verifiers (stdlib hmac and Node.js crypto)."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess
import time

import pytest

from connectors.notify.signing import SIGNATURE_HEADER, sign, verify

SECRET = b"s3cr3t-per-endpoint"
BODY = b'{"incident":"i-1","status":"OPEN"}'


def _stdlib_check(secret: bytes, body: bytes, header: str, window: int = 300) -> bool:
    """The documented scheme, written from docs/notify.md without our module."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    ts = int(parts["t"])
    mac = hmac.new(secret, str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return abs(time.time() - ts) <= window and hmac.compare_digest(mac, parts["v1"])


def test_header_name_is_documented():
    assert SIGNATURE_HEADER == "X-AIOps-Signature"


def test_stdlib_verifier_accepts_ours_and_rejects_tampering():
    header = sign(SECRET, BODY)
    assert _stdlib_check(SECRET, BODY, header)
    assert not _stdlib_check(SECRET, BODY + b" ", header)
    assert not _stdlib_check(b"other-secret", BODY, header)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_crypto_verifier_accepts_ours():
    header = sign(SECRET, BODY)
    script = (
        "const c=require('crypto');const [s,b,h]=process.argv.slice(1);"
        "const p=Object.fromEntries(h.split(',').map(x=>x.split('=')));"
        "const m=c.createHmac('sha256',s).update(p.t+'.'+b).digest('hex');"
        "const ok=m.length===p.v1.length&&c.timingSafeEqual(Buffer.from(m),Buffer.from(p.v1))"
        "&&Math.abs(Date.now()/1000-Number(p.t))<=300;process.stdout.write(ok?'valid':'bad')")
    run = subprocess.run(["node", "-e", script, SECRET.decode(), BODY.decode(), header],
                         capture_output=True, text=True, timeout=30, check=True)
    assert run.stdout == "valid"
    tampered = subprocess.run(["node", "-e", script, SECRET.decode(), BODY.decode() + "x",
                               header], capture_output=True, text=True, timeout=30, check=True)
    assert tampered.stdout == "bad"


def test_verify_enforces_the_replay_window():
    old = sign(SECRET, BODY, timestamp=int(time.time()) - 301)
    assert not verify(SECRET, BODY, old)
    assert verify(SECRET, BODY, old, window_s=600)
    future = sign(SECRET, BODY, timestamp=int(time.time()) + 400)
    assert not verify(SECRET, BODY, future)


def test_verify_accepts_a_rotated_secret_and_rejects_garbage():
    ts = int(time.time())
    new = hmac.new(b"new", f"{ts}.".encode() + BODY, hashlib.sha256).hexdigest()
    old = hmac.new(SECRET, f"{ts}.".encode() + BODY, hashlib.sha256).hexdigest()
    header = f"t={ts},v1={new},v1={old}"
    assert verify(SECRET, BODY, header) and verify(b"new", BODY, header)
    for garbage in ("", "t=abc,v1=00", "v1=00", f"t={ts}", "nonsense"):
        assert not verify(SECRET, BODY, garbage)
