"""docker/k8s: well-formed manifests, probes on every container, Services that select pods, real commands."""

from __future__ import annotations

import pytest
import yaml

from agent.settings import Settings, iter_settings_rows
from tests.deploy.helpers import K8S, resolve_cli

DOCS = [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
SETTINGS = {var for var, _, _ in iter_settings_rows()}


def kind(k: str) -> list[dict]:
    return [doc for _, doc in DOCS if doc.get("kind") == k]


def by_name(k: str, name: str) -> dict:
    return next(doc for doc in kind(k) if doc["metadata"]["name"] == name)


def test_every_document_is_a_kubernetes_object():
    assert DOCS
    for name, doc in DOCS:
        assert {"apiVersion", "kind"} <= set(doc), name
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"], name


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


@pytest.mark.parametrize("deployment", kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_deployment_containers_have_probes_resources_and_named_ports(deployment):
    spec = deployment["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    for c in spec["template"]["spec"]["containers"]:
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert c.get("livenessProbe") and c.get("readinessProbe"), c["name"]
        for probe in (c.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")):
            if probe:
                target = (probe.get("httpGet") or probe.get("tcpSocket"))["port"]
                assert target in ports or target in ports.values(), f"{c['name']}: probe port {target}"
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]


@pytest.mark.parametrize("service", kind("Service"), ids=lambda s: s["metadata"]["name"])
def test_services_select_a_deployment_and_its_ports(service):
    selector = service["spec"]["selector"]
    matches = [
        d for d in kind("Deployment") if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert len(matches) == 1, f"{service['metadata']['name']} selects {len(matches)} deployments"
    container_ports = {p["name"] for c in matches[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in container_ports


def bioagent_containers():
    for d in kind("Deployment"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            if c["image"].startswith("bioagent"):
                yield d["metadata"]["name"], c


def test_bioagent_commands_are_real_cli_commands():
    names = set()
    for name, c in bioagent_containers():
        resolve_cli(c["command"] + c.get("args", []))
        names.add(name)
        assert {"configMapRef": {"name": "bioagent-config"}} in c["envFrom"]
    assert names == {"api", "mcp-sequence", "mcp-literature"}


def test_api_probes_and_non_root():
    api = by_name("Deployment", "api")
    pod = api["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert api["spec"]["replicas"] >= 2  # stateless: several replicas behind one Service


def test_sglang_worker_and_router():
    worker = by_name("Deployment", "sglang")["spec"]["template"]["spec"]["containers"][0]
    args = worker["args"]
    assert worker["command"] == ["python3", "-m", "sglang.launch_server"]
    assert "--model-path=Qwen/Qwen2.5-7B-Instruct" in args and "--tool-call-parser=qwen25" in args
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert worker[probe]["httpGet"]["path"] == "/health"
    router = by_name("Deployment", "sglang-router")["spec"]["template"]["spec"]
    rargs = router["containers"][0]["args"]
    assert rargs[rargs.index("--policy") + 1] == "cache_aware" and "--service-discovery" in rargs
    selector = rargs[rargs.index("--selector") + 1]
    key, value = selector.split("=")
    assert by_name("Deployment", "sglang")["spec"]["template"]["metadata"]["labels"][key] == value
    role = by_name("Role", "sglang-router")
    assert {"get", "list", "watch"} <= set(role["rules"][0]["verbs"])
    assert router["serviceAccountName"] == "sglang-router"


def test_configmap_is_valid_bioagent_settings(monkeypatch, tmp_path):
    data = by_name("ConfigMap", "bioagent-config")["data"]
    assert set(data) <= SETTINGS, set(data) - SETTINGS
    for var in SETTINGS:
        monkeypatch.delenv(var, raising=False)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert settings.llm.base_url == "http://sglang-router:30000/v1"
    q = settings.qdrant
    assert (q.shard_number, q.replication_factor, q.write_consistency_factor) == (6, 2, 1)
    assert settings.mcp.sequence.transport == "http"
