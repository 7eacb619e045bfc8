-- Rollups off the insert path (docs/history.md, "Rollup builder"): the insert-time views
-- that filled metrics_1m / metrics_1h (a quantilesTDigest state per sample, ~7 CPU-s per
-- million samples on live inserts) are dropped; the sink's rollup builders (one per
-- table) aggregate each slice (lo, hi] of inserted `metrics` blocks instead, with an
-- intent in `metrics_rollup_progress` before the insert and one deduplication token per
-- slice. Readers take rollup rows before the first minute (hour) still holding unbuilt
-- samples and raw samples from there on, so nothing is lost or counted twice meanwhile.
DROP VIEW IF EXISTS `{db}`.metrics_1h_mv;

DROP VIEW IF EXISTS `{db}`.metrics_1m_mv;

-- Persisted `_block_number`: rows keep the number of the insert block they came in
-- (numbers follow commit order) through merges. Re-running this is a no-op.
ALTER TABLE `{db}`.metrics MODIFY SETTING enable_block_number_column = 1;

-- Builder progress, one row per rollup table (slot 0: metrics_1m, 1: metrics_1h): the
-- latest row (highest seq) names the slice (lo, hi] of `metrics` blocks; done = 0 is an
-- intent (its insert may or may not have landed: redo it with the same token), done = 1
-- a finished slice. Readers treat blocks <= the latest done hi (lo of an open intent) as
-- aggregated.
CREATE TABLE IF NOT EXISTS `{db}`.metrics_rollup_progress
(
    slot     UInt8 COMMENT '0: metrics_1m, 1: metrics_1h',
    lo       UInt64 COMMENT 'Slice start (exclusive metrics block number)',
    hi       UInt64 COMMENT 'Slice end (inclusive)',
    done     UInt8 COMMENT '0: intent, 1: rollups written',
    seq      UInt64 COMMENT 'Increases by one per recorded row',
    updated  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY slot;

-- An existing database: the dropped views already rolled up every block so far, so the
-- builders start after the newest one (a fresh database starts at 0).
INSERT INTO `{db}`.metrics_rollup_progress (slot, lo, hi, done, seq)
SELECT s, b, b, 1, 1
FROM (SELECT toUInt64(max(max_block_number)) AS b FROM system.parts
      WHERE active AND database = '{db}' AND table = 'metrics')
ARRAY JOIN [0, 1] AS s
WHERE (SELECT count() FROM `{db}`.metrics_rollup_progress) = 0;
