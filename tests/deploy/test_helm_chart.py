"""The Helm chart and Kustomize overlays render valid, hardened, least-privilege objects."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from schemas.topics import TOPICS
from streams.cli import COMMANDS
from tests.deploy.tooling import CHART, render_chart, render_overlay

K8S_VERSION = "1.32"
CRD_KINDS = {"KafkaUser", "KafkaTopic", "ServiceMonitor", "PrometheusRule", "Route"}
EXTERNAL_TOPICS = {"otlp_spans", "otlp_logs", "otlp_metrics"}

VARIANTS = {
    "default": lambda: render_chart(),
    "production": lambda: render_chart(
        CHART.parent.parent / "kustomize" / "overlays" / "prod" / "values-prod.yaml",
        set_values=("vllm.enabled=true",),
    ),
    "kustomize-dev": lambda: render_overlay("dev"),
    "kustomize-prod": lambda: render_overlay("prod"),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request: pytest.FixtureRequest) -> list[dict]:
    return VARIANTS[request.param]()


def _pods(objs: list[dict]) -> list[tuple[str, dict]]:
    return [(o["metadata"]["name"], o["spec"]["template"]["spec"])
            for o in objs if o["kind"] == "Deployment"]


def test_every_object_validates_against_kubernetes_schemas(rendered: list[dict]) -> None:
    for obj in rendered:
        if obj["kind"] in CRD_KINDS:
            assert obj["apiVersion"] and obj["metadata"]["name"] and obj["spec"]
            continue
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_pods_are_hardened(rendered: list[dict]) -> None:
    pods = _pods(rendered)
    assert pods
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            if not name.endswith("-vllm"):
                assert sc["readOnlyRootFilesystem"] is True, name
                assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
                assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name


def test_components_run_real_commands(rendered: list[dict]) -> None:
    commands = set(COMMANDS)
    for name, pod in _pods(rendered):
        if name.endswith("-vllm"):
            continue
        (container,) = pod["containers"]
        command = container["args"][0]
        assert command in commands, f"{name} runs unknown `aiops {command}`"


def test_kafka_users_are_least_privilege(rendered: list[dict]) -> None:
    known = {t.name for t in TOPICS} | EXTERNAL_TOPICS
    users = [o for o in rendered if o["kind"] == "KafkaUser"]
    for user in users:
        for acl in user["spec"]["authorization"]["acls"]:
            res = acl["resource"]
            if res["type"] == "topic":
                assert res["name"] in known, f"{user['metadata']['name']}: {res['name']}"
                assert res["patternType"] == "literal"
                assert set(acl["operations"]) <= {"Describe", "Read", "Write"}
            elif res["type"] == "group":
                assert res["name"].startswith("aiops-")
            else:
                assert res["type"] == "cluster" and acl["operations"] == ["IdempotentWrite"]


def test_production_values_scale_and_protect() -> None:
    objs = VARIANTS["production"]()
    kinds = {o["kind"] for o in objs}
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "KafkaUser",
            "ServiceMonitor", "PrometheusRule", "Route"} <= kinds
    vllm = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("vllm")]
    assert vllm and vllm[0]["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"]["nvidia.com/gpu"] == 1
    env = {e["name"]: e.get("value") for o in objs if o["kind"] == "Deployment"
           and o["metadata"]["name"].endswith("-api")
           for e in o["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AIOPS_LLM_PROVIDERS"].startswith("vllm")
    assert env["AIOPS_VLLM_URL"].endswith("-vllm:8000/v1")


def test_dev_overlay_is_small() -> None:
    objs = VARIANTS["kustomize-dev"]()
    assert all(o["metadata"].get("namespace", "aiops-dev") == "aiops-dev" for o in objs
               if o["kind"] != "ClusterRoleBinding")
    assert not [o for o in objs if o["kind"] in ("HorizontalPodAutoscaler", "KafkaUser")]
    assert all(o["spec"]["replicas"] == 1 for o in objs if o["kind"] == "Deployment")


def test_chart_values_parse() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values["components"]) >= {"detect", "sink", "api"}


def test_scrape_config_in_values_is_valid() -> None:
    from connectors.sources.config import ScrapeConfig

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    config = ScrapeConfig.model_validate(values["scrapeConfig"])
    assert config.scrape_configs


def test_notify_routes_in_values_reach_notify_and_api(tmp_path) -> None:
    from connectors.notify.routing import parse_routes

    values = tmp_path / "notify.yaml"
    values.write_text(yaml.safe_dump({"notify": {"existingSecret": "aiops-notify", "routes": {
        "endpoints": [{"name": "oncall", "type": "webhook", "format": "generic",
                       "url": "https://hooks.example/aiops",
                       "secret_file": "/etc/aiops/notify-secrets/oncall"}],
        "routes": [{"name": "page", "match": {"severity": ["CRITICAL"]},
                    "endpoints": ["oncall"]}]}}}))
    objs = render_chart(values)
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap"
             and o["metadata"]["name"].endswith("-notify-routes")]
    config = parse_routes(cm["data"]["routes.yaml"])
    assert [e.name for e in config.endpoints] == ["oncall"]
    for name, pod in _pods(objs):
        (container,) = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        wired = name.endswith(("-notify", "-api"))
        assert (env.get("AIOPS_NOTIFY_ROUTES") == "/etc/aiops/notify-routes.yaml") is wired, name
        assert ("/etc/aiops/notify-secrets" in mounts) is wired, name
    for obj in objs:
        if obj["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    assert not [o for o in render_chart() if o["metadata"]["name"].endswith("-notify-routes")]
