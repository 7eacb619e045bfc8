"""OTLP-on-Kafka: otlp_proto messages (as an OTel Collector's kafka exporter writes them,
encoded here by the OpenTelemetry SDK's own OTLP encoder) are republished to our topics."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connectors.receivers.base import Delivery, ReceiverMetrics
from connectors.receivers.otlp_kafka import OtlpKafkaConsumer
from streams.kafka.admin import admin_client
from streams.kafka.clients import make_consumer, make_producer
from tests.receivers.conftest import collect, sample

pytestmark = pytest.mark.stack


def test_collector_topics_are_republished(publisher, topics_ready, unique):
    cluster = f"kafka-{unique}"
    topics = [f"otlp_spans_{unique}", f"otlp_logs_{unique}", f"otlp_metrics_{unique}"]
    admin = admin_client(topics_ready)
    for fut in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        fut.result(30)
    resource = Resource.create({"service.name": "frontend", "k8s.cluster.name": cluster})
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    with tracer_provider.get_tracer("t").start_as_current_span("GET /"):
        pass
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter_provider.get_meter("t").create_counter("hits").add(9)
    producer = make_producer(topics_ready)
    producer.produce(topics[0], encode_spans(spans.get_finished_spans()).SerializeToString())
    producer.produce(topics[1], b"\xff\xfe definitely not protobuf")
    producer.produce(topics[2], encode_metrics(reader.get_metrics_data()).SerializeToString())
    assert producer.flush(10) == 0

    metrics = ReceiverMetrics()
    group = f"otlp-{unique}"
    consumer = OtlpKafkaConsumer(topics_ready, topics, Delivery(publisher, metrics),
                                 default_cluster="unused", group=group)
    consumer.start()
    try:
        (key, span), = collect(topics_ready, "aiops.spans", "span_batch",
                               lambda r: r["cluster"] == cluster, 1)
        (mkey, batch), = collect(topics_ready, "aiops.metrics", "metric_batch",
                                 lambda r: r["cluster"] == cluster, 1)
        dead = collect(topics_ready, "aiops.deadletter", "dead_letter",
                       lambda r: r["topic"] == topics[1], 1)
    finally:
        consumer.stop()
    assert key == f"{cluster}/frontend".encode() and span["operations"] == ["GET /"]
    assert span["source"] == "otlp-kafka"
    assert mkey.startswith(f"{cluster}/frontend".encode())
    assert batch["names"] == ["hits_total"] and batch["values"] == [9.0]
    assert dead[0][1]["stage"] == "DECODE" and dead[0][1]["raw"].startswith(b"\xff\xfe")
    assert "ExportLogsServiceRequest" in dead[0][1]["error"]
    assert sample(metrics, "aiops_receiver_samples_published_total", source="otlp-kafka",
                  signal="traces") == 1
    check = make_consumer(topics_ready, group)
    deadline = time.monotonic() + 10
    committed = []
    while time.monotonic() < deadline:
        committed = check.committed([TopicPartition(t, 0) for t in topics], timeout=5)
        if all(tp.offset == 1 for tp in committed):
            break
        time.sleep(0.2)
    check.close()
    assert [tp.offset for tp in committed] == [1, 1, 1]  # committed after republishing
