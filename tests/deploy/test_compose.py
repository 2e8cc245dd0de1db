"""docker/compose.yaml: valid against the Compose Specification, wired consistently, commands match the CLI.

There is no Docker engine here: the file is interpolated the way compose does it (with .env.example plus the
required secrets) and validated against the compose-spec JSON schema vendored in tests/data/deploy/.
"""

from __future__ import annotations

import json
from itertools import takewhile

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from agent.settings import iter_settings_rows
from tests.deploy.helpers import (
    DOCKER,
    SCHEMA,
    MissingRequired,
    command_argv,
    env_file_names,
    env_file_values,
    interpolate_tree,
    load_compose,
    load_raw_compose,
    required_variables,
    resolve_cli,
    variables,
)

SETTINGS = {var for var, _, _ in iter_settings_rows()}
APP_SERVICES = {"api", "ui", "mcp-sequence", "mcp-literature", "llamacpp"}
SECRETS = {"QDRANT_API_KEY", "BIOAGENT_API_KEY", "MCP_BEARER_TOKEN", "METRICS_TOKEN", "POSTGRES_PASSWORD"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_compose_file_matches_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(Draft202012Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_schema_check_catches_mistakes(compose):
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    broken = json.loads(json.dumps(compose))
    broken["services"]["api"]["healthcheck"]["intervall"] = "5s"
    broken["services"]["qdrant"]["ports"] = "6333:6333"
    assert len(list(validator.iter_errors(broken))) >= 2


def test_secrets_are_required_and_documented():
    raw = load_raw_compose()
    assert required_variables(raw) == SECRETS
    example = env_file_values()
    for name in SECRETS:
        assert name in example and example[name] == "", f"{name} must be listed (empty) in .env.example"
    with pytest.raises(MissingRequired):  # .env.example as shipped: compose refuses to start
        interpolate_tree(raw, example)


def test_every_compose_variable_is_in_env_example():
    missing = variables(load_raw_compose()) - env_file_names()
    assert not missing, f"compose.yaml uses variables that .env.example does not list: {sorted(missing)}"


def test_default_profile_is_gpu():
    assert env_file_values()["COMPOSE_PROFILES"] == "gpu"


def test_every_service_has_a_healthcheck(services):
    for name, svc in services.items():
        test = svc.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_references_resolve(compose, services):
    volumes = set(compose.get("volumes", {}))
    secrets = set(compose.get("secrets", {}))
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            dep_profiles = set(services[dep].get("profiles", []))
            if dep_profiles:  # a dependency that is only in some profiles must be active whenever `name` is
                assert set(svc.get("profiles", [])) and set(svc["profiles"]) <= dep_profiles, (name, dep)
            if spec.get("condition") == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy: it has no check"
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), f"{name} mounts missing file {source}"
            else:
                assert source in volumes, f"{name} uses undeclared volume {source}"
        for secret in svc.get("secrets", []):
            assert (secret["source"] if isinstance(secret, dict) else secret) in secrets
        for env_file in svc.get("env_file", []):
            path = env_file["path"] if isinstance(env_file, dict) else env_file
            assert (DOCKER / path).resolve() == (DOCKER.parent / ".env"), "env_file must be the repository's .env"


def _llm_services(services, profile):
    return [
        n for n, s in services.items()
        if profile in s.get("profiles", []) and "llm" in (s.get("networks", {}).get("default") or {}).get("aliases", [])
    ]  # fmt: skip


@pytest.mark.parametrize("profile", ["gpu", "cpu", "scale"])
def test_each_llm_profile_puts_exactly_one_service_behind_the_llm_alias(services, profile):
    assert len(_llm_services(services, profile)) == 1
    assert services["api"]["environment"]["BIOAGENT_LLM__BASE_URL"] == "http://llm:30000/v1"


def test_core_services_run_in_every_profile(services):
    for name in ("qdrant", "api", "ui", "mcp-sequence", "mcp-literature"):
        assert "profiles" not in services[name], name


def test_sglang_serves_qwen_with_the_qwen25_tool_parser_on_a_gpu(services):
    for name in ("sglang", "sglang-worker-0", "sglang-worker-1"):
        svc = services[name]
        assert svc["image"].startswith("lmsysorg/sglang")
        argv = command_argv(svc["command"])
        assert argv[:3] == ["python3", "-m", "sglang.launch_server"]
        assert argv[argv.index("--model-path") + 1] == "Qwen/Qwen2.5-7B-Instruct"
        assert argv[argv.index("--tool-call-parser") + 1] == "qwen25"
        assert argv[argv.index("--port") + 1] == "30000" and "--enable-metrics" in argv
        devices = svc["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
        assert any(v.endswith(":/root/.cache/huggingface") for v in svc["volumes"])  # model cache volume
        assert "/health" in " ".join(svc["healthcheck"]["test"])
        assert svc["ipc"] == "host"


def test_scale_profile_routes_two_workers_cache_aware(services):
    argv = command_argv(services["sglang-router"]["command"])
    assert argv[:3] == ["python3", "-m", "sglang_router.launch_router"]
    assert argv[argv.index("--policy") + 1] == "cache_aware"
    urls = argv[argv.index("--worker-urls") + 1 : argv.index("--policy")]
    assert urls == ["http://sglang-worker-0:30000", "http://sglang-worker-1:30000"]
    gpus = [services[w]["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for w in
            ("sglang-worker-0", "sglang-worker-1")]  # fmt: skip
    assert gpus[0] != gpus[1]


def test_qdrant_is_persistent_keyed_and_cluster_ready(services):
    q = services["qdrant"]
    assert q["image"].startswith("qdrant/qdrant:")
    assert "qdrant-storage:/qdrant/storage" in q["volumes"]
    assert q["environment"]["QDRANT__SERVICE__API_KEY"] == "test-qdrant_api_key"
    assert q["command"][-2:] == ["--uri", "http://qdrant:6335"]
    for peer in ("qdrant-peer-1", "qdrant-peer-2"):
        p = services[peer]
        assert p["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert p["command"][1:3] == ["--bootstrap", "http://qdrant:6335"]
    # the app gets the same key and the server URL
    assert services["api"]["environment"]["BIOAGENT_QDRANT__API_KEY"] == q["environment"]["QDRANT__SERVICE__API_KEY"]
    assert services["api"]["environment"]["BIOAGENT_QDRANT__URL"] == "http://qdrant:6333"


def test_postgres_profile_backs_the_checkpointer(services):
    assert services["postgres"]["profiles"] == ["postgres"]
    assert "BIOAGENT_AGENT__CHECKPOINT_URL" in services["api"]["environment"]
    assert "CHECKPOINT_URL=postgresql://bioagent:" in (DOCKER.parent / ".env.example").read_text()


def test_app_services_share_one_image_and_run_as_configured(services):
    images = {services[n]["image"] for n in APP_SERVICES}
    builds = {json.dumps(services[n]["build"], sort_keys=True) for n in APP_SERVICES}
    assert len(images) == 1 and len(builds) == 1
    assert services["api"]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}


def test_app_environment_uses_real_settings(services):
    for name in APP_SERVICES:
        for key in services[name].get("environment", {}):
            if key.startswith("BIOAGENT_") and key != "BIOAGENT_HEALTHCHECK_URL":
                assert key in SETTINGS, f"{name}: {key} is not a bioagent setting"


def test_api_reaches_the_mcp_servers_over_http(services):
    env = services["api"]["environment"]
    for server in ("sequence", "literature"):
        assert env[f"BIOAGENT_MCP__{server.upper()}__TRANSPORT"] == "http"
        assert env[f"BIOAGENT_MCP__{server.upper()}__URL"] == f"http://mcp-{server}:8001/mcp"
        argv = command_argv(services[f"mcp-{server}"]["command"])
        assert argv[argv.index("--port") + 1] == "8001"


def _app_commands(services):
    return {n: command_argv(services[n]["command"]) for n in sorted(APP_SERVICES)}


def test_compose_commands_are_real_cli_commands(services):
    """Each app service's command parses with the Typer app (command path, options and their values)."""
    for name, argv in _app_commands(services).items():
        resolve_cli(argv)


def test_compose_command_help_runs(services):
    from agent.cli import app

    runner = CliRunner()
    for name, argv in _app_commands(services).items():
        path = list(takewhile(lambda a: not a.startswith("-"), argv[1:]))  # e.g. ["mcp", "sequence"]
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"{name}: bioagent {' '.join(path)} --help\n{result.output}"
