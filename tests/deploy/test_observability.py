"""Prometheus scrape config and the Grafana dashboard: they point at what the stack really exposes."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from agent.api.metrics import APIMetrics
from tests.deploy.helpers import DOCKER, load_compose

PROMETHEUS = DOCKER / "prometheus" / "prometheus.yml"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "bioagent.json"
DATASOURCE = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"

# SGLang's Prometheus metrics (`--enable-metrics`), as documented in SGLang's production metrics reference.
SGLANG_METRICS = {
    "sglang:prompt_tokens_total", "sglang:generation_tokens_total", "sglang:token_usage", "sglang:cache_hit_rate",
    "sglang:time_to_first_token_seconds", "sglang:e2e_request_latency_seconds",
    "sglang:time_per_output_token_seconds", "sglang:num_running_reqs", "sglang:num_used_tokens",
    "sglang:gen_throughput", "sglang:num_queue_reqs",
}  # fmt: skip


@pytest.fixture(scope="module")
def prometheus() -> dict:
    return yaml.safe_load(PROMETHEUS.read_text())


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def api_metric_names() -> set[str]:
    """The sample names the API's /metrics exposes (counter -> _total, histogram -> _bucket/_sum/_count)."""
    names: set[str] = set()
    for family in APIMetrics(process_metrics=False).registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        else:
            names.add(family.name)
    return names


def test_scrape_targets_are_compose_services(prometheus):
    services = load_compose()["services"]
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert {"bioagent-api", "sglang", "sglang-router"} <= set(jobs)
    for job in jobs.values():
        for target in (t for sc in job["static_configs"] for t in sc["targets"]):
            host, port = target.split(":")
            assert host in services, f"{job['job_name']}: {target} is not a compose service"
    assert jobs["bioagent-api"]["static_configs"][0]["targets"] == ["api:8000"]
    assert jobs["bioagent-api"]["metrics_path"] == "/metrics"
    # SGLang exposes /metrics on its serving port only with --enable-metrics
    assert "--enable-metrics" in services["sglang"]["command"]


def test_api_scrape_authenticates_with_the_mounted_secret(prometheus):
    services = load_compose()["services"]
    api_job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "bioagent-api")
    creds = api_job["authorization"]["credentials_file"]
    mounted = {f"/run/secrets/{s['target']}" for s in services["prometheus"]["secrets"]}
    assert creds in mounted
    mounts = services["prometheus"]["volumes"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def _exprs(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_dashboard_metrics_exist(dashboard):
    exposed = api_metric_names()
    seen_api, seen_sglang = set(), set()
    for title, expr in _exprs(dashboard):
        for name in re.findall(r"\b(bioagent_[a-z0-9_]+)", expr):
            assert name in exposed, f"panel {title!r}: the API exposes no metric {name}"
            seen_api.add(name)
        for name in re.findall(r"(sglang:[a-z0-9_]+)", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base in SGLANG_METRICS, f"panel {title!r}: unknown SGLang metric {name}"
            seen_sglang.add(base)
    assert len(seen_api) >= 10 and len(seen_sglang) >= 8


def test_dashboard_is_wired_to_the_provisioned_datasource(dashboard):
    uid = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
    assert dashboard["uid"] and dashboard["title"] == "bioagent"
