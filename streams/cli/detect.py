"""``aiops detect``: one worker of the horizontally scalable detection group."""

from __future__ import annotations

import signal

import typer

from streams.settings import get_settings
from streams.stack.manager import LocalStack

app = typer.Typer()


@app.callback(invoke_without_command=True)
def run(
    metrics_port: int = typer.Option(
        None, help="Port for /metrics (default: AIOPS_DETECT_METRICS_PORT; 0 disables)."),
    metrics_topic: str = typer.Option("aiops.metrics", help="Metric batches to read."),
    gpu_topic: str = typer.Option("aiops.gpu", help="GPU batches to read ('' to skip)."),
    spans_topic: str = typer.Option("aiops.spans", help="Spans for RED/edges ('' to skip)."),
    logs_topic: str = typer.Option("aiops.logs", help="Logs for templates ('' to skip)."),
    clusters_topic: str = typer.Option(
        "aiops.clusters", help="Registry heartbeats for the cluster-silence rule ('' to skip)."),
    anomalies_topic: str = typer.Option("aiops.anomalies", help="Where anomalies go."),
    group: str = typer.Option(None, help="Consumer group (default: AIOPS_DETECT_GROUP)."),
    max_seconds: float = typer.Option(None, help="Stop after this long (default: run on)."),
) -> None:
    """Consume signal topics and publish anomalies until SIGTERM/SIGINT.

    Start more processes with the same group to serve more partitions; state moves with
    the partitions through the compacted ``aiops.detector-state`` topic.
    """
    from streams.detect.metric_stage import StageConfig
    from streams.detect.telemetry import DetectMetrics
    from streams.detect.worker import DetectWorker, WorkerConfig
    from streams.logs_setup import get_logger

    s = get_settings()
    stage = StageConfig.from_settings(s)
    config = WorkerConfig(
        bootstrap=LocalStack(s).kafka_bootstrap(), group=group or s.detect_group,
        metrics_topic=metrics_topic, gpu_topic=gpu_topic or None,
        spans_topic=spans_topic or None, logs_topic=logs_topic or None,
        clusters_topic=clusters_topic or None,
        cluster_silence_ms=int(s.detect_cluster_silence_s * 1000),
        anomalies_topic=anomalies_topic,
        checkpoint_interval_s=s.detect_checkpoint_interval_s,
        gpu_throttle_ratio=s.detect_gpu_throttle_ratio, stage=stage)
    metrics = DetectMetrics()
    port = s.detect_metrics_port if metrics_port is None else metrics_port
    if port:
        port = metrics.serve(port)
    worker = DetectWorker(config, metrics)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    get_logger(__name__).info("detect worker starting", group=config.group, metrics_port=port)
    worker.run(max_seconds=max_seconds)
