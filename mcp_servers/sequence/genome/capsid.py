"""Capsid recognition by similarity to CRESS capsid references (pyhmmer phmmer).

The references (data/capsid_refs.faa.gz, built by scripts/build_capsid_refs.py from CRESSENT's capsid database,
MIT; evaluation-split proteins of issue #13 excluded) cover the capsids of the Cressdnaviricota families. A protein
is a capsid when its best reference hit has E <= `MAX_EVALUE` (searched against the whole reference set). CRESS
capsids are very diverse and some families have few references, so genome annotation falls back to the capsids'
arginine-rich N-terminus when nothing hits (roles.py).
"""

from __future__ import annotations

import gzip
import threading
from functools import lru_cache
from pathlib import Path

REFS = Path(__file__).resolve().parent / "data" / "capsid_refs.faa.gz"
MAX_EVALUE = 1e-5
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _references():
    import pyhmmer

    alphabet = pyhmmer.easel.Alphabet.amino()
    seqs = []
    name = None
    with gzip.open(REFS, "rt") as fh:
        chunks: list[str] = []
        for line in fh:
            if line.startswith(">"):
                if name is not None:
                    seqs.append(pyhmmer.easel.TextSequence(name=name.encode(), sequence="".join(chunks)))
                name, chunks = line[1:].strip(), []
            else:
                chunks.append(line.strip())
        if name is not None:
            seqs.append(pyhmmer.easel.TextSequence(name=name.encode(), sequence="".join(chunks)))
    block = pyhmmer.easel.TextSequenceBlock(seqs).digitize(alphabet)
    return alphabet, block


def _text(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def capsid_hits(proteins: list[tuple[int, str]]) -> dict[int, dict]:
    """{index: {reference, family, evalue, bits}} for the proteins whose best capsid hit has E <= MAX_EVALUE."""
    import pyhmmer

    if not proteins:
        return {}
    alphabet, refs = _references()
    queries = pyhmmer.easel.TextSequenceBlock(
        [pyhmmer.easel.TextSequence(name=str(i).encode(), sequence="".join(c for c in p if c.isalpha()))
         for i, p in proteins]).digitize(alphabet)
    out: dict[int, dict] = {}
    with _lock:
        for top in pyhmmer.hmmer.phmmer(queries, refs, cpus=1, E=MAX_EVALUE):
            i = int(_text(top.query.name))
            for hit in top:
                if hit.evalue <= MAX_EVALUE:
                    acc, _, fam = _text(hit.name).partition("|")
                    out[i] = {"reference": acc, "family": fam, "evalue": float(f"{hit.evalue:.2g}"),
                              "bits": round(hit.score, 1)}
                    break
    return out
