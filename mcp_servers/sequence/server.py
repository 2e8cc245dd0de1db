"""MCP server for sequence analysis (FastMCP): stdio for Claude Desktop, streamable HTTP for agents and remote clients.

    python -m mcp_servers.sequence.server                      # stdio
    bioagent mcp sequence --transport http --port 8001         # http://127.0.0.1:8001/mcp

Over HTTP, a bearer token (BIOAGENT_MCP__BEARER_TOKEN) is required when set: requests without it or with a wrong one
get 401. Tools return JSON; bad input comes back as an MCP tool error (isError) with a readable message and the
server keeps running.
"""

from __future__ import annotations

import functools
import logging
from typing import Annotated, Any

import anyio
from pydantic import Field

from . import service
from .errors import SequenceError

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Protein sequence analysis for viral proteins, especially CRESS-DNA virus Rep proteins. Every tool takes the "
    "sequence as plain amino-acid letters or FASTA/GenBank text; positions are 1-based. ESM-2 scores are zero-shot "
    "predictions with modest accuracy on viral proteins: report the model name and treat them as hypotheses. "
    "annotate_genome takes a nucleotide genome or contig and reports genes, Rep, capsid and origin with 0-based "
    "starts and exclusive ends."
)

SEQ_DESC = ("Protein sequence: plain one-letter amino acids (e.g. 'MPSKKNGRSG...') or FASTA text ('>id\\nMPSK...') "
            "or GenBank text.")
RECORD_DESC = "When the input holds several records, the id of the one to use (e.g. 'NP_937956.1')."
DNA_DESC = "If the input is DNA/RNA, translate its CDS features (GenBank) or longest ORFs and use those proteins."
STRATEGY_DESC = ("'masked-marginals' (default, more accurate: each position masked in turn) or 'wt-marginals' "
                 "(one forward pass, faster).")

Sequence = Annotated[str, Field(description=SEQ_DESC)]
RecordId = Annotated[str | None, Field(description=RECORD_DESC)]
TranslateDna = Annotated[bool, Field(description=DNA_DESC)]
Strategy = Annotated[str, Field(description=STRATEGY_DESC)]


async def _call(fn, *args, **kwargs) -> dict[str, Any]:
    """Run a service function in a worker thread; user errors become MCP tool errors with the message as it is."""
    from mcp.server.fastmcp.exceptions import ToolError

    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except SequenceError as exc:
        raise ToolError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - never crash the server; say what failed
        log.exception("tool %s failed", getattr(fn, "__name__", fn))
        raise ToolError(f"Internal error in {getattr(fn, '__name__', 'tool')}: {type(exc).__name__}: {exc}") from exc


def build_server(settings=None, host: str | None = None, port: int | None = None):
    """The FastMCP server with the sequence tools (settings default to the process settings)."""
    from mcp.server.fastmcp import FastMCP

    if settings is None:
        from agent.settings import get_settings

        settings = get_settings()
    mcp = FastMCP(SERVER_NAME, instructions=INSTRUCTIONS, host=host or settings.mcp.host,
                  port=port or settings.mcp.port, log_level="WARNING")
    s = settings

    @mcp.tool(name="validate_sequence")
    async def validate_sequence(sequence: Sequence, translate_dna: TranslateDna = False) -> dict[str, Any]:
        """Check and parse sequence input (plain letters, FASTA with one or many records, or GenBank). Returns each
        record's id, kind (protein or nucleotide), length and cleaned sequence; for DNA/RNA it lists the CDS/ORF
        protein translations on offer. Errors name the record, position and offending letter. Use this first when
        unsure whether the input is a valid protein."""
        return await _call(service.parse, sequence, translate_dna=translate_dna, settings=s)

    @mcp.tool(name="protein_properties")
    async def protein_properties(sequence: Sequence, translate_dna: TranslateDna = False) -> dict[str, Any]:
        """Basic physico-chemical properties of each protein record (Biopython ProtParam): length, molecular weight
        in daltons, isoelectric point (pI), net charge at pH 7, GRAVY hydropathy, aromaticity, instability index,
        extinction coefficients and amino-acid composition. No model needed; fast."""
        return await _call(service.properties, sequence, translate_dna=translate_dna, settings=s)

    @mcp.tool(name="score_mutations")
    async def score_mutations(
        sequence: Sequence,
        mutations: Annotated[str, Field(description=(
            "Mutations as wild-type letter + 1-based position + new letter, e.g. 'K25A'. Join substitutions of one "
            "variant with ':' ('K25A:G30D', scored additively); separate variants with commas ('K25A, G30D')."))],
        strategy: Strategy = "masked-marginals",
        record_id: RecordId = None,
        translate_dna: TranslateDna = False,
    ) -> dict[str, Any]:
        """Predict the effect of amino-acid substitutions with the ESM-2 protein language model (zero-shot).
        Score = log p(mutant) - log p(wild type): negative means predicted damaging (more negative = worse),
        positive means tolerated/preferred. The wild-type letter is checked against the sequence. Use for 'what does
        mutation X do' questions; results name the model and include an accuracy caveat."""
        return await _call(service.score_mutations, sequence, mutations, strategy=strategy, record_id=record_id,
                           translate_dna=translate_dna, settings=s)

    @mcp.tool(name="mutational_scan")
    async def mutational_scan(
        sequence: Sequence,
        strategy: Strategy = "masked-marginals",
        record_id: RecordId = None,
        top: Annotated[int, Field(ge=1, le=100, description="How many positions/substitutions to list in the summary.")] = 10,
        include_matrix: Annotated[bool, Field(description=(
            "Also return the full positions x 20 amino-acid score matrix (large: ~20 numbers per residue)."))] = False,
        translate_dna: TranslateDna = False,
    ) -> dict[str, Any]:
        """In-silico deep mutational scan with ESM-2: scores every possible single substitution at every position
        and summarises which positions are most constrained (substitutions predicted damaging; likely functionally
        important, e.g. catalytic motifs) and most tolerant, plus the most damaging and most favoured substitutions.
        Use for 'which residues are constrained/important' questions. Slower than score_mutations (one model pass
        per position, batched); repeated scans come from a cache."""
        return await _call(service.mutational_scan, sequence, strategy=strategy, record_id=record_id,
                           include_matrix=include_matrix, top=top, translate_dna=translate_dna, settings=s)

    @mcp.tool(name="embed_sequence")
    async def embed_sequence(
        sequence: Sequence,
        record_id: RecordId = None,
        layer: Annotated[int | None, Field(description="Model layer (default: the last).")] = None,
        per_residue: Annotated[bool, Field(description="Also return one vector per residue (large).")] = False,
        translate_dna: TranslateDna = False,
    ) -> dict[str, Any]:
        """ESM-2 embedding of a protein: the mean-pooled sequence vector (and optionally per-residue vectors), for
        similarity comparisons, clustering or downstream models. Not needed to answer questions in words."""
        return await _call(service.embed, sequence, record_id=record_id, layer=layer, per_residue=per_residue,
                           translate_dna=translate_dna, settings=s)

    @mcp.tool(name="predict_contacts")
    async def predict_contacts(
        sequence: Sequence,
        record_id: RecordId = None,
        top: Annotated[int, Field(ge=1, le=1000, description="How many residue pairs to list.")] = 50,
        min_separation: Annotated[int, Field(ge=1, description="Least sequence separation |i - j| listed.")] = 6,
        include_matrix: Annotated[bool, Field(description="Also return the full L x L probability matrix.")] = False,
        translate_dna: TranslateDna = False,
    ) -> dict[str, Any]:
        """Predicted residue-residue contacts (3D proximity) from ESM-2's contact head: the most probable pairs of
        1-based positions with probabilities, optionally the full contact map."""
        return await _call(service.contacts, sequence, record_id=record_id, top=top, min_separation=min_separation,
                           include_matrix=include_matrix, translate_dna=translate_dna, settings=s)

    @mcp.tool(name="annotate_rep")
    async def annotate_rep(sequence: Sequence, translate_dna: TranslateDna = False) -> dict[str, Any]:
        """Is this a CRESS-DNA virus Rep protein, and of which family? Scores profile HMMs of the Rep HUH
        endonuclease and SF3 helicase domains of every Cressdnaviricota family and calls 'yes' (HUH then SF3, a CRESS
        Rep), 'partial' (a truncated CRESS Rep), 'huh_only' (an HUH endonuclease without SF3 helicase: a phage or
        plasmid Rep, or a RepA such as the unspliced geminivirus/genomovirus ORF) or 'no' (incl. parvovirus NS1,
        polyomavirus large T, papillomavirus E1), with a calibrated confidence (0-1), the reason, the family (with
        genus where known and the nearest reference with % identity, or 'unclassified CRESS') and the RCR motifs
        I-III, Walker A/B and motif C with 1-based positions. No model needed; fast; every record of a multi-FASTA."""
        return await _call(service.annotate_rep, sequence, translate_dna=translate_dna, settings=s)

    @mcp.tool(name="annotate_genome")
    async def annotate_genome(
        sequence: Annotated[str, Field(description=(
            "Nucleotide sequence of a genome or contig: plain DNA letters, FASTA (one or many records) or GenBank "
            "text."))],
        circular: Annotated[bool | None, Field(description=(
            "Topology: true/false for every record; default: GenBank's LOCUS line, else circular for a complete "
            "CRESS-sized molecule (800-6,500 nt, no N), linear otherwise."))] = None,
        include_sequences: Annotated[bool, Field(description=(
            "Also return the genome and each gene's protein sequence (larger output)."))] = False,
    ) -> dict[str, Any]:
        """Annotate a CRESS-DNA virus genome or contig: genes on both strands (including genes that cross the origin
        of a circular genome; pyrodigal-gv plus ATG ORFs), the Rep (with its CRESS Rep call and motifs; spliced Rep
        predicted for mastre-/genomovirus-like RepA + intron), the capsid, genome organisation (ambisense/unisense),
        the replication origin (family nonanucleotide such as TAGTATTAC/TAATATTAC in the loop of a stem-loop checked
        by DNA folding, with the nick site) and the family. Returns {"records": [{id, length, topology, is_cress
        (yes/partial/no), family, genes: [{role rep/cap/other, start, end, strand, exons, protein_length, rep_call}],
        origin}]} with 0-based starts and exclusive ends (end < start when a gene wraps the origin). Phages,
        plasmids and anelloviruses come back is_cress 'no' without a Rep or origin. For a protein use annotate_rep."""
        return await _call(service.annotate_genome, sequence, circular=circular, include_sequences=include_sequences,
                           settings=s)

    return mcp


SERVER_NAME = "bioagent-sequence"


def http_app(settings=None, host: str | None = None, port: int | None = None):
    """The streamable-HTTP ASGI app (MCP endpoint at /mcp), wrapped with the bearer check when a token is set."""
    from agent.settings import get_settings
    from mcp_servers.serving import http_app as transport_app

    settings = settings or get_settings()
    return transport_app(build_server(settings, host, port), settings, realm=SERVER_NAME)


def main(transport: str = "stdio", host: str | None = None, port: int | None = None) -> None:
    """Run the server: transport 'stdio' (default) or 'http' (streamable HTTP on host:port, default BIOAGENT_MCP__*)."""
    from mcp_servers.serving import serve

    serve(build_server, SERVER_NAME, transport, host, port)


if __name__ == "__main__":
    from mcp_servers.serving import module_main

    module_main(build_server, "sequence")
