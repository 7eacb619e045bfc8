"""One settings object, read from AIOPS_* variables, documented in the README."""

from __future__ import annotations

import pytest

from streams.cli.config import README, readme_with_table
from streams.settings import Settings


def test_readme_documents_every_setting() -> None:
    text = README.read_text()
    assert readme_with_table(text) == text, "run `aiops config readme`"
    for name in Settings.model_fields:
        assert f"`AIOPS_{name.upper()}`" in text


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_KAFKA_BOOTSTRAP", "broker-1:9092,broker-2:9092")
    monkeypatch.setenv("AIOPS_KAFKA_PORT", "29092")
    settings = Settings()
    assert settings.kafka_bootstrap == "broker-1:9092,broker-2:9092"
    assert settings.kafka_port == 29092
    assert not settings.uses_local_kafka
    assert settings.uses_local_clickhouse


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_SCHEMA_REGISTRY_TOKEN", "s3cret-token")
    settings = Settings()
    assert "s3cret-token" not in repr(settings)
    assert settings.schema_registry_token is not None
    assert settings.schema_registry_token.get_secret_value() == "s3cret-token"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_KAFKA_PORT", "not-a-port")
    with pytest.raises(ValueError, match="kafka_port"):
        Settings()
