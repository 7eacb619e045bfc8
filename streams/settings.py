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
