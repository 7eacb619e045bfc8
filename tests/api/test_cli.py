"""``aiops token create`` and ``aiops api``'s refusal to run unconfigured (real subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from api.auth.tokens import TokenStore
from connectors.clickhouse.client import connect

pytestmark = pytest.mark.stack


def aiops(stack, db: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": stack.bootstrap,
           "AIOPS_CLICKHOUSE_URL": stack.clickhouse_url, "AIOPS_CLICKHOUSE_DATABASE": db,
           "AIOPS_API_PORT": "0"}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_api_refuses_without_auth_then_token_create(stack) -> None:
    db = f"api_cli_{uuid.uuid4().hex[:8]}"
    refused = aiops(stack, db, "api")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--insecure-dev" in refused.stderr
    made = aiops(stack, db, "token", "create", "--role", "operator", "--clusters", "a,b",
                 "--name", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("aiops_")
    principal = TokenStore(connect(stack.clickhouse_url, db), db).verify(token)
    assert principal is not None and principal.role.value == "operator"
    assert principal.clusters == frozenset({"a", "b"})
    listed = aiops(stack, db, "token", "list")
    assert "ci operator" in listed.stdout and token not in listed.stdout
