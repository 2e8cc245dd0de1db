"""The one place the genome annotator asks "is this protein a CRESS Rep?".

`call_rep(protein, record_id)` returns the dict shape of ``mcp_servers.sequence.rep_call.call_rep``: ``call``
(yes | partial | huh_only | no), ``confidence`` (0..1), ``reason``, ``family`` ({name, score, nearest:
{accession, identity}} or None) and ``motifs`` ([{name, start, end, sequence}], 1-based). When the profile-HMM
caller is installed it is used as it is; otherwise the position-aware motif annotator (``rep_motifs.annotate``)
answers, with no family.
"""

from __future__ import annotations

from .. import rep_motifs

try:  # the profile-HMM Rep caller with family classification, when present
    from ..rep_call import call_reps as _profile_call_reps
except ImportError:  # pragma: no cover - depends on which modules are installed
    _profile_call_reps = None

BACKEND = "rep_call" if _profile_call_reps is not None else "rep_motifs"


def _from_motifs(protein: str, record_id: str) -> dict:
    a = rep_motifs.annotate(protein, record_id)
    return {
        "call": a["call"],
        # the weighted share of the six motif profiles matched in the chain (0..1); not a calibrated probability
        "confidence": round(a["chain_score"] / len(rep_motifs.PROFILES), 3),
        "reason": " ".join(a["reasons"]),
        "family": None,
        "motifs": [{"name": m["motif"], "start": m["start"], "end": m["end"], "sequence": m["sequence"]}
                   for m in a["motifs"]],
        "backend": "rep_motifs",
    }


def call_reps(records: list[tuple[str, str]], with_family: bool = True) -> list[dict]:
    """Rep calls for (record_id, protein) pairs (one profile search for all of them with the HMM caller);
    `with_family=False` skips the family classification (faster, for screening candidates)."""
    if not records:
        return []
    if _profile_call_reps is not None:
        return [dict(r) | {"backend": "rep_call"} for r in _profile_call_reps(records, with_family=with_family)]
    return [_from_motifs(p, rid) for rid, p in records]


def call_rep(protein: str, record_id: str = "protein") -> dict:
    """The Rep call for one protein sequence (see the module docstring for the keys)."""
    return call_reps([(record_id, protein)])[0]


def rank(call: dict) -> tuple:
    """Sort key: better Rep evidence first (yes > partial > huh_only > no, then confidence, then motifs)."""
    order = {"yes": 3, "partial": 2, "huh_only": 1}.get(call.get("call"), 0)
    return (order, float(call.get("confidence") or 0.0), len(call.get("motifs") or []))
