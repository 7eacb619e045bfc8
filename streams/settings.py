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
