"""Sources (Prometheus, DCGM, OTLP, Loki, Alertmanager) and sinks (ClickHouse, webhooks)."""
