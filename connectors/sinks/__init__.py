"""Batching sinks: Kafka records in, durable writes out (ClickHouse history)."""
