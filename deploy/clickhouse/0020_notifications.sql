-- Alert delivery (aiops notify): every attempt, the state of every delivery, and the
-- operator-managed routing document (an override of the YAML file).
CREATE TABLE IF NOT EXISTS `{db}`.notification_attempts
(
    timestamp        DateTime64(3, 'UTC') COMMENT 'When the attempt finished',
    idempotency_key  String COMMENT 'Delivery this attempt belongs to (one per notification and endpoint)',
    endpoint         LowCardinality(String),
    endpoint_type    LowCardinality(String) COMMENT 'webhook or alertmanager',
    kind             LowCardinality(String) COMMENT 'deliver or refresh (Alertmanager re-post)',
    route            LowCardinality(String),
    subject          String COMMENT 'incident:<id> or anomaly:<id>',
    event            LowCardinality(String) COMMENT 'OPEN, UPDATED, RESOLVED, RCA, ANOMALY',
    cluster          LowCardinality(String),
    attempt          UInt32 COMMENT '1 = first try',
    status           LowCardinality(String) COMMENT 'OK, HTTP_ERROR, TIMEOUT, CONNECT_ERROR, CIRCUIT_OPEN',
    http_status      UInt16,
    latency_ms       Float64,
    error            String,
    worker           LowCardinality(String) COMMENT 'Worker instance that made the attempt'
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (endpoint, timestamp, idempotency_key)
TTL toDateTime(timestamp) + INTERVAL 90 DAY;

-- One row per delivery; the highest version is the current state (read with FINAL).
CREATE TABLE IF NOT EXISTS `{db}`.notification_deliveries
(
    idempotency_key  String,
    endpoint         LowCardinality(String),
    endpoint_type    LowCardinality(String),
    route            LowCardinality(String),
    group_key        String,
    subject          String,
    event            LowCardinality(String),
    cluster          LowCardinality(String),
    severity         LowCardinality(String),
    state            LowCardinality(String) COMMENT 'PENDING, DELIVERED, DEAD, MUTED, THROTTLED, SUPERSEDED',
    attempts         UInt32,
    created_ts       DateTime64(3, 'UTC'),
    updated_ts       DateTime64(3, 'UTC'),
    next_attempt_ts  DateTime64(3, 'UTC'),
    delivered_ts     Nullable(DateTime64(3, 'UTC')),
    last_error       String,
    notification     String CODEC(ZSTD(3)) COMMENT 'The notification (JSON)',
    version          UInt64 COMMENT 'Monotonic (ns), the highest row wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY idempotency_key
TTL toDateTime(updated_ts) + INTERVAL 90 DAY;

-- Routing documents saved by operators (API); the newest row wins, an empty document
-- reverts to the YAML file.
CREATE TABLE IF NOT EXISTS `{db}`.notification_routing
(
    updated_ts  DateTime64(3, 'UTC'),
    actor       String,
    document    String
)
ENGINE = MergeTree
ORDER BY updated_ts
