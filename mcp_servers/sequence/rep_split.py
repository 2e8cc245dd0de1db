"""The evaluation split of issue #13, as one function that every build and evaluation script uses.

A protein is in the evaluation split iff the SHA-1 hex digest of its bare accession starts with 0, 1, 2 or 3. The
bare accession is the first token of the FASTA header (without ``>``); for UniProt style ``sp|Q9DXE5.1|NAME`` it is
the middle field; the version suffix (``.1``) is dropped and the result is upper case. Nothing (profile, threshold,
family reference or calibration) may be built from an evaluation-split protein.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

EVALUATION_PREFIXES = "0123"
_VERSION = re.compile(r"\.\d+$")


def bare_accession(header: str) -> str:
    """'sp|Q9DXE5.1|REP_TYLCC RecName...' -> 'Q9DXE5'; '>NP_937956.1 replicase' -> 'NP_937956'."""
    text = header.strip().lstrip(">").strip()
    if not text:
        raise ValueError("bare_accession: empty FASTA header (expected e.g. 'NP_937956.1 description').")
    token = text.split()[0]
    parts = token.split("|")
    if len(parts) >= 3 and parts[0].lower() in {"sp", "tr"}:
        token = parts[1]
    elif len(parts) >= 2 and parts[0].lower() in {"sp", "tr", "gb", "ref", "emb", "dbj"}:
        token = parts[1]
    else:
        token = parts[0]
    return _VERSION.sub("", token).upper()


def in_evaluation_split(header: str) -> bool:
    """True when the protein named by this FASTA header (or accession) belongs to the evaluation split."""
    digest = hashlib.sha1(bare_accession(header).encode()).hexdigest()
    return digest[0] in EVALUATION_PREFIXES


def assert_training(headers: Iterable[str], what: str = "build input") -> int:
    """Raise if any header is in the evaluation split; returns how many were checked (build scripts call this)."""
    n = 0
    for h in headers:
        n += 1
        if in_evaluation_split(h):
            raise AssertionError(f"{what}: {bare_accession(h)} is in the evaluation split (issue #13) and must not "
                                 "be used to build profiles, thresholds, references or calibration.")
    return n
