"""A real Apache Kafka broker in KRaft combined mode, fetched by Maven.

The jars come from ``deploy/local/kafka-pom.xml`` through
``mvn dependency:copy-dependencies`` into ``<cache>/kafka-<version>/libs``;
the broker runs as ``java kafka.Kafka server.properties`` on loopback.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from streams.stack import StackConfigError, StackStartError

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "deploy" / "local" / "kafka-pom.xml"
SUPPORTED_MAJOR = ("3.9", "4.")

LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
"""


@dataclass(frozen=True)
class KafkaLayout:
    """Where one local broker keeps its files."""

    home: Path

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.home / "data"

    @property
    def server_log(self) -> Path:
        return self.home / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.home / "stdout.log"


def check_version(version: str) -> None:
    """Refuse versions this launcher was not built for."""
    if not version.startswith(SUPPORTED_MAJOR):
        raise StackConfigError(f"Kafka {version} is not supported; use 4.x or 3.9.x")


def ensure_jars(version: str, cache_dir: Path) -> Path:
    """Fetch the broker's jars with Maven once per version; return the libs dir."""
    check_version(version)
    libs = cache_dir / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackConfigError("Maven (mvn) is needed to fetch Kafka; install it (JDK 17+)")
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={version}",
        "dependency:copy-dependencies", f"-DoutputDirectory={libs}", "-DincludeScope=runtime",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackStartError(f"mvn failed fetching Kafka {version}: {proc.stdout[-2000:]}")
    marker.write_text(version)
    return libs


def cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's own ``Uuid.randomUuid``, an id starting with '-' is drawn again:
    the storage tool would read it as an option.
    """
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


def write_properties(layout: KafkaLayout, port: int, controller_port: int) -> None:
    """Write a single-node KRaft combined-mode configuration."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(layout.log_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "message.max.bytes": str(16 * 1024 * 1024),
        "log.retention.check.interval.ms": "60000",
        "log.segment.bytes": str(256 * 1024 * 1024),
    }
    layout.home.mkdir(parents=True, exist_ok=True)
    layout.properties.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (layout.home / "log4j2.properties").write_text(LOG4J2.format(log=layout.server_log))


def java_command(libs: Path, layout: KafkaLayout, heap: str, *args: str) -> list[str]:
    """A java command line with the broker's classpath and logging."""
    java = shutil.which("java")
    if java is None:
        raise StackConfigError("java (JDK 17+) is needed to run Kafka")
    return [
        java, f"-Xmx{heap}", f"-Xms{min_heap(heap)}", "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.home / 'log4j2.properties'}",
        f"-Dlog4j.configurationFile={layout.home / 'log4j2.properties'}",
        "-cp", f"{libs}/*", *args,
    ]


def min_heap(heap: str) -> str:
    """Start with a quarter of the maximum heap."""
    unit = heap[-1]
    return f"{max(int(heap[:-1]) // 4, 64)}{unit}"


def format_storage(libs: Path, layout: KafkaLayout, heap: str) -> None:
    """Format the KRaft log dir once; an already formatted dir is left alone."""
    if (layout.log_dir / "meta.properties").exists():
        return
    cmd = java_command(
        libs, layout, heap, "kafka.tools.StorageTool", "format",
        "-t", cluster_id(), "-c", str(layout.properties),
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackStartError(f"kafka storage format failed: {proc.stdout}{proc.stderr}")


def spawn_broker(libs: Path, layout: KafkaLayout, heap: str) -> subprocess.Popen[bytes]:
    """Start the broker detached from our process group; output to stdout.log."""
    cmd = java_command(libs, layout, heap, "kafka.Kafka", str(layout.properties))
    out = open(layout.stdout_log, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=layout.home, env={**os.environ},
        )
    finally:
        out.close()
