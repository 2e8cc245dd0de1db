"""Labelled Rep / negative protein sets from CRESSENT's curated databases (DB/reps, DB/caps), for the profile build
(scripts/build_rep_profiles.py) and the evaluation (bench/rep_eval.py).

CRESSENT (github.com/ricrocha82/cressent, MIT) files every protein under the family of its virus; the label of each
record here comes from that file name plus its header: geminivirus replication-enhancer proteins (REn/AC3/C3) and
RepA sit in ``reps/Geminiviridae.fa`` and are split off, phage Reps (Microviridae, Inoviridae, and the filamentous
Plectro-/Paulinoviridae) are negatives, capsids (``caps/``) are negatives. Only data is read; no CRESSENT code is used.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from .rep_split import bare_accession, in_evaluation_split

# ICTV Cressdnaviricota families in CRESSENT's DB/reps, plus the alphasatellites, whose Reps are CRESS Reps too.
CRESS_FAMILIES = (
    "Adamaviridae", "Amesuviridae", "Anicreviridae", "Bacilladnaviridae", "Circoviridae", "Draupnirviridae",
    "Gandrviridae", "Geminiviridae", "Genomoviridae", "Kirkoviridae", "Nanoviridae", "Naryaviridae", "Nenyaviridae",
    "Ouroboviridae", "Pecoviridae", "Redondoviridae", "Smacoviridae", "Vilyaviridae", "Alphasatellitidae",
)
PHAGE_FAMILIES = ("Microviridae", "Inoviridae", "Plectroviridae", "Paulinoviridae")
# Not used at all: CRESSENT's "Parvoviridae" reps are 9 MAG "CRESSRep" records (not NS1), Tolecusatellitidae has 4
# truncated alphasatellite-like Reps; Anelloviridae ORF1 and the archaeal Alphapleolipovirus Rep are other negatives.
OTHER_NEGATIVE_REPS = {"Anelloviridae": "anellovirus_orf1", "Alphapleolipovirus": "archaeal_virus_rep"}
FULL_LENGTH = (250, 600)

_REN = re.compile(r"enhancer|\bREn\b|\bA?C3\b|\bAL3\b|\bL3\b", re.I)
_REPA = re.compile(r"\bRepA\b|replication-associated protein A\b|\bprotein A\b", re.I)
_PARTIAL = re.compile(r"\bpartial\b|truncated|fragment", re.I)
_GENUS_WORD = re.compile(r"(?<![-\w])([A-Za-z]+virus)(?![-\w])")
# ICTV genus -> family (checked against the ICTV VMR in tests/sequence/test_rep_ictv.py); "<x>smacovirus" genera are
# Smacoviridae (genus_family)
GENUS_FAMILY = {
    **dict.fromkeys(("circovirus", "cyclovirus"), "Circoviridae"),
    **dict.fromkeys(("gemycircularvirus", "gemyduguivirus", "gemygorvirus", "gemykibivirus", "gemykolovirus",
                     "gemykrogvirus", "gemykroznavirus", "gemytondvirus", "gemyvongvirus", "gemytripvirus"),
                    "Genomoviridae"),
    **dict.fromkeys(("begomovirus", "mastrevirus", "curtovirus", "becurtovirus", "topocuvirus", "turncurtovirus",
                     "eragrovirus", "capulavirus", "grablovirus", "citlodavirus", "maldovirus", "mulcrilevirus",
                     "opunvirus", "topilevirus"), "Geminiviridae"),
    **dict.fromkeys(("babuvirus", "nanovirus"), "Nanoviridae"),
    **dict.fromkeys(("brisavirus", "vientovirus"), "Redondoviridae"),
    "kirkovirus": "Kirkoviridae", "pecovirus": "Pecoviridae", "protobacilladnavirus": "Bacilladnaviridae",
}
KNOWN_GENERA = set(GENUS_FAMILY)


def genus_family(genus: str) -> str | None:
    """The ICTV family of a genus named by Protein.genus (None if unknown)."""
    g = genus.lower()
    return GENUS_FAMILY.get(g) or ("Smacoviridae" if g.endswith("smacovirus") and g != "smacovirus" else None)


@dataclass(frozen=True)
class Protein:
    accession: str  # bare accession (rep_split.bare_accession)
    header: str
    family: str  # CRESSENT file stem
    category: str  # cress_rep | cress_rep_partial | cress_repa | gemini_ren | gemini_repa | phage_rep | capsid
    sequence: str
    source: str  # DB/reps/<family>.fa etc.
    families: tuple[str, ...] = ()  # every CRESSENT file stem the accession is filed under (first = `family`)

    @property
    def ambiguous(self) -> bool:
        """Filed under two or more families by CRESSENT (55 Reps): the label is ambiguous."""
        return len(self.families) > 1

    @property
    def evaluation(self) -> bool:
        return in_evaluation_split(self.header)

    @property
    def full_length(self) -> bool:
        return FULL_LENGTH[0] <= len(self.sequence) <= FULL_LENGTH[1]

    @property
    def virus(self) -> str:
        m = re.findall(r"\[([^\[\]]+)\]", self.header)
        return m[-1] if m else ""

    @property
    def genus(self) -> str | None:
        for word in _GENUS_WORD.findall(self.virus):
            w = word.lower()
            if w in KNOWN_GENERA or (w.endswith("smacovirus") and w != "smacovirus"):
                return w.capitalize()
        return None


def read_fasta_text(text: str) -> list[tuple[str, str]]:
    """(header without '>', sequence upper-case without gaps/stops) pairs of a FASTA text."""
    out: list[tuple[str, str]] = []
    header, chunks = None, []
    for line in text.splitlines():
        if line.startswith(">"):
            if header is not None:
                out.append((header, "".join(chunks)))
            header, chunks = line[1:].strip(), []
        elif header is not None:
            chunks.append(re.sub(r"[^A-Za-z]", "", line).upper())
    if header is not None:
        out.append((header, "".join(chunks)))
    return out


def _categorise(kind: str, family: str, header: str) -> str | None:
    desc = header.split(" ", 1)[1] if " " in header else ""
    if kind == "caps":
        return "capsid"
    if family in PHAGE_FAMILIES:
        return "phage_rep"
    if family in OTHER_NEGATIVE_REPS:
        return OTHER_NEGATIVE_REPS[family]
    if family not in CRESS_FAMILIES:
        return None
    if family == "Geminiviridae" and _REN.search(desc):
        return "gemini_ren"
    if _REPA.search(desc):
        return "gemini_repa" if family == "Geminiviridae" else "cress_repa"
    return "cress_rep_partial" if _PARTIAL.search(desc) else "cress_rep"


def git_commit(git_dir: Path) -> str:
    return subprocess.run(["git", "-C", str(git_dir), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def _git_files(git_dir: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(git_dir), "ls-tree", "-r", "--name-only", "HEAD", "DB/reps", "DB/caps"],
                         check=True, capture_output=True, text=True).stdout.split()
    return [p for p in out if p.endswith(".fa")]


def _git_text(git_dir: Path, path: str) -> str:
    return subprocess.run(["git", "-C", str(git_dir), "show", f"HEAD:{path}"], check=True, capture_output=True,
                          text=True).stdout


def load_cressent(source: Path) -> list[Protein]:
    """Every labelled protein of CRESSENT's DB/reps and DB/caps (a git dir, e.g. the fetched mirror, or a checkout).

    Duplicated accessions (the same protein in two files) keep their first occurrence; `families` lists every file
    (family) the accession is filed under."""
    source = Path(source)
    if (source / "DB" / "reps").is_dir():
        files = sorted(str(p.relative_to(source)) for p in (source / "DB").glob("*/*.fa") if p.parent.name in
                       ("reps", "caps"))
        read = lambda p: (source / p).read_text()  # noqa: E731
    else:
        files = _git_files(source)
        read = lambda p: _git_text(source, p)  # noqa: E731
    seen: set[str] = set()
    out: list[Protein] = []
    filed: dict[str, list[str]] = {}
    for path in files:
        kind, family = path.split("/")[1], Path(path).stem
        for header, seq in read_fasta_text(read(path)):
            cat = _categorise(kind, family, header)
            acc = bare_accession(header)
            if cat is None or not seq:
                continue
            if family not in filed.setdefault(acc, []):
                filed[acc].append(family)
            if acc in seen:
                continue
            seen.add(acc)
            out.append(Protein(acc, header, family, cat, seq.rstrip("*"), path))
    return [replace(p, families=tuple(filed[p.accession])) for p in out]
