-- Results of the pipeline. ReplacingMergeTree keys are a second guard behind the
-- sink's insert deduplication tokens: a record seen twice collapses on merge (read
-- with FINAL for exact answers before merges ran).
CREATE TABLE IF NOT EXISTS `{db}`.alerts
(
    timestamp      DateTime64(3, 'UTC') COMMENT 'When our receiver accepted it',
    starts_at      DateTime64(3, 'UTC'),
    ends_at        Nullable(DateTime64(3, 'UTC')) COMMENT 'NULL while firing',
    cluster        LowCardinality(String),
    fingerprint    String,
    status         LowCardinality(String) COMMENT 'FIRING or RESOLVED',
    alertname      LowCardinality(String),
    severity       LowCardinality(String),
    labels         Map(LowCardinality(String), String),
    annotations    Map(LowCardinality(String), String),
    generator_url  String,
    receiver       LowCardinality(String),
    group_key      String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (cluster, fingerprint, starts_at, status, timestamp)
TTL toDateTime(timestamp) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS `{db}`.anomalies
(
    timestamp    DateTime64(3, 'UTC') COMMENT 'Time of the triggering sample (sample_ts)',
    start_ts     DateTime64(3, 'UTC'),
    detected_ts  DateTime64(3, 'UTC'),
    anomaly_id   String,
    cluster      LowCardinality(String),
    entity_type  LowCardinality(String),
    entity       String,
    name         LowCardinality(String),
    labels       Map(LowCardinality(String), String),
    series_id    Int64,
    type         LowCardinality(String),
    actual       Float64,
    expected     Float64,
    lower        Float64,
    upper        Float64,
    score        Float64,
    confidence   Float64,
    severity     LowCardinality(String),
    detector     LowCardinality(String),
    rule         Nullable(String)
)
ENGINE = ReplacingMergeTree(detected_ts)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (cluster, anomaly_id, timestamp)
TTL toDateTime(timestamp) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS `{db}`.incidents
(
    timestamp           DateTime64(3, 'UTC') COMMENT 'updated_ts of this version',
    opened_ts           DateTime64(3, 'UTC'),
    resolved_ts         Nullable(DateTime64(3, 'UTC')),
    incident_id         String,
    cluster             LowCardinality(String),
    status              LowCardinality(String) COMMENT 'OPEN, UPDATED or RESOLVED',
    severity            LowCardinality(String),
    title               String,
    anomaly_ids         Array(String),
    alert_fingerprints  Array(String),
    entities            Array(String),
    namespaces          Array(LowCardinality(String)),
    services            Array(LowCardinality(String)),
    nodes               Array(LowCardinality(String)),
    summary             String,
    version             Int64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(opened_ts)
ORDER BY (cluster, incident_id)
TTL toDateTime(opened_ts) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS `{db}`.rca_reports
(
    timestamp       DateTime64(3, 'UTC') COMMENT 'created_ts',
    report_id       String,
    incident_id     String,
    cluster         LowCardinality(String),
    top_entity_type LowCardinality(String) COMMENT 'Rank-1 cause (empty when none)',
    top_entity      String,
    top_score       Float64,
    top_pattern     LowCardinality(String),
    causes          String CODEC(ZSTD(3)) COMMENT 'Ranked causes with evidence, JSON',
    summary         String,
    probable_cause  String,
    impact          String,
    remediation     Array(String),
    provider        LowCardinality(String),
    model           Nullable(String),
    persona         LowCardinality(String),
    tokens_in       Int32,
    tokens_out      Int32,
    latency_ms      Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (cluster, incident_id, report_id)
TTL toDateTime(timestamp) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Fleet registry: the highest record_version per cluster name wins; a Kafka tombstone
-- becomes a row with is_deleted = 1 (hidden by FINAL).
CREATE TABLE IF NOT EXISTS `{db}`.clusters
(
    name            String,
    cluster_id      String,
    type            LowCardinality(String),
    platform        LowCardinality(String),
    version         String,
    region          LowCardinality(String),
    environment     LowCardinality(String),
    labels          Map(LowCardinality(String), String),
    endpoints       Map(LowCardinality(String), String),
    gpu_count       Int32,
    gpu_models      Array(String),
    has_ptp         Bool,
    has_sriov       Bool,
    has_dpdk        Bool,
    has_prometheus  Bool,
    has_loki        Bool,
    has_tempo       Bool,
    status          LowCardinality(String),
    health_score    Float64,
    last_seen       DateTime64(3, 'UTC'),
    record_version  Int64,
    is_deleted      UInt8
)
ENGINE = ReplacingMergeTree(record_version, is_deleted)
ORDER BY name
SETTINGS non_replicated_deduplication_window = 1000;
