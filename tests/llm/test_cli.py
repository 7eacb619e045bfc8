"""``aiops llm explain`` as a real process, configured only through AIOPS_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.llm.servers import LLMServer, openai_chat
from tests.llm.test_explain import GOOD, _causes

REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    causes = tmp_path / "causes.json"
    causes.write_text(json.dumps({"causes": _causes()}))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "llm", "explain", str(causes), *args],
        cwd=tmp_path, env={**clean, "PYTHONPATH": str(REPO), **env}, capture_output=True,
        text=True, timeout=60, check=False)


def test_explain_with_vllm_from_environment(tmp_path: Path) -> None:
    with LLMServer() as vllm:
        vllm.script(openai_chat(json.dumps(GOOD), tokens_in=321, tokens_out=45))
        done = _run(tmp_path, {"AIOPS_LLM_PROVIDERS": "vllm",
                               "AIOPS_VLLM_URL": vllm.openai_base_url,
                               "AIOPS_VLLM_MODEL": "served-model"})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["provider"], out["model"], out["tokens_in"]) == ("vllm", "served-model", 321)
    assert out["explanation"] == GOOD

