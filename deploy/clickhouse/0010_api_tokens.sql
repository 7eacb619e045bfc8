-- Static API tokens of `aiops api`: only the SHA-256 of a token is stored. The highest
-- version per token_id wins; revoking writes a new version with revoked = 1.
CREATE TABLE IF NOT EXISTS `{db}`.api_tokens
(
    token_id    String COMMENT 'Public id (the token prefix after aiops_)',
    token_hash  String COMMENT 'hex SHA-256 of the whole token',
    name        String COMMENT 'Who or what holds it',
    role        LowCardinality(String) COMMENT 'viewer, operator or admin',
    clusters    Array(String) COMMENT 'Cluster scope (empty: every cluster)',
    created_at  DateTime64(3, 'UTC'),
    expires_at  Nullable(DateTime64(3, 'UTC')),
    revoked     UInt8,
    version     Int64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY token_id;

-- Operator actions on incidents (acknowledge, annotate), newest last.
CREATE TABLE IF NOT EXISTS `{db}`.incident_notes
(
    timestamp    DateTime64(3, 'UTC'),
    incident_id  String,
    cluster      LowCardinality(String),
    kind         LowCardinality(String) COMMENT 'ACK or NOTE',
    author       String,
    text         String
)
ENGINE = MergeTree
ORDER BY (incident_id, timestamp);
