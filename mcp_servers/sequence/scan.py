"""Per-position amino-acid log-probabilities from ESM, the deep mutational scan matrix, windows and the scan cache.

Definitions follow facebookresearch/esm ``examples/variant-prediction/predict.py``:

- masked-marginals: for position i, mask token i and take log p(a | sequence with i masked); one forward pass per
  position in the reference loop. Here many masked copies go through one forward pass (`batch_size` copies per
  pass); the numbers equal the one-position-per-pass loop to float32 rounding (tests check <= 1e-5).
- wt-marginals: log p(a | unmasked sequence) from a single forward pass.

The score of substitution wt->mt at i is ``logp(mt) - logp(wt)`` at i (natural log). Scan matrices have rows = positions
1..L and columns = the 20 amino acids in ``AA_ORDER`` (alphabetical one-letter codes ``ACDEFGHIKLMNPQRSTVWY``).

Sequences longer than the model window (1022 residues for ESM-2) are scored over overlapping windows: window
starts step by half a window and each position is scored in the window whose centre is nearest to it, so no
position is scored within less than a quarter window of a window edge unless it is that close to a sequence end.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .esm_model import LoadedModel
from .parsing import STANDARD_AA

log = logging.getLogger(__name__)

AA_ORDER = STANDARD_AA
STRATEGIES = ("masked-marginals", "wt-marginals")
_ALIASES = {"masked": "masked-marginals", "masked-marginal": "masked-marginals", "masked_marginals": "masked-marginals",
            "wt": "wt-marginals", "wt-marginal": "wt-marginals", "wt_marginals": "wt-marginals",
            "wildtype": "wt-marginals", "wild-type": "wt-marginals"}

# Masked copies per forward pass when the settings leave it unset. Measured with bench/esm_scan.py (docs/sequence.md):
# on the 2-core CI CPU, extra copies per pass make each position slower (x0.70 at 2 copies, x0.47 at 8), so the CPU
# default is one copy per pass, which runs at the reference loop's speed; on a GPU the batch is sized by a token
# budget (~32k tokens per pass, less for wide models), 20x faster than the loop for 8M and 3.3x for 650M (float32).
CPU_BATCH = 1
GPU_TOKEN_BUDGET = 32768
GPU_MAX_BATCH = 256
# ESM-2 was trained on crops of at most 1,022 residues (1,024 positions with BOS/EOS); its positional embeddings
# stop there, so no window may be longer.
MAX_WINDOW = 1022


def normalize_strategy(strategy: str | None) -> str:
    s = (strategy or "masked-marginals").strip().lower()
    s = _ALIASES.get(s, s)
    if s not in STRATEGIES:
        from .errors import SequenceError

        raise SequenceError(f"Unknown scoring strategy '{strategy}': use 'masked-marginals' (default) or 'wt-marginals'.")
    return s


def default_batch_size(lm: LoadedModel, n_tokens: int, setting: int | None = None) -> int:
    if setting:
        return int(setting)
    if getattr(lm.device, "type", str(lm.device)) == "cuda":
        scale = max(1.0, lm.embed_dim / 320) ** 0.5  # bigger models: fewer copies per pass
        return int(max(1, min(GPU_MAX_BATCH, GPU_TOKEN_BUDGET / scale // max(1, n_tokens))))
    return CPU_BATCH


def check_window(window: int) -> int:
    """The window, or a SequenceError when it is not 1..1022 residues."""
    from .errors import SequenceError

    if not 1 <= int(window) <= MAX_WINDOW:
        raise SequenceError(f"ESM window of {window} residues is not allowed: ESM-2 reads at most {MAX_WINDOW} residues "
                            f"at a time (1,024 tokens with BOS/EOS). Set BIOAGENT_SEQUENCE__WINDOW to 16-{MAX_WINDOW}.")
    return int(window)


def plan_windows(length: int, window: int) -> list[tuple[int, int]]:
    """Residue windows [start, end) covering a sequence: one window when it fits, else half-overlapping ones."""
    window = check_window(window)
    if length <= window:
        return [(0, length)]
    step = max(1, window // 2)
    starts = list(range(0, length - window, step)) + [length - window]
    return [(s, s + window) for s in sorted(set(starts))]


def assign_windows(length: int, windows: list[tuple[int, int]]) -> np.ndarray:
    """Index of the window whose centre is nearest each position (ties: the earlier window)."""
    centres = np.array([(s + e - 1) / 2 for s, e in windows])
    pos = np.arange(length)[:, None]
    return np.argmin(np.abs(pos - centres[None, :]), axis=1)


def _select(lp_full, lm: LoadedModel, residues: str):
    """(n, V) log-probs -> (n, 20) in AA_ORDER and (n,) at the wild-type letters."""
    import torch

    aa = torch.tensor(lm.aa_idx, device=lp_full.device)
    wt = torch.tensor([lm.alphabet.get_idx(c) for c in residues], device=lp_full.device)
    lp20 = lp_full.index_select(1, aa)
    lpwt = lp_full.gather(1, wt[:, None])[:, 0]
    return lp20.cpu().numpy(), lpwt.cpu().numpy()


def _masked_window(lm: LoadedModel, window_seq: str, positions: list[int], batch_size: int):
    """Masked log-probs at `positions` (0-based within the window), `batch_size` masked copies per pass."""
    import torch

    tokens = lm.encode(window_seq)
    out20, outwt = [], []
    i = 0
    bs = max(1, int(batch_size))
    while i < len(positions):
        chunk = positions[i: i + bs]
        try:
            with torch.inference_mode():
                batch = tokens.repeat(len(chunk), 1)
                rows = torch.arange(len(chunk), device=tokens.device)
                cols = torch.tensor(chunk, device=tokens.device) + 1  # +1 for BOS
                batch[rows, cols] = lm.alphabet.mask_idx
                logits = lm.model(batch)["logits"]
                lp = torch.log_softmax(logits[rows, cols].float(), dim=-1)
        except torch.cuda.OutOfMemoryError:
            if bs == 1:
                raise
            bs = max(1, bs // 2)
            torch.cuda.empty_cache()
            log.warning("CUDA out of memory: masked batch size lowered to %d", bs)
            continue
        a, b = _select(lp, lm, "".join(window_seq[p] for p in chunk))
        out20.append(a)
        outwt.append(b)
        i += len(chunk)
    return np.concatenate(out20), np.concatenate(outwt)


def _wt_window(lm: LoadedModel, window_seq: str, positions: list[int]):
    import torch

    with torch.inference_mode():
        logits = lm.model(lm.encode(window_seq))["logits"]
        lp = torch.log_softmax(logits[0].float(), dim=-1)  # (T, V)
    idx = torch.tensor(positions, device=lp.device) + 1
    return _select(lp.index_select(0, idx), lm, "".join(window_seq[p] for p in positions))


def position_logprobs(lm: LoadedModel, sequence: str, strategy: str, positions: list[int] | None = None, *,
                      window: int = 1022, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Log-probabilities of the 20 amino acids (L x 20, AA_ORDER) and of the wild type (L,) at `positions` (0-based)."""
    strategy = normalize_strategy(strategy)
    L = len(sequence)
    positions = list(range(L)) if positions is None else sorted(set(positions))
    windows = plan_windows(L, window)
    owner = assign_windows(L, windows)
    lp20 = np.zeros((len(positions), len(AA_ORDER)), dtype=np.float32)
    lpwt = np.zeros(len(positions), dtype=np.float32)
    row_of = {p: r for r, p in enumerate(positions)}
    with lm.lock:
        for w, (start, end) in enumerate(windows):
            mine = [p for p in positions if owner[p] == w]
            if not mine:
                continue
            local = [p - start for p in mine]
            wseq = sequence[start:end]
            if strategy == "masked-marginals":
                bs = default_batch_size(lm, len(wseq) + 2, batch_size)
                a, b = _masked_window(lm, wseq, local, bs)
            else:
                a, b = _wt_window(lm, wseq, local)
            rows = [row_of[p] for p in mine]
            lp20[rows] = a
            lpwt[rows] = b
    return lp20, lpwt


@dataclass
class ScanMatrix:
    """Log-probabilities for every position of one sequence under one model and strategy."""

    model: str
    strategy: str
    sequence: str
    lp20: np.ndarray  # (L, 20) float32, AA_ORDER
    lpwt: np.ndarray  # (L,) float32
    windows: list[tuple[int, int]]
    seconds: float = 0.0
    cached: bool = False

    @property
    def scores(self) -> np.ndarray:
        """(L, 20) log-ratio logp(mt) - logp(wt); 0 at the wild-type cell."""
        return self.lp20 - self.lpwt[:, None]

    def substitution_mask(self) -> np.ndarray:
        """(L, 20) True where the column is not the wild-type letter."""
        wt = np.array([AA_ORDER.find(c) for c in self.sequence])
        mask = np.ones_like(self.lp20, dtype=bool)
        rows = np.nonzero(wt >= 0)[0]
        mask[rows, wt[rows]] = False
        return mask

    def constraint(self) -> np.ndarray:
        """Per-position constraint: minus the mean score of the substitutions (higher = less tolerant)."""
        s = np.where(self.substitution_mask(), self.scores, np.nan)
        return -np.nanmean(s, axis=1)


def numerics(lm: LoadedModel) -> str:
    """What changes the numbers besides model and input: parameter dtype, device type and (on CUDA) whether TF32
    matmuls are allowed (settings.sequence.gpu_tf32; scores differ by ~0.1 with TF32)."""
    import torch

    dtype = str(next(lm.model.parameters()).dtype).removeprefix("torch.")
    device = getattr(lm.device, "type", str(lm.device))
    tf32 = device == "cuda" and bool(torch.backends.cuda.matmul.allow_tf32)
    return f"{dtype}|{device}|tf32={int(tf32)}"


class ScanCache:
    """Scan results keyed by (model id, sequence hash, strategy, window, numerics: dtype, device, TF32): in memory
    (LRU) and optionally on disk."""

    def __init__(self, directory: Path | None = None, max_items: int = 32):
        self.directory = Path(directory) if directory else None
        self.max_items = max_items
        self._mem: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(model_id: str, sequence: str, strategy: str, window: int, numerics: str) -> str:
        seq_hash = hashlib.sha256(sequence.encode()).hexdigest()
        return hashlib.sha256(f"{model_id}|{seq_hash}|{strategy}|{window}|{numerics}".encode()).hexdigest()[:32]

    def get(self, key: str):
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
        if self.directory:
            path = self.directory / f"{key}.npz"
            if path.is_file():
                try:
                    with np.load(path) as z:
                        item = (z["lp20"].copy(), z["lpwt"].copy())
                except Exception:  # noqa: BLE001 - a broken cache file is ignored and rewritten
                    return None
                self._put_mem(key, item)
                return item
        return None

    def _put_mem(self, key: str, item) -> None:
        with self._lock:
            self._mem[key] = item
            self._mem.move_to_end(key)
            while len(self._mem) > self.max_items:
                self._mem.popitem(last=False)

    def put(self, key: str, lp20: np.ndarray, lpwt: np.ndarray) -> None:
        self._put_mem(key, (lp20, lpwt))
        if self.directory:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                tmp = self.directory / f"{key}.tmp.npz"
                np.savez(tmp, lp20=lp20, lpwt=lpwt)
                tmp.replace(self.directory / f"{key}.npz")
            except OSError as exc:
                log.warning("scan cache not written: %s", exc)

    def clear(self) -> None:
        with self._lock:
            self._mem.clear()


def full_scan(lm: LoadedModel, sequence: str, strategy: str = "masked-marginals", *, window: int = 1022,
              batch_size: int | None = None, cache: ScanCache | None = None) -> ScanMatrix:
    """Log-probabilities at every position (the deep mutational scan), from the cache when present."""
    strategy = normalize_strategy(strategy)
    windows = plan_windows(len(sequence), window)
    key = ScanCache.key(lm.model_id, sequence, strategy, window, numerics(lm))
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return ScanMatrix(lm.name, strategy, sequence, hit[0], hit[1], windows, 0.0, cached=True)
    t0 = time.perf_counter()
    lp20, lpwt = position_logprobs(lm, sequence, strategy, window=window, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    if cache is not None:
        cache.put(key, lp20, lpwt)
    return ScanMatrix(lm.name, strategy, sequence, lp20, lpwt, windows, seconds, cached=False)


def cached_scan(lm: LoadedModel, sequence: str, strategy: str, window: int, cache: ScanCache | None) -> ScanMatrix | None:
    if cache is None:
        return None
    hit = cache.get(ScanCache.key(lm.model_id, sequence, normalize_strategy(strategy), window, numerics(lm)))
    if hit is None:
        return None
    return ScanMatrix(lm.name, normalize_strategy(strategy), sequence, hit[0], hit[1],
                      plan_windows(len(sequence), window), 0.0, cached=True)
