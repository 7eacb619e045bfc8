"""A real ClickHouse server process from the chdb-core wheel.

Run as ``python -m streams.stack.clickhouse_server --home DIR``. The process
writes ``DIR/config.xml`` (listen host and ports; port 0 lets the kernel pick),
starts the HTTP and native TCP listeners with ``SYSTEM START LISTEN`` inside one
long-running keep-alive query (chdb serves only while a query runs), discovers
the real ports from /proc and writes them to ``DIR/endpoint.json`` for clients.
Data lives in ``DIR/data``; MergeTree parts are on disk when an insert returns,
so a SIGKILL loses nothing that was acknowledged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from streams.stack.ports import listening_ports

CONFIG_TEMPLATE = """<clickhouse>
    <listen_host>{host}</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <max_concurrent_queries>200</max_concurrent_queries>
</clickhouse>
"""

# chdb serves HTTP/TCP only while a query is executing: this one sleeps forever,
# one row (at most 3 s) per block.
KEEP_ALIVE = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    "SELECT sleepEachRow(3) FROM numbers(1000000000000) "
    "SETTINGS max_block_size = 1, max_execution_time = 0 FORMAT Null"
)


def write_config(home: Path, host: str, http_port: int, tcp_port: int) -> None:
    """Write the server's config.xml into its working directory."""
    (home / "config.xml").write_text(
        CONFIG_TEMPLATE.format(host=host, http_port=http_port, tcp_port=tcp_port)
    )


def _publish_endpoint(home: Path, host: str, expect: int) -> None:
    """Wait for the listeners, then write endpoint.json atomically."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ports = listening_ports(os.getpid())
        if len(ports) >= expect:
            break
        time.sleep(0.1)
    else:
        print("clickhouse listeners did not open", file=sys.stderr, flush=True)
        os._exit(3)
    http_port, tcp_port = _classify(host, ports)
    tmp = home / "endpoint.json.tmp"
    tmp.write_text(
        json.dumps({"pid": os.getpid(), "host": host, "http_port": http_port,
                    "tcp_port": tcp_port})
    )
    tmp.replace(home / "endpoint.json")


def _classify(host: str, ports: list[int]) -> tuple[int, int]:
    """Tell the HTTP port from the native one by asking each for /ping."""
    import urllib.request

    http_port = tcp_port = 0
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/ping", timeout=2) as resp:
                if resp.read().strip() == b"Ok.":
                    http_port = port
                    continue
        except Exception:  # noqa: BLE001 - the native port does not speak HTTP
            pass
        tcp_port = port
    return http_port, tcp_port


def main(argv: list[str] | None = None) -> None:
    """Entry point of the server process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--tcp-port", type=int, default=0)
    args = parser.parse_args(argv)

    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    (home / "endpoint.json").unlink(missing_ok=True)
    write_config(home, args.host, args.http_port, args.tcp_port)
    os.chdir(home)

    threading.Thread(
        target=_publish_endpoint, args=(home, args.host, 2), daemon=True
    ).start()

    from chdb import _chdb  # heavy import, only in the server process

    try:
        _chdb.query(KEEP_ALIVE, "TSV", path=str(home / "data"))
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        print(f"clickhouse server stopped: {exc}", file=sys.stderr, flush=True)
        os._exit(2)


if __name__ == "__main__":
    main()
