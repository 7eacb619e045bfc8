"""``aiops ask`` streams the answer from the served API and shows the tool calls."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.settings import get_settings
from tests.llm.servers import anthropic_message_stream

pytestmark = pytest.mark.stack


@pytest.fixture()
def cli_env(chat_env, monkeypatch: pytest.MonkeyPatch):
    """The CLI reads its URL and token from AIOPS_* settings like every command."""
    monkeypatch.setenv("AIOPS_CLI_API_URL", chat_env.url)
    monkeypatch.setenv("AIOPS_CLI_API_TOKEN", chat_env.tokens["alpha"])
    get_settings.cache_clear()
    yield chat_env
    get_settings.cache_clear()


def test_ask_streams_answer_and_tool_calls(cli_env, llm) -> None:
    cli_env.use_llm("anthropic", claude=llm)
    llm.script(
        anthropic_message_stream(["Looking. "], [("t1", "get_ptp_status", {"since_minutes": 60}),
                                                ("t2", "get_gpu_nodes", {})]),
        anthropic_message_stream(["PTP on alpha-w1 is ", "locked."]))
    result = CliRunner().invoke(app, ["ask", "is PTP healthy?", "--persona", "telco-5g"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Looking." in out and "PTP on alpha-w1 is locked." in out
    assert '> get_ptp_status {"since_minutes": 60}' in out
    assert "< get_ptp_status: ok" in out
    assert "x refused get_gpu_nodes" in out  # telco-5g has no GPU tools
    assert "anthropic claude-test" in out and "session " in out


def test_ask_reports_503_reason(cli_env) -> None:
    cli_env.use_llm("")
    result = CliRunner().invoke(app, ["ask", "anything"])
    assert result.exit_code == 1
    assert "error 503" in result.output and "AIOPS_LLM_PROVIDERS" in result.output
