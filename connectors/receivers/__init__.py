"""Push and pull receivers: OTLP/HTTP, OTLP on Kafka, Loki push and pull, Alertmanager."""
