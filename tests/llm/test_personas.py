"""Personas, and the doctests of the LLM and explanation modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

from streams.llm.personas import ALL_TOOLS, CNF_TOOLS, GPU_TOOLS, PERSONAS, get_persona

CHAT_TOOLS = {
    "list_clusters", "get_cluster_status", "fleet_summary", "query_metrics", "get_metric_labels",
    "search_traces", "get_trace", "query_logs", "log_patterns", "list_alerts", "list_anomalies",
    "get_incident", "get_rca", "get_gpu_nodes", "get_gpu_summary", "get_ptp_status",
    "get_sriov_status", "get_dpdk_stats",
}


def test_personas_and_their_tool_subsets() -> None:
    assert list(PERSONAS) == ["default", "platform-ops", "gpu-expert", "network-cnf", "telco-5g"]
    assert set(ALL_TOOLS) == CHAT_TOOLS and len(ALL_TOOLS) == len(CHAT_TOOLS)
    for persona in PERSONAS.values():
        assert set(persona.tools) <= CHAT_TOOLS
        assert len(set(persona.tools)) == len(persona.tools)
        assert persona.system_prompt and persona.title
    assert set(get_persona("default").tools) == CHAT_TOOLS
    gpu, cnf = set(get_persona("gpu-expert").tools), set(get_persona("network-cnf").tools)
    assert set(GPU_TOOLS) <= gpu and not set(CNF_TOOLS) & gpu
    assert set(CNF_TOOLS) <= cnf and not set(GPU_TOOLS) & cnf
    prompts = {p.system_prompt for p in PERSONAS.values()}
    assert len(prompts) == len(PERSONAS)


@pytest.mark.parametrize("name", [
    "streams.llm.base", "streams.llm.breaker", "streams.llm.personas", "streams.llm.config",
    "streams.rca.explain", "streams.rca.explain_template",
])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
