"""One settings object for every AIOps NextGen process.

Every field is read from an environment variable with the ``AIOPS_`` prefix
(``AIOPS_KAFKA_BOOTSTRAP``, ``AIOPS_CLICKHOUSE_URL`` ...) or a ``.env`` file.
Defaults target the embedded local stack started by ``aiops stack up``.

>>> s = Settings(kafka_bootstrap="broker:9092")
>>> s.kafka_bootstrap
'broker:9092'
>>> s.uses_local_kafka
False
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "aiops-nextgen"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "aiops-nextgen"


class Settings(BaseSettings):
    """Process configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="AIOPS_", env_file=".env", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers. Unset: the local stack's broker is used.",
    )
    clickhouse_url: str | None = Field(
        default=None,
        description="ClickHouse HTTP URL (http://user:pass@host:8123). Unset: the local stack.",
    )
    clickhouse_database: str = Field(default="aiops", description="ClickHouse database name.")
    schema_registry_url: str | None = Field(
        default=None,
        description="Confluent/Apicurio-compatible schema registry. Set: Confluent wire format.",
    )
    schema_registry_token: SecretStr | None = Field(
        default=None, description="Bearer token for the schema registry, if it needs one."
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Local stack data (Kafka log dirs, ClickHouse data, component logs).",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Downloaded artefacts (Kafka jars fetched by Maven).",
    )
    kafka_version: str = Field(default="4.1.1", description="Local Kafka version (4.x or 3.9.x).")
    kafka_port: int = Field(default=19092, description="Local broker port (0: pick a free one).")
    kafka_heap: str = Field(default="768m", description="Local broker JVM heap size.")
    clickhouse_http_port: int = Field(default=18123, description="Local ClickHouse HTTP port.")
    clickhouse_tcp_port: int = Field(default=19000, description="Local ClickHouse native port.")
    log_level: str = Field(default="INFO", description="Log level for every component.")
    log_format: str = Field(default="console", description="'console' or 'json' log lines.")
    # Receivers (aiops receive): OTLP/HTTP, Loki push/pull, Alertmanager webhook, OTLP on Kafka.
    receiver_host: str = Field(default="0.0.0.0", description="Receivers' listen address.")
    receiver_port: int = Field(default=4318, description="Receivers' HTTP port (all protocols).")
    receiver_default_cluster: str = Field(
        default="default",
        description="Cluster for data without a k8s.cluster.name / cluster attribute or label.",
    )
    receiver_max_body_bytes: int = Field(
        default=8 * 1024 * 1024, description="Largest request body accepted (as sent)."
    )
    receiver_max_decoded_bytes: int = Field(
        default=64 * 1024 * 1024, description="Largest body after gzip/snappy decompression."
    )
    receiver_publish_timeout_s: float = Field(
        default=10.0, description="Wait for Kafka's acknowledgement before answering 503."
    )
    receiver_max_inflight: int = Field(
        default=16, description="Concurrent deliveries; more requests are answered 429."
    )
    receiver_retry_after_s: int = Field(
        default=2, description="Retry-After (s) sent with 429/503 under backpressure."
    )
    loki_pull_url: str | None = Field(
        default=None, description="Loki base URL to pull from (query_range); unset: no pull."
    )
    loki_pull_query: str = Field(
        default='{job=~".+"}', description="LogQL stream selector for the Loki pull mode."
    )
    loki_pull_interval_s: float = Field(default=10.0, description="Loki pull poll interval.")
    loki_pull_limit: int = Field(default=5000, description="Lines per query_range page.")
    loki_pull_lag_s: float = Field(
        default=5.0, description="Pull only up to now minus this (lines still being ingested)."
    )
    loki_pull_cursor_path: Path | None = Field(
        default=None, description="Loki pull cursor file; unset: <data_dir>/loki_cursor.json."
    )
    otlp_kafka_bootstrap: str | None = Field(
        default=None,
        description="Broker holding an OTel Collector's otlp_proto topics; unset: no consumer.",
    )
    otlp_kafka_topics: str = Field(
        default="otlp_spans,otlp_logs,otlp_metrics",
        description="Comma-separated spans,logs,metrics topics of the Collector's kafka exporter.",
    )
    otlp_kafka_group: str = Field(
        default="aiops-otlp-kafka", description="Consumer group for the OTLP-on-Kafka topics."
    )
    # LLM explanation chain (optional: with no provider the deterministic template is used).
    llm_providers: str = Field(
        default="", description="Comma-separated provider order, e.g. 'vllm,anthropic,openai'."
    )
    llm_max_retries: int = Field(default=1, description="Retries per provider (retryable errors).")
    llm_backoff_s: float = Field(default=0.5, description="First retry backoff; doubles each try.")
    llm_max_backoff_s: float = Field(
        default=8.0, description="Longest backoff or retry-after honoured; longer: next provider."
    )
    llm_breaker_failures: int = Field(
        default=3, description="Consecutive failures that open a provider's circuit breaker."
    )
    llm_breaker_reset_s: float = Field(
        default=60.0, description="Seconds an open breaker waits before one trial call."
    )
    llm_max_tokens: int = Field(default=1024, description="Max completion tokens per call.")
    vllm_url: str | None = Field(
        default=None, description="vLLM OpenAI-compatible base URL (http://vllm:8000/v1)."
    )
    vllm_model: str = Field(default="", description="Model name served by vLLM.")
    vllm_api_key: SecretStr | None = Field(default=None, description="vLLM --api-key, if set.")
    vllm_timeout_s: float = Field(default=60.0, description="Per-call timeout for vLLM.")
    vllm_price_in_per_1k: float = Field(default=0.0, description="USD per 1k prompt tokens.")
    vllm_price_out_per_1k: float = Field(default=0.0, description="USD per 1k output tokens.")
    openai_api_key: SecretStr | None = Field(default=None, description="OpenAI API key.")
    openai_model: str = Field(default="gpt-4o-mini", description="OpenAI model name.")
    openai_base_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL override (proxy, gateway)."
    )
    openai_timeout_s: float = Field(default=30.0, description="Per-call timeout for OpenAI.")
    openai_price_in_per_1k: float = Field(default=0.00015, description="USD per 1k prompt tokens.")
    openai_price_out_per_1k: float = Field(default=0.0006, description="USD per 1k output tokens.")
    anthropic_api_key: SecretStr | None = Field(default=None, description="Anthropic API key.")
    anthropic_model: str = Field(default="claude-haiku-4-5", description="Anthropic model name.")
    anthropic_base_url: str | None = Field(
        default=None, description="Anthropic API base URL override (proxy, gateway)."
    )
    anthropic_timeout_s: float = Field(default=30.0, description="Per-call timeout for Anthropic.")
    anthropic_price_in_per_1k: float = Field(default=0.001, description="USD per 1k prompt tokens.")
    anthropic_price_out_per_1k: float = Field(
        default=0.005, description="USD per 1k output tokens."
    )

    # History sink (aiops sink): Kafka -> ClickHouse.
    sink_group: str = Field(default="aiops-sink", description="Consumer group of `aiops sink`.")
    sink_instance_id: str | None = Field(
        default=None,
        description="Static consumer-group membership id (e.g. the pod name): a restarted "
        "sink gets its partitions back at once instead of after the session timeout.",
    )
    sink_batch_rows: int = Field(
        default=100_000, description="Rows per (topic, partition) batch before it is written."
    )
    sink_batch_max_age_s: float = Field(
        default=1.0, description="Longest a batch waits before it is written (seconds)."
    )
    sink_metrics_port: int = Field(
        default=9471, description="Port of the sink's Prometheus /metrics (0: disabled)."
    )
    sink_edges_interval_s: float = Field(
        default=5.0, description="How often the sink owning spans partition 0 joins new spans "
        "into service_edges (seconds; 0: never)."
    )
    history_metrics_ttl_days: int = Field(default=30, description="Raw metric samples kept (days).")
    history_rollup_1m_ttl_days: int = Field(default=90, description="1-minute rollups kept (days).")
    history_rollup_1h_ttl_days: int = Field(default=400, description="1-hour rollups kept (days).")
    history_rollup_interval_s: float = Field(
        default=60.0, description="How often the sink owning metrics partition 0 aggregates "
        "newly inserted samples into metrics_1m (seconds; 0: never). Readers add "
        "the samples not aggregated yet from raw metrics, so this trades builder cost per "
        "sample (longer: fewer, fuller aggregate rows) against raw rows read per query."
    )
    history_rollup_1h_interval_s: float = Field(
        default=600.0, description="How often the same sink aggregates newly inserted samples "
        "into metrics_1h (seconds; 0: never). Every run writes a row per active series, so "
        "a longer interval makes hourly rows from more samples; readers add the rest from raw."
    )
    # Scraper (aiops scrape): Prometheus/DCGM/CNF pulls and the registry heartbeat.
    scrape_config: Path | None = Field(
        default=None, description="YAML scrape config of `aiops scrape` (scrape_configs subset)."
    )
    scrape_metrics_port: int = Field(
        default=9472, description="Port of the scraper's Prometheus /metrics (0: disabled)."
    )
    spool_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Bound of the on-disk spool used while Kafka is unreachable (oldest dropped).",
    )

    # Query API (aiops api): auth, limits, registry states, live stream.
    api_host: str = Field(default="0.0.0.0", description="Query API listen address.")
    api_port: int = Field(default=8080, description="Query API HTTP port.")
    api_tokenreview_url: str | None = Field(
        default=None,
        description="Kubernetes API URL for TokenReview auth (OpenShift); unset: static tokens.",
    )
    api_tokenreview_token_file: Path = Field(
        default=Path("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        description="Service-account token the API presents to the TokenReview endpoint.",
    )
    api_tokenreview_ca_file: Path | None = Field(
        default=None, description="CA bundle for the Kubernetes API (unset: system CAs)."
    )
    api_tokenreview_cache_s: float = Field(
        default=30.0, description="Seconds a TokenReview answer is cached."
    )
    api_group_roles: str = Field(
        default="",
        description="Kubernetes group -> role mapping, e.g. 'sre=operator,platform-admins=admin'.",
    )
    api_rate_limit_per_min: int = Field(
        default=1200, description="Requests per minute per token (all routes)."
    )
    api_expensive_rate_limit_per_min: int = Field(
        default=120, description="Requests per minute per token on expensive query routes."
    )
    api_offline_after_s: float = Field(
        default=90.0, description="A cluster without a heartbeat for this long is OFFLINE."
    )
    api_degraded_health: float = Field(
        default=0.9, description="Health score below which a live cluster is DEGRADED."
    )
    api_stream_queue: int = Field(
        default=1000, description="Per-client live-stream queue; the oldest events drop first."
    )
    api_stream_heartbeat_s: float = Field(
        default=15.0, description="Seconds between live-stream heartbeats."
    )
    api_stream_replay_max_events: int = Field(
        default=10_000, ge=0,
        description="Most relayed records a resuming live-stream client may replay "
        "(Last-Event-ID / since); further back is a 410.",
    )
    api_stream_replay_max_age_s: float = Field(
        default=6 * 3600.0, ge=0,
        description="Oldest `since` a live-stream client may replay from, in seconds "
        "(keep it below the result topics' Kafka retention).",
    )

    # Chat and MCP (api/chat, api/mcp_server.py, `aiops ask`, `aiops mcp`).
    chat_max_iterations: int = Field(
        default=6, description="Model calls one chat message may make (tool rounds + answer)."
    )
    chat_token_budget: int = Field(
        default=32_000, description="Prompt + completion tokens one chat message may spend."
    )
    chat_session_ttl_s: float = Field(
        default=86_400.0, description="A chat session idle for this long expires."
    )
    chat_tool_result_chars: int = Field(
        default=12_000, description="Largest tool result (JSON characters) passed to the model."
    )
    cli_api_url: str = Field(
        default="http://127.0.0.1:8080", description="Query API base URL used by `aiops ask`."
    )
    cli_api_token: SecretStr | None = Field(
        default=None, description="Bearer token for `aiops ask` and `aiops mcp`."
    )

    # Correlation (aiops correlate): anomalies + alerts -> incidents (a Faust app).
    correlate_app_id: str = Field(
        default="aiops-correlate",
        description="Faust app id: consumer group and prefix of its changelog/member topics.",
    )
    correlate_window_s: float = Field(
        default=300.0,
        description="A member joins an incident whose event-time span it is within this of.",
    )
    correlate_quiet_s: float = Field(
        default=600.0, description="Quiet period: no new member for this long resolves it."
    )
    correlate_group_keys: str = Field(
        default="node,service,pod,gpu,ptp_domain",
        description="Topology keys that link a member to an incident (plus call-graph edges; "
        "'namespace' also exists, too coarse where a namespace hosts a whole application).",
    )
    correlate_callgraph: bool = Field(
        default=True, description="Call-graph neighbours (ClickHouse service_edges) also link."
    )
    correlate_open_severity: str = Field(
        default="HIGH",
        description="Lowest anomaly severity that opens an incident on its own (firing alerts "
        "always do); weaker anomalies only join or corroborate incidents.",
    )
    correlate_open_signals: int = Field(
        default=2,
        description="Distinct signals (metric names) linked anomalies need, one at the open "
        "severity, to open an incident (rule breaches and alerts open alone; 1: one is enough).",
    )
    correlate_callgraph_window_s: int = Field(
        default=3600, description="Service edges seen in this many seconds form the call graph."
    )
    correlate_callgraph_refresh_s: float = Field(
        default=60.0, description="How often the call graph is reloaded from ClickHouse."
    )
    correlate_tick_s: float = Field(
        default=5.0, description="How often quiet incidents are looked for (seconds)."
    )
    correlate_retain_resolved_s: float = Field(
        default=3600.0, description="Resolved incidents kept in state (replays stay deduplicated)."
    )
    correlate_max_members: int = Field(
        default=1000, description="Members listed per incident; more are counted only."
    )
    correlate_escalate_entities: int = Field(
        default=5, description="Entities involved that raise the severity one step (0: never)."
    )
    correlate_partitions: int = Field(
        default=6, description="Partitions of the Faust member topic and its state table."
    )
    correlate_topic_replication: int = Field(
        default=1, description="Replication factor of the Faust internal topics it creates."
    )
    correlate_metrics_port: int = Field(
        default=9473, description="Port of the correlator's Prometheus /metrics (0: disabled)."
    )
    # Root-cause analysis (aiops rca): incidents -> ranked causes + explanation.
    rca_group: str = Field(default="aiops-rca", description="Consumer group of `aiops rca`.")
    rca_persona: str = Field(default="default", description="Persona of the explanations.")
    rca_history_wait_s: float = Field(
        default=5.0, description="Longest wait for an incident's members to reach ClickHouse."
    )
    rca_lookback_s: int = Field(
        default=900, description="History before the incident read for edges and log baselines."
    )
    rca_metrics_port: int = Field(
        default=9474, description="Port of the RCA worker's Prometheus /metrics (0: disabled)."
    )
    # Detection (aiops detect): signal topics -> aiops.anomalies.
    detect_group: str = Field(
        default="aiops-detect", description="Consumer group of `aiops detect`."
    )
    detect_sensitivity: str = Field(
        default="MEDIUM", description="LOW, MEDIUM, HIGH or EXTREME (z 3.0/2.5/2.0/1.5)."
    )
    detect_warmup: int = Field(default=100, description="Samples per series before it may alert.")
    detect_cooldown_s: float = Field(
        default=300.0, description="Quiet time per series after an alert episode."
    )
    detect_escalate_ratio: float = Field(
        default=10.0, description="A series that is alerting or cooling down alerts again when "
        "its z reaches this many times the peak z of that episode (0: never)."
    )
    detect_stale_s: float = Field(
        default=3600.0, description="Series without samples for this long are evicted."
    )
    detect_seasonal_bins: int = Field(
        default=0, description="Daily profile bins of the metric detector (0: off)."
    )
    detect_checkpoint_interval_s: float = Field(
        default=30.0, description="Seconds between state checkpoints (and offset commits)."
    )
    detect_ptp_offset_ns: float = Field(
        default=100.0, description="PTP |offset| (ns) above which the CNF rule fires."
    )
    detect_cluster_silence_s: float = Field(
        default=120.0, description="A cluster whose registry heartbeat is this far behind the "
        "newest heartbeat (event time) is reported silent (CRITICAL, entity CLUSTER)."
    )
    detect_gpu_throttle_ratio: float = Field(
        default=0.1, description="Share of time thermally/power throttled that fires the rule."
    )
    detect_metrics_port: int = Field(
        default=9475, description="Port of the detect worker's Prometheus /metrics (0: disabled)."
    )

    # Alert delivery (aiops notify): routing, retries, Alertmanager API.
    notify_group: str = Field(
        default="aiops-notify", description="Consumer group of `aiops notify`."
    )
    notify_routes: Path | None = Field(
        default=None, description="Routing YAML (endpoints + routes); an API-saved override wins."
    )
    notify_api_base_url: str = Field(
        default="", description="Public base URL of the query API, for links in notifications."
    )
    notify_anomaly_min_severity: str = Field(
        default="HIGH", description="Anomalies at or above this severity are notified."
    )
    notify_max_attempts: int = Field(
        default=8, description="Attempts per delivery before it is dead-lettered."
    )
    notify_backoff_s: float = Field(default=1.0, description="First retry delay; doubles each try.")
    notify_max_backoff_s: float = Field(default=300.0, description="Longest retry delay.")
    notify_backoff_jitter: float = Field(
        default=0.2, description="Random +- fraction applied to each retry delay."
    )
    notify_breaker_failures: int = Field(
        default=5, description="Consecutive failures that open an endpoint's circuit breaker."
    )
    notify_breaker_reset_s: float = Field(
        default=30.0, description="Seconds an open endpoint breaker waits before one trial."
    )
    notify_am_refresh_s: float = Field(
        default=60.0, description="Re-post interval of open alerts to Alertmanager (endsAt 3x)."
    )
    notify_routes_reload_s: float = Field(
        default=30.0, description="How often the effective routing document is re-read."
    )
    notify_worker_id: str = Field(
        default="notify", description="Worker name recorded with each delivery attempt."
    )
    notify_metrics_port: int = Field(
        default=9477, description="Port of the notifier's Prometheus /metrics (0: disabled)."
    )

    @property
    def uses_local_kafka(self) -> bool:
        """True when no external broker is configured."""
        return not self.kafka_bootstrap

    @property
    def uses_local_clickhouse(self) -> bool:
        """True when no external ClickHouse is configured."""
        return not self.clickhouse_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def settings_table() -> str:
    """The README's configuration table (Markdown), generated from the fields above."""
    home_defaults = {
        "data_dir": "~/.local/share/aiops-nextgen",
        "cache_dir": "~/.cache/aiops-nextgen",
    }
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = home_defaults.get(name, "(computed)")
        elif field.default is None:
            default = "unset"
        elif field.default == "":
            default = '""'
        else:
            default = str(field.default)
        rows.append(f"| `AIOPS_{name.upper()}` | `{default}` | {field.description or ''} |")
    return "\n".join(rows)
