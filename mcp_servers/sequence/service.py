"""The facade other parts of bioagent call (the MCP server, the CLI, the agent's report mode, the UI).

Every function takes sequence text as raw letters, FASTA or GenBank, and returns plain JSON-able dicts. Positions
are 1-based everywhere. ESM results name the model that produced them and carry `caveat` (zero-shot accuracy on
viral proteins is low). Errors are `errors.SequenceError` subclasses with messages meant for the user.

Scan matrices: ``matrix[i][j]`` is the score of substituting position ``i + 1`` by ``amino_acids[j]``
(``amino_acids`` = ``ACDEFGHIKLMNPQRSTVWY``), i.e. ``log p(mt) - log p(wt)`` (natural log; 0 in the wild-type cell;
negative = the model finds the substitution less likely than the wild type, i.e. predicted damaging).
``constraint[i]`` is minus the mean of the 19 substitution scores at that position (higher = less tolerant).
"""

from __future__ import annotations

import threading

import numpy as np

from . import embeddings as emb
from . import esm_model, rep_call, rep_motifs
from .mutations import check_variants, parse_variants, score_from_logprobs
from .parsing import ProteinRecord, parse_text, read_proteins, select_record
from .properties import protein_properties
from .scan import AA_ORDER, ScanCache, ScanMatrix, cached_scan, full_scan, normalize_strategy, position_logprobs

CAVEAT = (
    "Zero-shot ESM-2 scores are weak predictors for viral proteins: on ProteinGym the average Spearman correlation "
    "with measured effects is 0.41 overall and 0.26 on virus assays for the 650M model, 0.23 and 0.09 for the 8M "
    "model. Treat them as hypotheses to test, not as measurements."
)
INTERPRETATION = (
    "score = log p(mutant) - log p(wild type) at the position (natural log, summed over the substitutions of a "
    "variant). Below 0: the model finds the mutant less likely than the wild type (predicted damaging; more "
    "negative = more damaging). Above 0: the mutant is preferred (predicted tolerated)."
)

_caches: dict[str, ScanCache] = {}
_caches_lock = threading.Lock()


def _settings(settings=None):
    if settings is None:
        from agent.settings import get_settings

        settings = get_settings()
    return settings


def scan_cache(settings=None) -> ScanCache:
    """The process-wide scan cache for these settings (memory, plus disk under data_dir/cache/esm_scans)."""
    s = _settings(settings)
    directory = s.cache_dir / "esm_scans" if s.sequence.scan_cache else None
    key = str(directory)
    with _caches_lock:
        if key not in _caches:
            _caches[key] = ScanCache(directory)
        return _caches[key]


def _proteins(text: str, settings, translate_dna: bool = False) -> list[ProteinRecord]:
    return read_proteins(text, translate_dna=translate_dna, max_residues=settings.sequence.max_residues)


def _one(text: str, settings, record_id: str | None, translate_dna: bool) -> ProteinRecord:
    return select_record(_proteins(text, settings, translate_dna), record_id)


def _record_meta(rec: ProteinRecord) -> dict:
    meta = {"id": rec.id, "length": len(rec)}
    if rec.parent:
        meta.update(parent=rec.parent, location=rec.location)
    return meta


def model_info(settings=None) -> dict:
    """Which ESM model the settings select and whether it can be loaded (loads it)."""
    s = _settings(settings)
    lm = esm_model.get_model(s)
    return lm.describe() | {"contact_regression": lm.has_contact_regression, "window": s.sequence.window}


# ---------------------------------------------------------------------------------------------------- no model needed
def parse(text: str, translate_dna: bool = False, settings=None) -> dict:
    """Validate and describe the records in the input (proteins, and nucleotides with the translations offered)."""
    s = _settings(settings)
    parsed = parse_text(text)
    records = []
    for p in parsed.proteins:
        records.append({"id": p.id, "kind": "protein", "description": p.description, "length": len(p),
                        "sequence": p.sequence})
    for n in parsed.nucleotides:
        records.append({"id": n.id, "kind": "nucleotide", "description": n.description, "length": len(n.sequence),
                        "circular": n.circular,
                        "translations": [t.as_dict() for t in n.translations]})
    out = {"valid": True, "format": parsed.format, "records": records}
    if translate_dna and parsed.nucleotides:
        out["proteins"] = [_record_meta(p) | {"sequence": p.sequence} for p in _proteins(text, s, True)]
    else:
        too_long = [p.id for p in parsed.proteins if len(p) > s.sequence.max_residues]
        if too_long:
            out["warnings"] = [f"Record(s) {', '.join(too_long)} exceed the {s.sequence.max_residues}-residue limit "
                               "of the analysis tools."]
    if parsed.nucleotides and not translate_dna:
        out.setdefault("warnings", []).append(
            "Nucleotide record(s) found: the protein tools need translate_dna=true to use their CDS/ORF translations.")
    return out


def properties(text: str, translate_dna: bool = False, settings=None) -> dict:
    """ProtParam properties of every protein record."""
    s = _settings(settings)
    return {"records": [_record_meta(p) | protein_properties(p.sequence) for p in _proteins(text, s, translate_dna)]}


def annotate_rep(text: str, translate_dna: bool = False, settings=None) -> dict:
    """CRESS Rep call (yes / partial / huh_only / no) with confidence, reason, family and motifs for every protein."""
    s = _settings(settings)
    proteins = _proteins(text, s, translate_dna)
    out = rep_call.call_reps([(p.id, p.sequence) for p in proteins])
    for p, a in zip(proteins, out):
        a["reasons"] = [a["reason"]]
        if p.parent:
            a.update(parent=p.parent, location=p.location)
    return {"records": out, "method": rep_call.METHOD, "motif_definitions": rep_motifs.definitions()}


def annotate_genome(text: str, circular: bool | None = None, include_sequences: bool = False, settings=None) -> dict:
    """Genome/contig annotation: genes (circular wrap), Rep (spliced where known) and capsid, origin stem-loop,
    family; 0-based starts, exclusive ends (mcp_servers/sequence/genome)."""
    from .genome import annotate_genome as _annotate

    return _annotate(text, circular=circular, include_sequences=include_sequences)


# ------------------------------------------------------------------------------------------------------------ ESM
def score_mutations(text: str, mutations: str | list[str], strategy: str = "masked-marginals",
                    record_id: str | None = None, translate_dna: bool = False, settings=None) -> dict:
    """ESM scores of variants such as 'K25A' or 'K25A:G30D' (additive), as predict.py defines them."""
    s = _settings(settings)
    strategy = normalize_strategy(strategy)
    rec = _one(text, s, record_id, translate_dna)
    variants = parse_variants(mutations)
    check_variants(rec.sequence, variants)
    lm = esm_model.get_model(s)
    hit = cached_scan(lm, rec.sequence, strategy, s.sequence.window, scan_cache(s) if s.sequence.scan_cache else None)
    if hit is not None:
        positions, lp20, lpwt = list(range(len(rec.sequence))), hit.lp20, hit.lpwt
    else:
        positions = sorted({sub.position - 1 for v in variants for sub in v})
        lp20, lpwt = position_logprobs(lm, rec.sequence, strategy, positions, window=s.sequence.window,
                                       batch_size=s.sequence.scan_batch_size)
    return {"model": lm.name, "strategy": strategy, "record": _record_meta(rec),
            "variants": score_from_logprobs(variants, positions, lp20, lpwt),
            "interpretation": INTERPRETATION, "caveat": CAVEAT}


def _scan(text, strategy, record_id, translate_dna, settings) -> tuple[ProteinRecord, ScanMatrix]:
    s = _settings(settings)
    rec = _one(text, s, record_id, translate_dna)
    lm = esm_model.get_model(s)
    m = full_scan(lm, rec.sequence, strategy, window=s.sequence.window, batch_size=s.sequence.scan_batch_size,
                  cache=scan_cache(s) if s.sequence.scan_cache else None)
    return rec, m


def summarize_scan(m: ScanMatrix, top: int = 10) -> dict:
    """Most constrained / most tolerated positions and the extreme substitutions of a scan."""
    seq = m.sequence
    cons = m.constraint()
    scores = np.where(m.substitution_mask(), m.scores, np.nan)
    order = np.argsort(-cons)

    def pos(i: int) -> dict:
        row = scores[i]
        j = int(np.nanargmax(row))
        return {"position": i + 1, "wt": seq[i], "constraint": round(float(cons[i]), 4),
                "best_substitution": f"{seq[i]}{i + 1}{AA_ORDER[j]}", "best_score": round(float(row[j]), 4)}

    flat = [(float(scores[i, j]), i, j) for i in range(len(seq)) for j in range(len(AA_ORDER))
            if not np.isnan(scores[i, j])]
    flat.sort()

    def sub(t) -> dict:
        sc, i, j = t
        return {"mutation": f"{seq[i]}{i + 1}{AA_ORDER[j]}", "score": round(sc, 4)}

    k = min(top, len(seq))
    return {
        "most_constrained": [pos(int(i)) for i in order[:k]],
        "most_tolerated": [pos(int(i)) for i in order[::-1][:k]],
        "most_damaging_substitutions": [sub(t) for t in flat[:k]],
        "most_favoured_substitutions": [sub(t) for t in flat[::-1][:k]],
        "mean_constraint": round(float(np.nanmean(cons)), 4),
    }


def mutational_scan(text: str, strategy: str = "masked-marginals", record_id: str | None = None,
                    include_matrix: bool = True, top: int = 10, translate_dna: bool = False, settings=None) -> dict:
    """Deep mutational scan: every position x 20 amino acids (scores), per-position constraint and a summary."""
    rec, m = _scan(text, strategy, record_id, translate_dna, settings)
    out = {"model": m.model, "strategy": m.strategy, "record": _record_meta(rec), "amino_acids": AA_ORDER,
           "wild_type": m.sequence, "windows": [[a + 1, b] for a, b in m.windows], "cached": m.cached,
           "seconds": round(m.seconds, 3), "summary": summarize_scan(m, top),
           "interpretation": INTERPRETATION + " Constraint = minus the mean substitution score at a position.",
           "caveat": CAVEAT}
    if include_matrix:
        out["matrix"] = np.round(m.scores.astype(np.float64), 4).tolist()
        out["constraint"] = np.round(m.constraint().astype(np.float64), 4).tolist()
    return out


def embed(text: str, record_id: str | None = None, layer: int | None = None, per_residue: bool = False,
          translate_dna: bool = False, settings=None) -> dict:
    """Mean-pooled (and optionally per-residue) ESM embedding of one protein."""
    s = _settings(settings)
    rec = _one(text, s, record_id, translate_dna)
    lm = esm_model.get_model(s)
    layer_used = lm.num_layers if layer is None else (lm.num_layers + 1 + layer if layer < 0 else layer)
    reps = emb.embed_sequence(lm, rec.sequence, layer=layer, window=s.sequence.window)
    out = {"model": lm.name, "record": _record_meta(rec), "layer": layer_used, "dim": int(reps.shape[1]),
           "mean": np.round(reps.mean(axis=0).astype(np.float64), 6).tolist()}
    if per_residue:
        out["per_residue"] = np.round(reps.astype(np.float64), 5).tolist()
    return out


def contacts(text: str, record_id: str | None = None, top: int = 50, min_separation: int = 6,
             include_matrix: bool = False, translate_dna: bool = False, settings=None) -> dict:
    """Contact probabilities from ESM's contact head: the top pairs, optionally the full L x L matrix."""
    s = _settings(settings)
    rec = _one(text, s, record_id, translate_dna)
    lm = esm_model.get_model(s)
    cmap = emb.contact_map(lm, rec.sequence, window=s.sequence.window)
    out = {"model": lm.name, "record": _record_meta(rec), "min_separation": min_separation,
           "top_contacts": emb.top_contacts(cmap, min_separation=min_separation, k=top),
           "note": "Probabilities from ESM-2's unsupervised contact head; with small models (8M) they are rough."}
    if include_matrix:
        out["matrix"] = [[None if np.isnan(v) else round(float(v), 4) for v in row] for row in cmap]
    return out
