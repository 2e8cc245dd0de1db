"""Named evaluation configurations: per-run overrides plus settings overrides, built in or read from a file.

A configuration file (YAML or JSON) holds a list of configurations, or ``{"configs": [...]}``; each is

```yaml
- name: naive-rag                       # required, unique
  description: one retrieval, no query rewriting retries, no tools
  overrides: {max_rounds: 0, tools_enabled: []}          # agent.events.RunOverrides fields
  settings: {retrieval: {mode: dense}, llm: {temperature: 0}}   # nested settings sections to change
```

Settings overrides change a copy of the settings for that configuration only (e.g. another model or endpoint:
``settings: {llm: {base_url: http://host:30000/v1, model: qwen}}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.events import RunOverrides
from agent.settings import Settings


class ConfigError(ValueError):
    """A configuration that cannot be used (unknown name, bad file, bad field)."""


@dataclass
class EvalConfig:
    name: str
    description: str = ""
    overrides: RunOverrides = field(default_factory=RunOverrides)
    settings: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "overrides": self.overrides.model_dump(exclude_none=True), "settings": self.settings}


BUILTIN: dict[str, EvalConfig] = {c.name: c for c in [
    EvalConfig("agentic", "the agent as configured: routing, query rewriting, grading, re-retrieval rounds, tools"),
    EvalConfig("naive-rag", "one retrieval with the question, no re-retrieval rounds, no tools",
               RunOverrides(max_rounds=0, tools_enabled=[])),
    EvalConfig("closed-book", "no retrieval and no tools: the model alone",
               RunOverrides(retrieval_enabled=False, tools_enabled=[])),
    EvalConfig("dense-only", "the agent with dense-only search", settings={"retrieval": {"mode": "dense"}}),
    EvalConfig("sparse-only", "the agent with sparse (BM25) search only", settings={"retrieval": {"mode": "sparse"}}),
    EvalConfig("rerank", "the agent with cross-encoder reranking (needs BIOAGENT_RETRIEVAL__RERANK_MODEL)",
               RunOverrides(rerank=True)),
    EvalConfig("no-rerank", "the agent without reranking", RunOverrides(rerank=False)),
]}


def _parse_one(raw: Any, where: str) -> EvalConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object with name/overrides/settings, got {type(raw).__name__}")
    unknown = set(raw) - {"name", "description", "overrides", "settings"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}, field 'name': missing or empty")
    try:
        overrides = RunOverrides.model_validate(raw.get("overrides") or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{where} ({name}), field 'overrides.{'.'.join(map(str, err['loc']))}': {err['msg']}") from None
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{where} ({name}), field 'settings': expected an object")
    cfg = EvalConfig(name.strip(), str(raw.get("description") or ""), overrides, settings)
    apply_settings(Settings(), cfg.settings, where=f"{where} ({name})")  # validate now, not mid-run
    return cfg


def load_config_file(path: str | Path) -> list[EvalConfig]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - JSON/YAML syntax errors
        raise ConfigError(f"{path}: cannot parse ({exc})") from None
    if isinstance(data, dict) and "configs" in data:
        data = data["configs"]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected a non-empty list of configurations (or {{configs: [...]}})")
    configs = [_parse_one(raw, f"{path} config {i + 1}") for i, raw in enumerate(data)]
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: duplicate configuration name(s) {', '.join(dupes)}")
    return configs


def resolve_configs(names: list[str] | None, config_file: str | Path | None = None) -> list[EvalConfig]:
    """Configurations by name: from the file when given (all of them without names), else the built-ins."""
    available = {c.name: c for c in load_config_file(config_file)} if config_file else dict(BUILTIN)
    if not names:
        return list(available.values()) if config_file else [BUILTIN["agentic"]]
    out = []
    for n in names:
        for part in [p.strip() for p in n.split(",") if p.strip()]:
            if part not in available:
                raise ConfigError(f"unknown configuration {part!r} (available: {', '.join(available)})")
            out.append(available[part])
    return out


def apply_settings(base: Settings, changes: dict[str, Any], where: str = "settings") -> Settings:
    """A copy of ``base`` with nested section values changed (validated like the environment would be)."""
    if not changes:
        return base
    data = base.model_dump()
    for key, value in changes.items():
        if key not in Settings.model_fields:
            raise ConfigError(f"{where}: unknown settings section {key!r}")
        cur = data.get(key)
        if isinstance(cur, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: settings section {key!r} needs an object of fields")
            data[key] = _merge(cur, value, f"{where}: {key}")
        else:
            data[key] = value
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{where}: settings {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def _merge(cur: dict[str, Any], new: dict[str, Any], where: str) -> dict[str, Any]:
    out = dict(cur)
    for k, v in new.items():
        if k not in cur:
            raise ConfigError(f"{where}.{k}: unknown setting")
        out[k] = _merge(cur[k], v, f"{where}.{k}") if isinstance(cur[k], dict) and isinstance(v, dict) else v
    return out


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-able data with secrets masked (recorded with every run)."""
    return json.loads(settings.model_dump_json())


__all__ = ["BUILTIN", "ConfigError", "EvalConfig", "apply_settings", "load_config_file", "resolve_configs",
           "settings_snapshot"]
