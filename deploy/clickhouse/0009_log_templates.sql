-- Drain template of every stored log line (docs/log-templates.md, "Stored templates").
-- The sink mines each LogBatch line with the stream's miner and writes, in this order per
-- batch and with the batch's insert deduplication token: the lines (template_id,
-- template_params), one row per (stream, template) into log_templates, and the changed
-- miners into log_miner_state (restored by the next owner of the partition).
ALTER TABLE `{db}`.logs
    ADD COLUMN IF NOT EXISTS template_params Array(String) CODEC(ZSTD(1))
    COMMENT 'Template parameters in line order, one per placeholder of the template'
    AFTER template_id;

ALTER TABLE `{db}`.logs
    COMMENT COLUMN template_id 'Drain template id mined by the sink: blake2b-64 of the template text';

-- Template texts per stream: read with GROUP BY (or FINAL); rows of one key merge.
CREATE TABLE IF NOT EXISTS `{db}`.log_templates
(
    cluster     LowCardinality(String),
    namespace   LowCardinality(String),
    app         LowCardinality(String) COMMENT 'labels[app], else container, else job',
    template_id String COMMENT 'blake2b-64 hex of the template text',
    template    SimpleAggregateFunction(anyLast, String) COMMENT 'Template text, <*> and <NAME> placeholders',
    first_seen  SimpleAggregateFunction(min, DateTime64(3, 'UTC')) COMMENT 'First line time',
    last_seen   SimpleAggregateFunction(max, DateTime64(3, 'UTC')) COMMENT 'Last line time',
    lines       SimpleAggregateFunction(sum, UInt64) COMMENT 'Lines stored with this template'
)
ENGINE = AggregatingMergeTree
ORDER BY (cluster, namespace, app, template_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Drain state per log stream, the sink's checkpoint; `offset` is the next offset of the
-- partition that the state does not reflect (lines before it are looked up read-only).
CREATE TABLE IF NOT EXISTS `{db}`.log_miner_state
(
    topic     LowCardinality(String),
    partition UInt32,
    stream    String COMMENT 'cluster/namespace/app',
    offset    UInt64,
    state     String COMMENT 'LogTemplateMiner.snapshot(): zlib-compressed JSON',
    saved     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(offset)
ORDER BY (topic, partition, stream)
SETTINGS non_replicated_deduplication_window = 10000;
