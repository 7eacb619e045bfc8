-- Service edges across sink batches, partitions and sink processes (docs/history.md).
-- `span_links` keeps the few span columns the parent/child join needs, sorted by trace so
-- a trace's spans are found through the primary key. It is fed by a materialized view on
-- `spans`, so a replayed (deduplicated) spans block adds nothing here either. Its persisted
-- `_block_number` numbers inserted blocks in commit order: the sink's edge builder joins the
-- spans of blocks (lo, hi] with their partners in blocks <= hi and counts a parent/child
-- pair in the slice holding the later of the two, so every pair is counted exactly once.
-- Partners older than the TTL (default 1 day) are no longer joined.
CREATE TABLE IF NOT EXISTS `{db}`.span_links
(
    timestamp       DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)) COMMENT 'Span start',
    cluster         LowCardinality(String),
    trace_id        String,
    span_id         String,
    parent_span_id  String COMMENT 'Empty for a root span',
    service         LowCardinality(String),
    error           UInt8 COMMENT '1 when status_code is ERROR',
    duration_ns     Int64 CODEC(T64, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (cluster, trace_id, span_id)
TTL toDateTime(timestamp) + INTERVAL 1 DAY
SETTINGS enable_block_number_column = 1, add_minmax_index_for_block_number_column = 1,
    non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.span_links_mv TO `{db}`.span_links AS
SELECT s.timestamp AS timestamp, s.cluster AS cluster, s.trace_id AS trace_id,
       s.span_id AS span_id, s.parent_span_id AS parent_span_id, s.service AS service,
       toUInt8(s.status_code = 'ERROR') AS error, s.duration_ns AS duration_ns
FROM `{db}`.spans AS s;

-- One sentinel row that never expires keeps the table's block counter from restarting
-- at 0 (ClickHouse recomputes it from the parts left after a restart). It matches no
-- span: its ids are empty.
INSERT INTO `{db}`.span_links (timestamp, cluster, trace_id, span_id, parent_span_id, service)
SELECT toDateTime64('2100-01-01 00:00:00', 9, 'UTC'), '', '', '', '', ''
WHERE (SELECT count() FROM `{db}`.span_links WHERE trace_id = '' AND span_id = '') = 0;

-- Edge builder progress: the latest row names the slice (lo, hi] of span_links blocks;
-- done = 0 is an intent (its insert may or may not have landed: redo it with the same
-- deduplication token), done = 1 a finished slice.
CREATE TABLE IF NOT EXISTS `{db}`.service_edges_progress
(
    slot     UInt8 COMMENT 'Always 0',
    lo       UInt64 COMMENT 'Slice start (exclusive span_links block number)',
    hi       UInt64 COMMENT 'Slice end (inclusive)',
    done     UInt8 COMMENT '0: intent, 1: edges written',
    version  UInt64 COMMENT '2 * hi + done',
    updated  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY slot;
