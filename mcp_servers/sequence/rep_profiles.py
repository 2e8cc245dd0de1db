"""Rep profile HMMs: building them (pyfamsa alignment, pytrimal trimming, pyhmmer Builder) and searching them.

Profiles are named ``KIND|label``:

- ``FAM|<family>``: full-length Rep of one Cressdnaviricota family (family classification);
- ``HUH|<family>`` and ``SF3|<family>``: the N-terminal HUH endonuclease domain and the C-terminal SF3 helicase
  domain of that family's Reps, cut from the family alignment between RCR motif III and Walker A;
- ``PHAGE|<family>``: HUH Reps of Microviridae / Inoviridae (the "phage/plasmid-like HUH" alternative);
- ``NEG|<class>``: other look-alikes to recognise by name (geminivirus REn/AC3).

Only training-split proteins go in (rep_split.assert_training is called on every build input).
"""

from __future__ import annotations

import gzip
import io
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyhmmer

from . import rep_motifs
from .rep_split import assert_training

ALPHABET = pyhmmer.easel.Alphabet.amino()
DATA_DIR = Path(__file__).resolve().parent / "data"
PROFILES_FILE = DATA_DIR / "rep_profiles.hmm.gz"
REPORT_BITS = 5.0  # report every domain of at least this bit score (calls use their own thresholds)
Z_FIXED = 1000  # fixed search-space size, so E-values do not depend on how many proteins are searched together
FALLBACK_CUT = 140  # residue where the HUH part ends when no training Rep shows motif III and Walker A


# ------------------------------------------------------------------------------------------------------- building
def align(records: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Multiple alignment of (name, sequence) records with FAMSA (pyfamsa); returns (name, gapped row)."""
    import pyfamsa

    seqs = [pyfamsa.Sequence(n.encode(), s.encode()) for n, s in records]
    msa = pyfamsa.Aligner(guide_tree="upgma", threads=1).align(seqs)
    return [(s.id.decode(), s.sequence.decode()) for s in msa]


def trim(rows: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """trimAl's gappyout on an alignment (pytrimal); rows left empty are dropped."""
    import pytrimal

    ali = pytrimal.Alignment([n.encode() for n, _ in rows], [r for _, r in rows])
    out = pytrimal.AutomaticTrimmer("gappyout").trim(ali)
    return [(n.decode(), s) for n, s in zip(out.names, out.sequences) if s.strip("-")]


def build_hmm(name: str, rows: Sequence[tuple[str, str]], description: str = "") -> pyhmmer.plan7.HMM:
    """A pyhmmer profile HMM from aligned rows."""
    msa = pyhmmer.easel.TextMSA(name=name.encode(), sequences=[
        pyhmmer.easel.TextSequence(name=n.encode(), sequence=r.replace(".", "-")) for n, r in rows])
    builder = pyhmmer.plan7.Builder(ALPHABET, seed=42)
    hmm, _, _ = builder.build_msa(msa.digitize(ALPHABET), pyhmmer.plan7.Background(ALPHABET))
    if description:
        hmm.description = description.encode()
    return hmm


def _column_of(row: str, residue: int) -> int:
    k = -1
    for col, ch in enumerate(row):
        if ch != "-":
            k += 1
            if k == residue:
                return col
    return len(row)


def cut_column(rows: Sequence[tuple[str, str]], sequences: dict[str, str]) -> int:
    """Alignment column between the HUH and SF3 domains: the median, over rows whose motif chain shows RCR motif III
    and Walker A, of the column midway between the two (rep_motifs finds them); a fixed residue otherwise."""
    cols = []
    for name, row in rows:
        chain = {h.key: h for h in rep_motifs.best_chain(rep_motifs.find_candidates(sequences[name]))}
        if "motif_III" in chain and "walker_A" in chain:
            mid = (chain["motif_III"].anchor + chain["walker_A"].anchor) // 2
            cols.append(_column_of(row, mid))
    if len(cols) >= max(2, len(rows) // 5):
        return int(statistics.median(cols))
    return int(statistics.median(_column_of(row, FALLBACK_CUT) for _, row in rows))


def _slice(rows, a, b):
    return [(n, r[a:b]) for n, r in rows if r[a:b].strip("-")]


def family_profiles(family: str, records: Sequence[tuple[str, str]]) -> list[pyhmmer.plan7.HMM]:
    """FAM|, HUH| and SF3| profiles of one family from its (header, sequence) training Reps."""
    assert_training((h for h, _ in records), f"profiles of {family}")
    named = [(f"s{i}", s) for i, (_, s) in enumerate(records)]
    rows = align(named)
    cut = cut_column(rows, dict(named))
    n = len(records)
    out = [build_hmm(f"FAM|{family}", trim(rows), f"{family} Rep, full length, {n} training proteins")]
    for kind, part in (("HUH", _slice(rows, 0, cut)), ("SF3", _slice(rows, cut, None))):
        if len(part) >= 2:
            out.append(build_hmm(f"{kind}|{family}", trim(part), f"{family} Rep {kind} domain, {len(part)} proteins"))
    return out


def single_profile(name: str, records: Sequence[tuple[str, str]], description: str) -> pyhmmer.plan7.HMM:
    assert_training((h for h, _ in records), f"profile {name}")
    return build_hmm(name, trim(align([(f"s{i}", s) for i, (_, s) in enumerate(records)])), description)


def write_profiles(hmms: Iterable[pyhmmer.plan7.HMM], path: Path) -> None:
    buf = io.BytesIO()
    for hmm in hmms:
        hmm.write(buf)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as fh:
        fh.write(buf.getvalue())


def read_profiles(path: Path) -> list[pyhmmer.plan7.HMM]:
    with gzip.open(path, "rb") as fh, pyhmmer.plan7.HMMFile(io.BytesIO(fh.read())) as f:
        return list(f)


@lru_cache(maxsize=4)
def shipped_profiles(path: str = str(PROFILES_FILE)) -> tuple[pyhmmer.plan7.HMM, ...]:
    """The profiles shipped with the package (loaded once per process)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"Rep profile file {path} is missing; build it with scripts/build_rep_profiles.py.")
    return tuple(read_profiles(Path(path)))


# ------------------------------------------------------------------------------------------------------- search
def text(value: str | bytes) -> str:
    """pyhmmer names are bytes in older releases and str in newer ones."""
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class DomainHit:
    profile: str  # KIND|label
    score: float  # bits
    evalue: float  # independent E-value with Z = Z_FIXED
    start: int  # 0-based envelope start on the protein
    end: int  # exclusive
    hmm_from: int  # 1-based, inclusive
    hmm_to: int
    hmm_length: int

    @property
    def kind(self) -> str:
        return self.profile.split("|", 1)[0]

    @property
    def label(self) -> str:
        return self.profile.split("|", 1)[1]

    @property
    def coverage(self) -> float:
        return (self.hmm_to - self.hmm_from + 1) / self.hmm_length

    def as_dict(self) -> dict:
        return {"profile": self.profile, "score": round(self.score, 1), "evalue": float(f"{self.evalue:.3g}"),
                "start": self.start, "end": self.end, "profile_coverage": round(self.coverage, 3)}


def search(sequences: Sequence[str], hmms: Sequence[pyhmmer.plan7.HMM] | None = None) -> list[list[DomainHit]]:
    """Every domain hit (>= REPORT_BITS) of every profile on every protein: one list per input, best first."""
    hmms = list(hmms if hmms is not None else shipped_profiles())
    block = pyhmmer.easel.DigitalSequenceBlock(ALPHABET, [
        pyhmmer.easel.TextSequence(name=str(i).encode(), sequence=s).digitize(ALPHABET)
        for i, s in enumerate(sequences)])
    out: list[list[DomainHit]] = [[] for _ in sequences]
    for top in pyhmmer.hmmer.hmmsearch(hmms, block, cpus=1, T=REPORT_BITS, domT=REPORT_BITS, Z=Z_FIXED,
                                       domZ=Z_FIXED):
        name, length = text(top.query.name), top.query.M
        for hit in top:
            i = int(text(hit.name))
            for d in hit.domains:
                if d.score < REPORT_BITS:
                    continue
                out[i].append(DomainHit(name, float(d.score), float(d.i_evalue), d.env_from - 1, d.env_to,
                                        d.alignment.hmm_from, d.alignment.hmm_to, length))
    for hits in out:
        hits.sort(key=lambda h: -h.score)
    return out
