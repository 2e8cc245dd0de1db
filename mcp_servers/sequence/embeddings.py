"""Per-residue and mean-pooled ESM embeddings, and contact maps from ESM's contact head.

Long sequences use the same overlapping windows as the scan (`scan.plan_windows`): each residue's embedding comes
from the window whose centre is nearest; contact probabilities are averaged over the windows that hold both
residues, and pairs that share no window get no prediction (NaN in the matrix; left out of the top list).
"""

from __future__ import annotations

import numpy as np

from .errors import ModelUnavailableError
from .esm_model import LoadedModel
from .scan import assign_windows, plan_windows


def embed_sequence(lm: LoadedModel, sequence: str, *, layer: int | None = None, window: int = 1022) -> np.ndarray:
    """(L, D) float32 representations from `layer` (default: the last layer, after its final layer norm)."""
    import torch

    layer = lm.num_layers if layer is None else int(layer)
    if layer < 0:
        layer = lm.num_layers + 1 + layer
    if not 0 <= layer <= lm.num_layers:
        from .errors import SequenceError

        raise SequenceError(f"Layer {layer} does not exist: this model has layers 0-{lm.num_layers}.")
    L = len(sequence)
    windows = plan_windows(L, window)
    owner = assign_windows(L, windows)
    out = np.zeros((L, lm.embed_dim), dtype=np.float32)
    with lm.lock, torch.inference_mode():
        for w, (start, end) in enumerate(windows):
            reps = lm.model(lm.encode(sequence[start:end]), repr_layers=[layer])["representations"][layer]
            reps = reps[0, 1:-1].float().cpu().numpy()  # drop BOS/EOS
            idx = np.nonzero(owner == w)[0]
            out[idx] = reps[idx - start]
    return out


def contact_map(lm: LoadedModel, sequence: str, *, window: int = 1022) -> np.ndarray:
    """(L, L) contact probabilities; NaN for pairs that no window holds together."""
    import torch

    if not lm.has_contact_regression:
        raise ModelUnavailableError(
            f"Model {lm.name} was loaded without its contact regression weights "
            f"({lm.name}-contact-regression.pt beside the checkpoint), so contacts cannot be predicted.")
    L = len(sequence)
    total = np.zeros((L, L), dtype=np.float64)
    count = np.zeros((L, L), dtype=np.int32)
    with lm.lock, torch.inference_mode():
        for start, end in plan_windows(L, window):
            c = lm.model(lm.encode(sequence[start:end]), return_contacts=True)["contacts"][0].float().cpu().numpy()
            total[start:end, start:end] += c
            count[start:end, start:end] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out.astype(np.float32)


def top_contacts(cmap: np.ndarray, *, min_separation: int = 6, k: int = 50) -> list[dict]:
    """The k most probable contacts with |i - j| >= min_separation (1-based positions)."""
    L = cmap.shape[0]
    i, j = np.triu_indices(L, k=max(1, min_separation))
    p = cmap[i, j]
    ok = ~np.isnan(p)
    i, j, p = i[ok], j[ok], p[ok]
    order = np.argsort(-p)[:k]
    return [{"i": int(i[o]) + 1, "j": int(j[o]) + 1, "probability": round(float(p[o]), 4)} for o in order]
