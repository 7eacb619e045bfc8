"""Bearer token and TLS options against a local HTTPS endpoint that checks them."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors.publish.kafka import KafkaPublisher
from connectors.sources.config import GlobalConfig, JobConfig
from connectors.sources.discovery import Target
from connectors.sources.prometheus import PrometheusSource
from streams.stack.ports import free_port

TOKEN = "s3cret-token"
BODY = b'# TYPE thing gauge\nthing{a="1"} 42\n'


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b"unauthorized")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("tls")
    cert, key = work / "cert.pem", work / "key.pem"
    proc = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"openssl could not make a test certificate: {proc.stderr.decode()[:200]}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}", cert
    server.shutdown()
    server.server_close()


def scrape_with(address: str, **job: object):
    # no broker on purpose: the publisher keeps the batches in its spool
    pub = KafkaPublisher(f"127.0.0.1:{free_port()}")
    src = PrometheusSource(JobConfig(job_name="secure", scheme="https", **job), GlobalConfig(),
                           "c1", pub)
    target = Target("secure", address, {"job": "secure", "instance": address})

    async def run():
        try:
            return await src.scrape(target)
        finally:
            await src.stop()
    out = asyncio.run(run())
    pub.close(timeout=0)
    return out


def test_token_file_and_ca(https_endpoint, tmp_path: Path) -> None:
    address, cert = https_endpoint
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    out = scrape_with(address, bearer_token_file=token_file, tls_config={"ca_file": cert})
    assert out.up and out.samples == 1, out.error


def test_wrong_token_fails_the_scrape(https_endpoint) -> None:
    address, cert = https_endpoint
    out = scrape_with(address, bearer_token="nope", tls_config={"ca_file": cert})
    assert not out.up and "HTTP 401" in out.error


def test_untrusted_certificate_fails_unless_verification_is_skipped(https_endpoint) -> None:
    address, _ = https_endpoint
    out = scrape_with(address, bearer_token=TOKEN)
    assert not out.up and "CERTIFICATE_VERIFY_FAILED" in out.error
    out = scrape_with(address, bearer_token=TOKEN, tls_config={"insecure_skip_verify": True})
    assert out.up
