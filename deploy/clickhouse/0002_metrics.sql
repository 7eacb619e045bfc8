-- Raw metric samples, one row per sample; series identity leads the sort key so a
-- series' samples sit together; DoubleDelta (time) and Delta+ZSTD (value: measured
-- smaller than Gorilla+ZSTD on simulated fleet data, see docs/history.md) compress them.
-- Labels live once per series in `series` (like a TSDB index), not once per sample;
-- `metrics_labeled` joins them back for ad-hoc queries.
-- Raw TTL default 30 days; `aiops sink` applies AIOPS_HISTORY_METRICS_TTL_DAYS.
-- Inserts carry insert_deduplication_token; the window must hold every block a
-- crashed sink may replay.
CREATE TABLE IF NOT EXISTS `{db}`.metrics
(
    cluster    LowCardinality(String) COMMENT 'Cluster (registry name)',
    name       LowCardinality(String) COMMENT 'Metric name',
    series_id  Int64 COMMENT 'Stable series id: hash of cluster, name and labels',
    timestamp  DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)) COMMENT 'Sample time',
    value      Float64 CODEC(Delta, ZSTD(3)) COMMENT 'Sample value (NaN = missing reading)',
    type       LowCardinality(String) COMMENT 'GAUGE, COUNTER, HISTOGRAM, SUMMARY or UNTYPED'
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (cluster, name, series_id, timestamp)
TTL toDateTime(timestamp) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

-- One row per series (written again when a sink process first meets it; duplicates
-- collapse). Find series by label, then read their samples by series_id.
CREATE TABLE IF NOT EXISTS `{db}`.series
(
    cluster    LowCardinality(String),
    name       LowCardinality(String),
    series_id  Int64,
    labels     Map(LowCardinality(String), String) COMMENT 'Label set (without __name__)',
    type       LowCardinality(String),
    seen       DateTime64(3, 'UTC') COMMENT 'When a sink last wrote this row',
    INDEX label_values mapValues(labels) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(seen)
ORDER BY (cluster, name, series_id)
TTL toDateTime(seen) + INTERVAL 400 DAY;

CREATE VIEW IF NOT EXISTS `{db}`.metrics_labeled AS
SELECT m.cluster AS cluster, m.name AS name, m.series_id AS series_id,
       m.timestamp AS timestamp, m.value AS value, m.type AS type, s.labels AS labels
FROM `{db}`.metrics AS m
LEFT ANY JOIN (SELECT series_id, any(labels) AS labels FROM `{db}`.series GROUP BY series_id) AS s
    ON m.series_id = s.series_id;

-- 1-minute rollup (TTL 90 days): read avg with avgMerge(avg), quantiles with
-- quantilesTDigestMerge(0.5, 0.9, 0.99)(quantiles), last with argMaxMerge(last).
CREATE TABLE IF NOT EXISTS `{db}`.metrics_1m
(
    cluster    LowCardinality(String),
    name       LowCardinality(String),
    series_id  Int64,
    timestamp  DateTime('UTC') CODEC(DoubleDelta, ZSTD(1)) COMMENT 'Start of the minute',
    count      SimpleAggregateFunction(sum, UInt64),
    min        SimpleAggregateFunction(min, Float64),
    max        SimpleAggregateFunction(max, Float64),
    sum        SimpleAggregateFunction(sum, Float64),
    avg        AggregateFunction(avg, Float64),
    quantiles  AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float64),
    last       AggregateFunction(argMax, Float64, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (cluster, name, series_id, timestamp)
TTL timestamp + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.metrics_1m_mv TO `{db}`.metrics_1m AS
SELECT
    cluster, name, series_id,
    toStartOfMinute(m.timestamp) AS timestamp,
    count() AS count,
    min(m.value) AS min,
    max(m.value) AS max,
    sum(m.value) AS sum,
    avgState(m.value) AS avg,
    quantilesTDigestState(0.5, 0.9, 0.99)(m.value) AS quantiles,
    argMaxState(m.value, m.timestamp) AS last
FROM `{db}`.metrics AS m
WHERE NOT isNaN(m.value)
GROUP BY cluster, name, series_id, timestamp;

-- 1-hour rollup (TTL 400 days), fed from the 1-minute one.
CREATE TABLE IF NOT EXISTS `{db}`.metrics_1h AS `{db}`.metrics_1m
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (cluster, name, series_id, timestamp)
TTL timestamp + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.metrics_1h_mv TO `{db}`.metrics_1h AS
SELECT
    cluster, name, series_id,
    toStartOfHour(r.timestamp) AS timestamp,
    sum(r.count) AS count,
    min(r.min) AS min,
    max(r.max) AS max,
    sum(r.sum) AS sum,
    avgMergeState(r.avg) AS avg,
    quantilesTDigestMergeState(0.5, 0.9, 0.99)(r.quantiles) AS quantiles,
    argMaxMergeState(r.last) AS last
FROM `{db}`.metrics_1m AS r
GROUP BY cluster, name, series_id, timestamp;
