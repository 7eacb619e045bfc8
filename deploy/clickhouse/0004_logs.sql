-- Log lines. Grafana's logs view reads `timestamp`, `body` and `level` directly.
-- tokenbf index on body for hasToken()/LIKE searches; bloom filter on trace_id.
CREATE TABLE IF NOT EXISTS `{db}`.logs
(
    timestamp    DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)) COMMENT 'Log line time',
    cluster      LowCardinality(String),
    namespace    LowCardinality(String) COMMENT 'labels[namespace]',
    pod          LowCardinality(String) COMMENT 'labels[pod]',
    container    LowCardinality(String) COMMENT 'labels[container]',
    app          LowCardinality(String) COMMENT 'labels[app]',
    level        LowCardinality(String) COMMENT 'TRACE, DEBUG, INFO, WARN, ERROR, FATAL, UNKNOWN',
    body         String CODEC(ZSTD(3)) COMMENT 'The log line',
    template_id  LowCardinality(String) COMMENT 'Drain template id (metadata[template_id]), empty if unmined',
    trace_id     String COMMENT 'Trace id, empty when none',
    span_id      String COMMENT 'Span id, empty when none',
    labels       Map(LowCardinality(String), String) COMMENT 'Stream labels',
    metadata     Map(LowCardinality(String), String) COMMENT 'Structured metadata / attributes',
    source       LowCardinality(String),
    INDEX body_tokens body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1,
    INDEX trace_bloom trace_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX template_set template_id TYPE set(1000) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (cluster, namespace, app, timestamp)
TTL toDateTime(timestamp) + INTERVAL 14 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
