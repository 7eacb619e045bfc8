-- OpenTelemetry spans; `traces` (trace id -> time range) makes trace lookups cheap and
-- `grafana_traces` renames columns for Grafana's trace panel.
CREATE TABLE IF NOT EXISTS `{db}`.spans
(
    timestamp       DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)) COMMENT 'Span start',
    cluster         LowCardinality(String),
    trace_id        String,
    span_id         String,
    parent_span_id  String COMMENT 'Empty for a root span',
    service         LowCardinality(String),
    operation       LowCardinality(String),
    kind            LowCardinality(String),
    duration_ns     Int64 CODEC(T64, ZSTD(1)),
    status_code     LowCardinality(String) COMMENT 'UNSET, OK or ERROR',
    status_message  String,
    namespace       LowCardinality(String) COMMENT 'resources[k8s.namespace.name]',
    attributes      Map(LowCardinality(String), String),
    resources       Map(LowCardinality(String), String),
    source          LowCardinality(String),
    INDEX trace_bloom trace_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (cluster, service, operation, timestamp)
TTL toDateTime(timestamp) + INTERVAL 14 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `{db}`.traces
(
    trace_id  String,
    cluster   LowCardinality(String),
    start     SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    end       SimpleAggregateFunction(max, DateTime64(9, 'UTC')),
    spans     SimpleAggregateFunction(sum, UInt64),
    services  SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(start)
ORDER BY (trace_id, cluster)
TTL toDateTime(start) + INTERVAL 14 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.traces_mv TO `{db}`.traces AS
SELECT
    s.trace_id AS trace_id,
    s.cluster AS cluster,
    min(s.timestamp) AS start,
    max(s.timestamp + toIntervalNanosecond(s.duration_ns)) AS end,
    count() AS spans,
    groupUniqArray(s.service) AS services
FROM `{db}`.spans AS s
GROUP BY trace_id, cluster;

-- Service call graph per minute: parent service -> child service, from parent/child
-- spans seen in the same sink batch.
CREATE TABLE IF NOT EXISTS `{db}`.service_edges
(
    timestamp       DateTime('UTC') COMMENT 'Start of the minute',
    cluster         LowCardinality(String),
    parent_service  LowCardinality(String),
    child_service   LowCardinality(String),
    calls           UInt64,
    errors          UInt64,
    duration_ns_sum Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (cluster, parent_service, child_service, timestamp)
TTL timestamp + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE VIEW IF NOT EXISTS `{db}`.grafana_traces AS
SELECT
    trace_id AS traceID,
    span_id AS spanID,
    parent_span_id AS parentSpanID,
    service AS serviceName,
    operation AS operationName,
    toUnixTimestamp64Nano(timestamp) / 1000000 AS startTime,
    duration_ns / 1000000 AS duration,
    arrayMap(k -> map('key', k, 'value', attributes[k]), mapKeys(attributes)) AS tags,
    arrayMap(k -> map('key', k, 'value', resources[k]), mapKeys(resources)) AS serviceTags,
    status_code AS statusCode,
    kind AS kind,
    cluster,
    timestamp
FROM `{db}`.spans;
