"""Operations: pinned images, the HPA on in-flight answers through prometheus-adapter, an authenticated scrape
(token in compose, the pod-internal metrics port in k8s), readiness without the LLM, bounded graceful shutdown."""

from __future__ import annotations

import re

import yaml

from agent.api.metrics import APIMetrics
from agent.settings import Settings
from tests.deploy.helpers import DOCKER, K8S, load_compose
from tests.deploy.test_k8s import by_name, kind

GAUGE = "bioagent_runs_in_progress"


def _images() -> list[str]:
    found = [doc_image for path in K8S.glob("*.yaml") for doc_image in re.findall(r"image:\s*(\S+)", path.read_text())]
    found += re.findall(r"image:\s*\$\{\w+:-([^}]+)\}", (DOCKER / "compose.yaml").read_text())
    found += re.findall(r"^# \w+_IMAGE=(\S+)", (DOCKER.parent / ".env.example").read_text(), re.M)
    return found


def test_every_image_is_pinned():
    images = _images()
    assert len(images) >= 8
    for image in images:
        assert ":" in image and not image.endswith(":latest"), f"unpinned image {image}"


def test_hpa_scales_on_in_flight_answers_served_by_the_adapter():
    hpa = by_name("HorizontalPodAutoscaler", "api")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == GAUGE
    assert GAUGE in {f.name for f in APIMetrics(process_metrics=False).registry.collect()}, "the API exports it"
    rules = yaml.safe_load((DOCKER / "prometheus" / "k8s-adapter-values.yaml").read_text())["rules"]["custom"]
    assert any(r["name"]["as"] == GAUGE and GAUGE in r["seriesQuery"] for r in rules)


def test_k8s_scrapes_the_pod_metrics_port():
    dep = by_name("Deployment", "api")
    pod = dep["spec"]["template"]
    (c,) = pod["spec"]["containers"]
    annotations = pod["metadata"]["annotations"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    env = {e["name"]: e["value"] for e in c["env"]}
    assert annotations["prometheus.io/port"] == str(ports["metrics"]) == env["BIOAGENT_API__METRICS_PORT"]
    service = by_name("Service", "api")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"], "the metrics port is not exposed"
    assert not any("prometheus.io/scrape" in (s["metadata"].get("annotations") or {}) for s in kind("Service"))


def test_graceful_shutdown_is_bounded_and_fits_the_grace_periods():
    c = by_name("Deployment", "api")["spec"]["template"]
    env = {e["name"]: e["value"] for e in c["spec"]["containers"][0]["env"]}
    assert float(env["BIOAGENT_API__SHUTDOWN_GRACE_S"]) + 10 < c["spec"]["terminationGracePeriodSeconds"]
    api = load_compose()["services"]["api"]
    grace = float(api["environment"]["BIOAGENT_API__SHUTDOWN_GRACE_S"])
    assert grace + 10 <= int(api["stop_grace_period"].rstrip("s"))
    assert Settings().api.shutdown_grace_s > 0


def test_compose_scrape_uses_the_metrics_token_not_the_admin_key():
    services = load_compose()["services"]
    assert services["api"]["environment"]["BIOAGENT_API__METRICS_TOKEN"] == "test-metrics_token"
    assert [s["source"] for s in services["prometheus"]["secrets"]] == ["bioagent_metrics_token"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "test-postgres_password"
