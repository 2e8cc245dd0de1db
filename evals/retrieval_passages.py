"""Passage-level retrieval evaluation: which *passages* answer each question, labelled so that the labels
survive re-chunking.

A qrels file is JSONL, one question per line::

    {"id": "lib-01", "question": "...", "lang": "en",
     "relevant": [{"doc": "<document id>", "text": "<a substring of the answering passage>"}]}

A retrieved passage is relevant to a label when it belongs to the label's document and contains the label's
text (compared lower-cased, with whitespace collapsed and Markdown emphasis ``*`` and backticks removed). Any
chunking that keeps the labelled sentence in one passage therefore keeps the label valid; documents are named
by their knowledge-base id (file stem, front-matter id, record id), so PDFs and full-text papers can be
labelled the same way.

Metrics per question, over the top ``k`` passages: recall@k (share of labels found), MRR (first relevant
passage) and nDCG@10 (binary gains, each label counted once). Each configuration indexes the corpus in a
collection of its own (named by the index fingerprint of its settings, so chunking variants never mix), and
configurations are compared with paired bootstrap CIs (evals.retrieval_ci).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.settings import Settings
from evals.configs import EvalConfig, apply_settings
from evals.retrieval_ci import compare_items

METRICS = ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10")


class QrelsError(ValueError):
    """A qrels file that cannot be used (names the file, line and field)."""


@dataclass
class Label:
    doc: str
    text: str


@dataclass
class Qrel:
    id: str
    question: str
    relevant: list[Label]
    lang: str = "en"


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[*`]", "", text)).strip().lower()


def load_qrels(path: str | Path) -> list[Qrel]:
    path = Path(path)
    if not path.is_file():
        raise QrelsError(f"{path}: no such qrels file")
    out: list[Qrel] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QrelsError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise QrelsError(f"{where}: expected an object")
        for key in ("id", "question"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise QrelsError(f"{where}, field {key!r}: a non-empty string is required")
        if obj["id"] in seen:
            raise QrelsError(f"{where}, field 'id': duplicate id {obj['id']!r}")
        rel = obj.get("relevant")
        if not isinstance(rel, list) or not rel:
            raise QrelsError(f"{where}, field 'relevant': a non-empty list of {{doc, text}} is required")
        labels = []
        for j, r in enumerate(rel):
            if not isinstance(r, dict) or not all(isinstance(r.get(k), str) and r[k].strip() for k in ("doc", "text")):
                raise QrelsError(f"{where}, field 'relevant[{j}]': needs non-empty strings 'doc' and 'text'")
            labels.append(Label(r["doc"], r["text"]))
        seen.add(obj["id"])
        out.append(Qrel(obj["id"], obj["question"], labels, str(obj.get("lang") or "en")))
    if not out:
        raise QrelsError(f"{path}: no questions")
    return out


def matched_labels(doc_id: str, text: str, labels: Sequence[Label]) -> set[int]:
    t = norm(text)
    return {i for i, lab in enumerate(labels) if lab.doc == doc_id and norm(lab.text) in t}


def score_hits(hits: Sequence[Any], qrel: Qrel, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """recall@k, MRR and nDCG@10 of a ranked list of hits (objects with doc_id and text)."""
    found_at: dict[int, int] = {}  # label -> rank (1-based) of the first passage containing it
    first = 0
    for rank, h in enumerate(hits, 1):
        m = matched_labels(h.doc_id, h.text, qrel.relevant)
        if m and not first:
            first = rank
        for i in m:
            found_at.setdefault(i, rank)
    n = len(qrel.relevant)
    out = {f"recall@{k}": sum(1 for r in found_at.values() if r <= k) / n for k in ks}
    out["mrr"] = 1.0 / first if first else 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r in found_at.values() if r <= 10)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(n, 10) + 1))
    out["ndcg@10"] = dcg / ideal
    return out


def _corpus_key(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                h.update(str(f.name).encode() + f.read_bytes())
    return h.hexdigest()[:10]


def config_index(settings: Settings, corpus: Sequence[Path], multilingual: bool, progress: bool = False):
    """The knowledge base of this configuration's own collection, with the corpus ingested. A KnowledgeBase of
    its own (not the process-wide one), so that configurations sharing a collection keep their own search
    settings; the caller closes it."""
    from agent.kb import KnowledgeBase
    from agent.kb.fingerprint import collection_settings, fingerprint

    s = apply_settings(settings, {"embedding": {"multilingual": multilingual}})
    name = f"eval-passages-{_corpus_key(corpus)}-{fingerprint(collection_settings(s))}"
    s = apply_settings(s, {"qdrant": {"collection": name}})
    kb = KnowledgeBase(s)
    report = kb.ingest_paths(list(corpus), progress=progress)
    if report.errors:
        raise RuntimeError("indexing the corpus failed: " + "; ".join(report.errors[:3]))
    if multilingual:
        kb.backfill_multilingual(progress=progress)
    return kb


def run_passages(qrels: Sequence[Qrel], corpus: Sequence[Path], configs: Sequence[EvalConfig], base: Settings,
                 mode: str | None = None, langs: Sequence[str] | None = None, n_boot: int = 10_000, seed: int = 0,
                 progress: bool = False) -> dict[str, Any]:
    """Score each configuration on the questions; CIs of each against the first configuration."""
    qs = [q for q in qrels if not langs or q.lang in langs]
    if not qs:
        raise QrelsError("no questions left after the language filter")
    results: dict[str, Any] = {"questions": len(qs), "configs": {}, "corpus": [str(c) for c in corpus]}
    per_item: dict[str, dict[str, dict[str, float]]] = {}
    for cfg in configs:
        s = apply_settings(base, cfg.settings, where=f"configuration {cfg.name}")
        multilingual = s.embedding.multilingual and (any(q.lang != "en" for q in qs)
                                                     or s.retrieval.multilingual_in_english)
        t0 = time.perf_counter()
        kb = config_index(s, corpus, multilingual, progress)
        index_s = time.perf_counter() - t0
        rows = {}
        t0 = time.perf_counter()
        try:
            for q in qs:
                hits = kb.search(q.question, k=10, mode=mode or s.retrieval.mode)
                rows[q.id] = score_hits(hits, q)
        finally:
            kb.close()
        per_item[cfg.name] = rows
        means = {m: sum(r[m] for r in rows.values()) / len(rows) for m in METRICS}
        results["configs"][cfg.name] = {"config": cfg.as_dict(), "metrics": means, "index_seconds": round(index_s, 1),
                                        "query_ms": round((time.perf_counter() - t0) * 1000 / len(qs), 1),
                                        "collection": kb.settings.qdrant.collection, "items": rows}
    baseline = configs[0].name
    results["comparisons"] = [c.as_dict() for c in compare_items(per_item, baseline, METRICS, n_boot, seed)]
    return results
