"""`bioagent seq info|score|scan|annotate|genome FILE_OR_SEQUENCE [--json]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from . import service
from .errors import SequenceError

INPUT_HELP = "A file (FASTA, GenBank or plain sequence), '-' for standard input, or the sequence itself."


def _read_input(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    p = Path(value).expanduser()
    try:
        if p.is_file():
            return p.read_text()
    except OSError:  # a long sequence is not a valid path on some systems
        pass
    return value


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except SequenceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _emit_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2))


def register(app: typer.Typer) -> None:
    seq_app = typer.Typer(help="Sequence analysis: validation, properties, ESM-2 mutation effects, Rep motifs, genome annotation.",
                          no_args_is_help=True)

    @seq_app.command("info")
    def info(
        input: str = typer.Argument(..., metavar="FILE_OR_SEQUENCE", help=INPUT_HELP),
        translate: bool = typer.Option(False, "--translate", help="Use CDS/ORF translations of DNA input."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Validate the input and show each protein's length, weight, pI and composition."""
        text = _read_input(input)
        parsed = _run(service.parse, text, translate_dna=translate)
        props = _run(service.properties, text, translate_dna=translate) if (
            translate or any(r["kind"] == "protein" for r in parsed["records"])) else {"records": []}
        if json_out:
            _emit_json({"parse": parsed, "properties": props["records"]})
            return
        typer.echo(f"format: {parsed['format']}")
        for r in parsed["records"]:
            if r["kind"] == "nucleotide":
                typer.echo(f"{r['id']}: nucleotide, {r['length']} nt; translations on offer (--translate): "
                           + ", ".join(f"{t['id']} ({t['length']} aa)" for t in r["translations"][:5]))
        for p in props["records"]:
            comp = " ".join(f"{aa}:{v:.1f}" for aa, v in sorted(p.get("composition_percent", {}).items(),
                                                                   key=lambda t: -t[1])[:6])
            typer.echo(f"{p['id']}: {p['length']} aa, MW {p['molecular_weight_da']} Da, pI {p['isoelectric_point']}, "
                       f"charge(pH7) {p.get('charge_at_ph7')}, GRAVY {p.get('gravy')}; top composition % {comp}")
        for w in parsed.get("warnings", []):
            typer.echo(f"note: {w}")

    @seq_app.command("score")
    def score(
        input: str = typer.Argument(..., metavar="FILE_OR_SEQUENCE", help=INPUT_HELP),
        mutations: str = typer.Argument(..., help="e.g. K25A, or K25A:G30D (additive); several separated by commas."),
        strategy: str = typer.Option("masked-marginals", help="masked-marginals or wt-marginals."),
        record: str | None = typer.Option(None, help="Record id when the input has several."),
        translate: bool = typer.Option(False, "--translate", help="Use CDS/ORF translations of DNA input."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """ESM-2 scores of mutations (log p(mt) - log p(wt); negative = predicted damaging)."""
        res = _run(service.score_mutations, _read_input(input), mutations, strategy=strategy, record_id=record,
                   translate_dna=translate)
        if json_out:
            _emit_json(res)
            return
        typer.echo(f"{res['record']['id']} ({res['record']['length']} aa) - {res['model']}, {res['strategy']}")
        for v in res["variants"]:
            parts = "" if len(v["substitutions"]) == 1 else "  (" + ", ".join(
                f"{s['mutation']} {s['score']:+.3f}" for s in v["substitutions"]) + ")"
            typer.echo(f"  {v['variant']:<20} {v['score']:+.3f}{parts}")
        typer.echo(res["interpretation"])
        typer.echo(f"Caveat: {res['caveat']}")

    @seq_app.command("scan")
    def scan(
        input: str = typer.Argument(..., metavar="FILE_OR_SEQUENCE", help=INPUT_HELP),
        strategy: str = typer.Option("masked-marginals", help="masked-marginals or wt-marginals."),
        record: str | None = typer.Option(None, help="Record id when the input has several."),
        top: int = typer.Option(10, help="Positions listed in the summary."),
        heatmap: Path | None = typer.Option(None, help="Write a heatmap PNG of the scan here."),
        translate: bool = typer.Option(False, "--translate", help="Use CDS/ORF translations of DNA input."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON (with the full matrix)."),
    ) -> None:
        """Deep mutational scan: every position x 20 amino acids, constrained and tolerant positions."""
        res = _run(service.mutational_scan, _read_input(input), strategy=strategy, record_id=record,
                   include_matrix=True, top=top, translate_dna=translate)
        if heatmap:
            from .plots import scan_heatmap

            scan_heatmap(res, heatmap)
        if json_out:
            _emit_json(res)
            return
        s = res["summary"]
        timing = " (cached)" if res["cached"] else ", {:.1f} s".format(res["seconds"])
        typer.echo(f"{res['record']['id']} ({res['record']['length']} aa) - {res['model']}, {res['strategy']}{timing}")
        typer.echo("most constrained: " + ", ".join(f"{p['wt']}{p['position']} ({p['constraint']:.2f})"
                                                    for p in s["most_constrained"]))
        typer.echo("most tolerant:    " + ", ".join(f"{p['wt']}{p['position']} ({p['constraint']:.2f})"
                                                    for p in s["most_tolerated"]))
        if heatmap:
            typer.echo(f"heatmap: {heatmap}")
        typer.echo(f"Caveat: {res['caveat']}")

    @seq_app.command("annotate")
    def annotate(
        input: str = typer.Argument(..., metavar="FILE_OR_SEQUENCE", help=INPUT_HELP),
        translate: bool = typer.Option(False, "--translate", help="Use CDS/ORF translations of DNA input."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """CRESS Rep call (yes/partial/huh_only/no) with confidence, family and motifs (RCR I-III, Walker A/B, C)."""
        res = _run(service.annotate_rep, _read_input(input), translate_dna=translate)
        if json_out:
            _emit_json(res)
            return
        for r in res["records"]:
            motifs = " ".join(f"{m['motif']}@{m['start']}:{m['sequence']}" for m in r["motifs"])
            fam = r.get("family") or {}
            family = f"  family: {fam['name']}" + (f" ({fam['genus']})" if fam.get("genus") else "") if fam else ""
            typer.echo(f"{r['id']} ({r['length']} aa): CRESS Rep: {r['call']} (confidence {r['confidence']}){family}")
            if motifs:
                typer.echo(f"    motifs: {motifs}")
            if fam.get("nearest"):
                n = fam["nearest"]
                typer.echo(f"    nearest reference: {n['accession']} ({n['family']}, {100 * n['identity']:.0f}% identity)")
            if fam.get("runner_up"):
                u = fam["runner_up"]
                typer.echo(f"    runner-up: {u['accession']} ({u['family']}, {100 * u['identity']:.0f}% identity)"
                           + ("  - close call: the two families are about equally near" if fam.get("close_call")
                              else ""))
            typer.echo(f"    {r['reason']}")

    @seq_app.command("genome")
    def genome(
        input: str = typer.Argument(..., metavar="FILE_OR_SEQUENCE", help=INPUT_HELP),
        circular: bool | None = typer.Option(None, "--circular/--linear",
                                             help="Topology (default: GenBank's, else circular when 800-6,500 nt)."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON (with sequences)."),
        gbk: Path | None = typer.Option(None, "--gbk", help="Write the annotation as GenBank here."),
        map_png: Path | None = typer.Option(None, "--map", help="Write a genome map PNG here (first record)."),
    ) -> None:
        """Annotate a genome or contig: genes, Rep, capsid, origin stem-loop and family (0-based, end exclusive)."""
        from .genome import annotate_genome, genome_map_png, to_genbank

        res = _run(annotate_genome, _read_input(input), circular=circular)
        if gbk:
            gbk.parent.mkdir(parents=True, exist_ok=True)
            gbk.write_text(to_genbank(res))
        if map_png:
            genome_map_png(res, map_png)
        if json_out:
            _emit_json(res)
            return
        for r in res["records"]:
            fam = r["family"]["name"] if r.get("family") else "-"
            typer.echo(f"{r['id']}: {r['length']} nt, {r['topology']}; CRESS: {r['is_cress']}; family: {fam}; "
                       f"organisation: {r.get('organisation') or '-'}")
            for g in r["genes"]:
                span = "+".join(f"{a}..{b}" for a, b in g["exons"]) if g["exons"] else f"{g['start']}..{g['end']}"
                call = f" Rep call: {g['rep_call']['call']}" if g["rep_call"] else ""
                typer.echo(f"  {g['role']:<5} {span:<22} {'+' if g['strand'] == 1 else '-'} {g['protein_length']:>4} aa"
                           f"  {g.get('product') or ''}{call}")
            o = r["origin"]
            if o:
                typer.echo(f"  origin: {o['nonanucleotide']} at {o['start']} ({'+' if o['strand'] == 1 else '-'} strand),"
                           f" stem {o['stem_length']} bp, loop {o['loop_length']} nt, nick after {o['nick_after']}")
            else:
                typer.echo("  origin: none found")
        for path, what in ((gbk, "GenBank"), (map_png, "map")):
            if path:
                typer.echo(f"{what}: {path}")

    app.add_typer(seq_app, name="seq")
