"""Find the helm binary (Debian has no package: `.ci/run` builds it from its Go module)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

CHART = REPO / "deploy" / "helm" / "aiops-nextgen"


def helm_binary() -> str:
    """Path of helm, or skip (fail under CI, where .ci/run must have installed it)."""
    found = shutil.which("helm") or next(
        (str(p) for p in (Path.home() / "go" / "bin" / "helm",) if p.exists()), None
    )
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("helm is missing: .ci/run installs it with `go install helm.sh/helm/v3/...`")
    pytest.skip("helm not installed (go install helm.sh/helm/v3/cmd/helm@v3.22.0)")


def render_chart(*values_files: Path, set_values: tuple[str, ...] = ()) -> list[dict]:
    """`helm template` the chart and parse every document."""
    cmd = [helm_binary(), "template", "aiops", str(CHART), "--namespace", "aiops"]
    for path in values_files:
        cmd += ["-f", str(path)]
    for item in set_values:
        cmd += ["--set", item]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def render_overlay(name: str) -> list[dict]:
    """`kubectl kustomize --enable-helm` one overlay."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is missing")
        pytest.skip("kubectl not installed")
    out = subprocess.run(
        [kubectl, "kustomize", "--enable-helm", "--helm-command", helm_binary(),
         str(REPO / "deploy" / "kustomize" / "overlays" / name)],
        capture_output=True, text=True, check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]
