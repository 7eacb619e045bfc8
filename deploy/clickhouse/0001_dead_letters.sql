-- First migration: the dead-letter table every component writes to.
-- Tables for signals and results arrive with the history migrations (0002+).
CREATE DATABASE IF NOT EXISTS `{db}`;

CREATE TABLE IF NOT EXISTS `{db}`.dead_letters
(
    timestamp   DateTime64(3, 'UTC') COMMENT 'When the record was dead-lettered',
    component   LowCardinality(String) COMMENT 'Component that gave up',
    stage       LowCardinality(String) COMMENT 'DECODE, VALIDATE, PROCESS or SINK',
    topic       LowCardinality(String) COMMENT 'Source topic or receiver endpoint',
    partition   Int32 COMMENT 'Source partition (-1 for receiver input)',
    offset      Int64 COMMENT 'Source offset (-1 for receiver input)',
    error_type  LowCardinality(String) COMMENT 'Error class',
    error       String COMMENT 'Why it failed',
    key         String COMMENT 'Original key bytes',
    raw         String CODEC(ZSTD(3)) COMMENT 'Original payload bytes'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (topic, partition, offset, timestamp)
TTL toDateTime(timestamp) + INTERVAL 14 DAY
SETTINGS non_replicated_deduplication_window = 1000;
