"""Reading and validating sequence input: raw text, FASTA (one or many records) or GenBank (Biopython).

Rules (docs/sequence.md):
- Proteins: the 20 standard amino acids plus the letters ESM-2's alphabet also knows (X, B, Z, U, O); lower case is
  accepted; trailing ``*`` (stop) is stripped; anything else is an error naming the record, 1-based position and
  letter. Whitespace inside a sequence is ignored.
- Nucleotides (DNA/RNA, recognised when >= 90 % of at least 20 letters are A/C/G/T/U/N) are kept apart: tools that
  need a protein say so and offer the translations of the record's CDS features (GenBank) or of its longest open
  reading frames (raw/FASTA), which `read_proteins(..., translate_dna=True)` then uses.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from .errors import (
    InputError,
    InvalidSequenceError,
    NucleotideInputError,
    RecordSelectionError,
    SequenceTooLongError,
)

STANDARD_AA = "ACDEFGHIKLMNPQRSTVWY"
# Letters ESM-2's alphabet also has tokens for: X (any), B (D/N), Z (E/Q), U (selenocysteine), O (pyrrolysine).
EXTRA_AA = "XBZUO"
PROTEIN_LETTERS = frozenset(STANDARD_AA + EXTRA_AA)
NUCLEOTIDE_CORE = frozenset("ACGTUN")
NUCLEOTIDE_IUPAC = frozenset("ACGTUNRYKMSWBDHV")
MAX_INPUT_CHARS = 5_000_000
MIN_ORF_AA = 60
MAX_ORFS_OFFERED = 10


@dataclass
class ProteinRecord:
    id: str
    sequence: str
    description: str = ""
    source: str = "raw"  # raw | fasta | genbank | genbank-cds | orf
    parent: str | None = None  # nucleotide record a translation came from
    location: str | None = None  # CDS/ORF location on the parent (1-based, inclusive)

    def __len__(self) -> int:
        return len(self.sequence)


@dataclass
class Translation:
    id: str
    protein: str
    location: str
    product: str = ""
    kind: str = "CDS"  # CDS (GenBank feature) | ORF (found by scanning six frames)

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "product": self.product, "location": self.location,
                "length": len(self.protein), "protein": self.protein}


@dataclass
class NucleotideRecord:
    id: str
    sequence: str
    description: str = ""
    source: str = "raw"
    circular: bool = False
    translations: list[Translation] = field(default_factory=list)
    topology: str | None = None  # what a GenBank LOCUS line says (circular | linear), None when it says nothing


@dataclass
class ParsedInput:
    format: str  # raw | fasta | genbank
    proteins: list[ProteinRecord] = field(default_factory=list)
    nucleotides: list[NucleotideRecord] = field(default_factory=list)


def detect_format(text: str) -> str:
    head = text.lstrip()
    if head.startswith(">"):
        return "fasta"
    if head.startswith("LOCUS"):
        return "genbank"
    if ">" in text:
        raise InputError(
            "Malformed FASTA: text comes before the first '>' header line. A FASTA record starts with a line "
            "'>ID description' followed by sequence lines."
        )
    return "raw"


def _clean(seq: str) -> str:
    return re.sub(r"\s+", "", seq)


def looks_like_nucleotide(seq: str) -> bool:
    """True for DNA/RNA: at least 20 letters, >= 90 % of them A/C/G/T/U/N, and only IUPAC nucleotide letters."""
    s = seq.upper().rstrip("*")
    if len(s) < 20 or not set(s) <= NUCLEOTIDE_IUPAC:
        return False
    core = sum(1 for c in s if c in NUCLEOTIDE_CORE)
    return core / len(s) >= 0.9


def looks_like_ambiguous_nucleotide(seq: str) -> bool:
    """True for DNA/RNA with too many IUPAC ambiguity codes to be read as nucleotides: at least 30 letters, only
    IUPAC nucleotide letters (A C G T U N R Y K M S W B D H V), at least a quarter of them A/C/G/T/U/N, but under
    the 90 % of A/C/G/T/U/N that makes a nucleotide sequence. Those letters are all amino-acid letters too, so
    without this check such DNA would pass as a protein; a real protein of 30+ residues without any E, F, I, L, P
    or Q (about a third of residues) is very unlikely (~0.65^30 < 1e-5)."""
    s = seq.upper().rstrip("*")
    if len(s) < 30 or not set(s) <= NUCLEOTIDE_IUPAC or looks_like_nucleotide(s):
        return False
    core = sum(1 for c in s if c in NUCLEOTIDE_CORE)
    return core / len(s) >= 0.25


def _ambiguous_message(rid: str, seq: str) -> str:
    s = seq.upper().rstrip("*")
    amb = sum(1 for c in s if c not in "ACGTU")
    return (f"Record '{rid}' looks like a DNA/RNA sequence ({len(s)} letters, all IUPAC nucleotide codes) but "
            f"{100 * amb / len(s):.1f}% of its letters are ambiguity codes (N, R, Y, K, M, S, W, B, D, H, V), above "
            "the 10% limit, so it is neither read as DNA nor taken as a protein. Resolve the ambiguous bases, or "
            "give the protein sequence.")


def validate_protein(record_id: str, seq: str) -> tuple[str, list[tuple[str, int, str]]]:
    """Upper-case, strip trailing stops, and list (record, 1-based position, letter) for every illegal letter."""
    s = _clean(seq).upper().rstrip("*")
    problems = [(record_id, i + 1, c) for i, c in enumerate(s) if c not in PROTEIN_LETTERS]
    return s, problems


def _problem_message(problems: list[tuple[str, int, str]]) -> str:
    shown = []
    for rec, pos, letter in problems[:10]:
        what = "an internal stop codon" if letter == "*" else "not an amino acid letter"
        shown.append(f"record '{rec}', position {pos}: '{letter}' is {what}")
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return (
        "Invalid protein sequence: " + "; ".join(shown) + more + ". Allowed: the 20 standard amino acids "
        f"{STANDARD_AA} plus X, B, Z, U, O (lower case is fine; a trailing '*' is removed)."
    )


def _split_fasta(text: str) -> list[tuple[str, str, str]]:
    """(id, description, raw sequence) per FASTA record, via Biopython, with structure checks."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    records = []
    for n, (title, seq) in enumerate(SimpleFastaParser(io.StringIO(text)), start=1):
        title = title.strip()
        if not title:
            raise InputError(f"Malformed FASTA: record {n} has an empty header ('>' with no identifier).")
        rid, _, desc = title.partition(" ")
        if not _clean(seq):
            raise InputError(f"Malformed FASTA: record '{rid}' has a header but no sequence lines.")
        records.append((rid, desc.strip(), seq))
    if not records:
        raise InputError("Malformed FASTA: no records found.")
    return records


def _location_str(location) -> str:
    parts = []
    for part in getattr(location, "parts", [location]):
        strand = "complement" if part.strand == -1 else ""
        span = f"{int(part.start) + 1}..{int(part.end)}"
        parts.append(f"complement({span})" if strand else span)
    return parts[0] if len(parts) == 1 else "join(" + ",".join(parts) + ")"


def _cds_translations(record) -> list[Translation]:
    out = []
    for n, feat in enumerate((f for f in record.features if f.type == "CDS"), start=1):
        q = feat.qualifiers
        tid = (q.get("protein_id") or q.get("locus_tag") or q.get("gene") or [f"{record.id}_CDS{n}"])[0]
        if "translation" in q:
            prot = q["translation"][0]
        else:
            table = int((q.get("transl_table") or [1])[0])
            try:
                prot = str(feat.translate(record.seq, table=table, cds=False)).rstrip("*")
            except Exception as exc:  # noqa: BLE001 - shown to the user
                raise InputError(f"GenBank record '{record.id}': CDS {tid} could not be translated: {exc}") from exc
        out.append(Translation(id=tid, protein=_clean(prot).upper().rstrip("*"), location=_location_str(feat.location),
                               product=(q.get("product") or [""])[0]))
    return out


def find_orfs(seq: str, min_aa: int = MIN_ORF_AA, limit: int = MAX_ORFS_OFFERED, parent: str = "seq") -> list[Translation]:
    """Longest ATG..stop open reading frames on both strands (standard code), longest first."""
    from Bio.Seq import Seq

    s = seq.upper().replace("U", "T")
    n = len(s)
    found = []
    for strand, nuc in ((1, Seq(s)), (-1, Seq(s).reverse_complement())):
        for frame in range(3):
            sub = nuc[frame: frame + 3 * ((n - frame) // 3)]
            prot = str(sub.translate(table=1))
            pos = 0
            for piece in prot.split("*"):
                start = piece.find("M")
                if start >= 0 and len(piece) - start >= min_aa:
                    aa_start = pos + start
                    aa_end = pos + len(piece)  # exclusive, before the stop
                    nt_start = frame + 3 * aa_start
                    nt_end = min(frame + 3 * aa_end + 3, n)  # include the stop codon when present
                    if strand == 1:
                        loc = f"{nt_start + 1}..{nt_end}"
                    else:
                        loc = f"complement({n - nt_end + 1}..{n - nt_start})"
                    found.append((len(piece) - start, loc, piece[start:]))
                pos += len(piece) + 1
    found.sort(key=lambda t: -t[0])
    return [Translation(id=f"{parent}_ORF{i}", protein=p, location=loc, kind="ORF")
            for i, (_, loc, p) in enumerate(found[:limit], start=1)]


def parse_text(text: str, offer_orfs: bool = True) -> ParsedInput:
    """Parse raw/FASTA/GenBank text into protein and nucleotide records; invalid protein letters raise.

    DNA with over 10 % ambiguity codes raises InputError (it would otherwise read as a protein). `offer_orfs=False`
    skips the six-frame ORF scan of raw/FASTA nucleotide records (genome annotation finds its own genes)."""
    if text is None or not str(text).strip():
        raise InputError("Empty input: give a protein sequence as plain letters, FASTA or GenBank text.")
    text = str(text)
    if len(text) > MAX_INPUT_CHARS:
        raise SequenceTooLongError(f"Input of {len(text):,} characters is above the {MAX_INPUT_CHARS:,} limit.")
    fmt = detect_format(text)
    parsed = ParsedInput(format=fmt)
    problems: list[tuple[str, int, str]] = []

    def add(rid: str, desc: str, seq: str, source: str) -> None:
        cleaned = _clean(seq)
        if not cleaned.rstrip("*"):
            raise InputError(f"Record '{rid}' has no sequence letters.")
        if looks_like_nucleotide(cleaned):
            nuc = cleaned.upper().rstrip("*")
            parsed.nucleotides.append(NucleotideRecord(id=rid, sequence=nuc, description=desc, source=source,
                                                       translations=find_orfs(nuc, parent=rid) if offer_orfs else []))
            return
        if looks_like_ambiguous_nucleotide(cleaned):
            raise InputError(_ambiguous_message(rid, cleaned))
        prot, bad = validate_protein(rid, cleaned)
        problems.extend(bad)
        if not bad:
            parsed.proteins.append(ProteinRecord(id=rid, sequence=prot, description=desc, source=source))

    if fmt == "raw":
        add("sequence", "", text, "raw")
    elif fmt == "fasta":
        for rid, desc, seq in _split_fasta(text):
            add(rid, desc, seq, "fasta")
    else:
        _parse_genbank(text, parsed, problems)
    if problems:
        raise InvalidSequenceError(_problem_message(problems), problems)
    return parsed


def _parse_genbank(text: str, parsed: ParsedInput, problems: list) -> None:
    from Bio import SeqIO

    try:
        records = list(SeqIO.parse(io.StringIO(text), "genbank"))
    except Exception as exc:  # noqa: BLE001 - Biopython raises several types; the message is what matters
        raise InputError(f"Malformed GenBank text: {exc}") from exc
    if not records:
        raise InputError("Malformed GenBank text: no records found (a record starts with LOCUS and ends with //).")
    for rec in records:
        try:
            seq = str(rec.seq)
        except Exception as exc:  # noqa: BLE001 - UndefinedSequenceError: a record without ORIGIN
            raise InputError(f"GenBank record '{rec.id}' has no sequence (no ORIGIN section).") from exc
        mol = str(rec.annotations.get("molecule_type", "")).lower()
        if mol != "protein" and looks_like_ambiguous_nucleotide(seq):
            raise InputError(_ambiguous_message(rec.id, seq))
        if mol == "protein" or (mol == "" and not looks_like_nucleotide(seq)):
            prot, bad = validate_protein(rec.id, seq)
            problems.extend(bad)
            if not bad:
                parsed.proteins.append(ProteinRecord(id=rec.id, sequence=prot, description=rec.description,
                                                     source="genbank"))
            continue
        parsed.nucleotides.append(NucleotideRecord(
            id=rec.id, sequence=seq.upper(), description=rec.description, source="genbank",
            circular=rec.annotations.get("topology") == "circular", translations=_cds_translations(rec),
            topology=rec.annotations.get("topology")))


def _offer_message(nucs: list[NucleotideRecord]) -> str:
    lines = []
    for nuc in nucs:
        kind = "CDS features" if nuc.source == "genbank" else "open reading frames"
        if not nuc.translations:
            if nuc.source == "genbank":
                lines.append(f"GenBank record '{nuc.id}' is a nucleotide sequence ({len(nuc.sequence)} nt) with no "
                             "CDS features, so there is no protein to translate: give the protein sequence, or a "
                             "GenBank record that has CDS features.")
            else:
                lines.append(f"Record '{nuc.id}' looks like DNA/RNA ({len(nuc.sequence)} nt) and has no open reading "
                             f"frame of >= {MIN_ORF_AA} codons to translate.")
            continue
        offers = ", ".join(f"{t.id} ({t.product + ', ' if t.product else ''}{len(t.protein)} aa, {t.location})"
                           for t in nuc.translations[:5])
        lines.append(f"Record '{nuc.id}' is a nucleotide sequence ({len(nuc.sequence)} nt), not a protein. "
                     f"Translations of its {kind} are available: {offers}. Ask again with translate_dna=true "
                     "(CLI: --translate) to use them, or paste the protein sequence.")
    return " ".join(lines)


def read_proteins(text: str, *, translate_dna: bool = False, max_residues: int | None = None) -> list[ProteinRecord]:
    """Protein records from any supported input; DNA is translated only when asked (else an error that offers it)."""
    parsed = parse_text(text)
    proteins = list(parsed.proteins)
    if parsed.nucleotides:
        untranslatable = [n for n in parsed.nucleotides if not n.translations]
        if not translate_dna or untranslatable:
            offers = [t.as_dict() | {"parent": n.id} for n in parsed.nucleotides for t in n.translations]
            raise NucleotideInputError(_offer_message(parsed.nucleotides if not translate_dna else untranslatable),
                                       offers)
        for nuc in parsed.nucleotides:
            for t in nuc.translations:
                prot, bad = validate_protein(t.id, t.protein)
                if bad:
                    raise InvalidSequenceError(_problem_message(bad), bad)
                proteins.append(ProteinRecord(id=t.id, sequence=prot, description=t.product,
                                              source="genbank-cds" if t.kind == "CDS" else "orf",
                                              parent=nuc.id, location=t.location))
    if max_residues is not None:
        for p in proteins:
            if len(p) > max_residues:
                raise SequenceTooLongError(
                    f"Record '{p.id}' has {len(p):,} residues, above the limit of {max_residues:,} "
                    "(setting BIOAGENT_SEQUENCE__MAX_RESIDUES). Split the protein into domains or raise the limit.")
    return proteins


def select_record(records: list[ProteinRecord], record_id: str | None = None) -> ProteinRecord:
    """The one record a single-sequence tool works on: `record_id` if given, else the only record."""
    if record_id:
        for r in records:
            if r.id == record_id:
                return r
        raise RecordSelectionError(f"No record '{record_id}' in the input; records: {', '.join(r.id for r in records)}.")
    if len(records) != 1:
        raise RecordSelectionError(
            f"The input has {len(records)} records ({', '.join(r.id for r in records[:10])}); this tool scores one "
            "sequence: pass record_id to choose it.")
    return records[0]
