"""Report mode: a protein sequence or a nucleotide genome/contig in, a structured Markdown report out (English or
Chinese). Nucleotide input (raw, FASTA or GenBank) first goes through ``annotate_genome``; its Rep (else its longest
ORF) is the protein analysed below, and the report gains a genome section (agent/report_genome.py).

The pipeline is deterministic, so the report is reproducible and every number in it comes from a tool:
Rep annotation (``annotate_rep``), physico-chemical properties (``properties``) and the ESM-2 mutational scan
(``mutational_scan``) through the sequence MCP server, and literature passages from the knowledge base for
queries built from the annotation. The returned ``data`` holds everything the report's figures need (motif
map, per-position constraint profile, scan matrix) so the UI and API can plot them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from agent import guards, report_genome
from agent.citations import is_reference_section
from agent.i18n import Texts, in_language
from agent.report_summary import caveat_line, caveat_passage
from agent.tools import execute_tool_call

T = Texts({
    "title": {"en": "Sequence report", "zh": "序列分析报告"},
    "input": {"en": "Input", "zh": "输入"},
    "id": {"en": "Record", "zh": "记录"},
    "length": {"en": "Length", "zh": "长度"},
    "annotation": {"en": "CRESS Rep annotation", "zh": "CRESS Rep 注释"},
    "call": {"en": "CRESS Rep call", "zh": "CRESS Rep 判定"},
    "motif": {"en": "Motif", "zh": "基序"},
    "position": {"en": "Position (1-based)", "zh": "位置（从 1 开始）"},
    "sequence": {"en": "Sequence", "zh": "序列"},
    "score": {"en": "Score", "zh": "得分"},
    "reasons": {"en": "Why", "zh": "依据"},
    "properties": {"en": "Physico-chemical properties", "zh": "理化性质"},
    "scan": {"en": "ESM-2 mutational scan", "zh": "ESM-2 突变扫描"},
    "model": {"en": "Model", "zh": "模型"},
    "constrained": {"en": "Most constrained positions", "zh": "最受约束的位点"},
    "tolerant": {"en": "Most tolerant positions", "zh": "最耐受突变的位点"},
    "literature": {"en": "Literature", "zh": "相关文献"},
    "no_passages": {"en": "No passages were found in the library.", "zh": "文献库中未找到相关段落。"},
    "passages_note": {"en": "", "zh": "（文献段落为英文原文摘录。）"},
    "refs": {"en": "References", "zh": "参考文献"},
    "limits": {"en": "Limitations and errors", "zh": "局限与错误"},
    "figures": {"en": "Figure data", "zh": "图表数据"},
    "figures_note": {
        "en": "The report's `data` holds the motif map (`figures.motif_map`), the per-position constraint profile "
              "(`figures.constraint_profile`) and the scan heatmap (`figures.heatmap`).",
        "zh": "报告的 `data` 字段包含基序图（`figures.motif_map`）、逐位点约束曲线（`figures.constraint_profile`）"
              "和扫描热图（`figures.heatmap`）的数据。",
    },
    "failed": {"en": "failed", "zh": "失败"},
    "unavailable": {"en": "not available", "zh": "不可用"},
    "call_values": {"en": {"yes": "yes", "no": "no", "partial": "partial (truncated CRESS Rep)",
                           "huh_only": "HUH endonuclease without SF3 helicase (phage/plasmid Rep or RepA)"},
                    "zh": {"yes": "是", "no": "否", "partial": "部分（截短的 CRESS Rep）",
                           "huh_only": "仅有 HUH 内切酶、无 SF3 解旋酶（噬菌体/质粒 Rep 或 RepA）"}},
})

PROPERTY_LABELS = {
    "length": {"en": "Length (aa)", "zh": "长度（aa）"},
    "molecular_weight_da": {"en": "Molecular weight (Da)", "zh": "分子量（Da）"},
    "isoelectric_point": {"en": "Isoelectric point (pI)", "zh": "等电点（pI）"},
    "charge_at_ph7": {"en": "Charge at pH 7", "zh": "pH 7 时电荷"},
    "gravy": {"en": "GRAVY (hydropathy)", "zh": "GRAVY（亲疏水性）"},
    "instability_index": {"en": "Instability index", "zh": "不稳定指数"},
    "aromaticity": {"en": "Aromaticity", "zh": "芳香性"},
}


def _find(d: Any, *keys: str) -> Any:
    """The first of ``keys`` present in ``d`` or in one of its dict values (one level down)."""
    if not isinstance(d, dict):
        return None
    for k in keys:
        if k in d:
            return d[k]
    for v in d.values():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            v = v[0]  # e.g. {"records": [{...}]}: the first record
        if isinstance(v, dict):
            for k in keys:
                if k in v:
                    return v[k]
    return None


def _positions(items: Any, n: int = 10) -> list[dict]:
    out = []
    if isinstance(items, list):
        for it in items[:n]:
            if isinstance(it, dict):
                out.append(it)
            elif isinstance(it, (int, float)):
                out.append({"position": it})
    return out


async def build_report(sequence_text: str, lang: Literal["en", "zh"] = "en", *, tools: list, knowledge_base: Any,
                       settings: Any, tool_status: dict | None = None, k: int = 5) -> dict:
    """Run the report pipeline; returns {"markdown": str, "data": {...}}. Raises ValueError without a protein or a
    nucleotide sequence that can be annotated."""
    if lang not in ("en", "zh"):
        raise ValueError("lang must be 'en' or 'zh'")
    start = time.perf_counter()
    tool_map = {t.name: t for t in tools}
    status = tool_status or {}
    timeout = float(getattr(getattr(settings, "agent", None), "time_limit_s", 300.0))
    seqs, _rest = guards.extract_sequences(sequence_text if sequence_text.lstrip().startswith(">")
                                           else sequence_text.strip())
    genome = genome_r = None
    if report_genome.is_nucleotide_input(sequence_text, seqs):
        detail = (status.get("sequence") or {}).get("detail") or "the sequence MCP server is not available"
        genome_r, genome, protein = await report_genome.annotate_input(
            sequence_text, tool_map.get("annotate_genome"), timeout, detail)
        seqs = [protein]
    if not seqs:
        # a bare sequence shorter than the chat guard's minimum is still a sequence here
        lines = [ln.strip() for ln in sequence_text.strip().splitlines() if ln.strip()]
        raw = "".join(lines).upper().rstrip("*")
        if raw and all(" " not in ln for ln in lines) and all(c in guards.AA for c in raw):
            seqs = [{"id": "sequence", "header": "", "kind": "protein", "sequence": raw, "source": "raw"}]
    proteins = [s for s in seqs if s["kind"] == "protein"]
    if not proteins:
        if seqs:
            raise ValueError("the input is a nucleotide sequence: give the protein (e.g. the Rep CDS translation; "
                             "`bioagent seq info FILE` lists a GenBank record's CDS translations)")
        raise ValueError("no protein sequence found in the input (give FASTA or a raw amino-acid sequence)")
    rec = proteins[0]
    seq = rec["sequence"]

    async def call(role: str, extra: dict | None = None) -> dict:
        name = guards.find_tool(tool_map, role) or role
        tool = tool_map.get(name)
        arg = guards.sequence_argument(rec)
        args = guards.build_args(tool, arg) if tool is not None else {"sequence": arg}
        if args is None:
            return {"id": name, "name": name, "args": {}, "ok": False, "content": None,
                    "error": f"{name}: cannot build arguments from its schema", "duration_ms": 0.0}
        if extra and tool is not None:
            props = guards._schema_props(tool)
            args.update({k: v for k, v in extra.items() if k in props})
        detail = (status.get("sequence") or {}).get("detail") or "the sequence MCP server is not available"
        return await execute_tool_call(tool, {"name": name, "args": args}, name, timeout, unavailable_detail=detail)

    annotation_r, properties_r, scan_r = await asyncio.gather(
        call("annotate_rep"), call("properties"), call("mutational_scan", {"include_matrix": True, "top": 10}))
    annotation = _first_record(annotation_r["content"]) if annotation_r["ok"] else None
    properties = _first_record(properties_r["content"]) if properties_r["ok"] else None
    scan = scan_r["content"] if scan_r["ok"] else None

    # Literature: queries from what the annotation found.
    call_value = str(_find(annotation, "call", "is_cress_rep", "verdict") or "").lower() if annotation else ""
    queries = ["CRESS-DNA virus Rep protein rolling-circle replication endonuclease helicase"]
    if call_value in ("yes", "partial", "true"):
        queries += ["Rep HUH endonuclease motifs I II III nicking origin", "SF3 helicase Walker A Walker B motif C Rep"]
    if rec.get("header"):
        words = [w for w in guards.keywords(rec["header"]) if not any(c.isdigit() for c in w)][:6]
        if words:
            queries.append(" ".join(words))
    queries += report_genome.queries(genome)
    queries.append("ESM-2 protein language model mutation effect prediction")
    passages: list[dict] = []
    errors: list[str] = []
    if knowledge_base is not None:
        seen: dict[str, dict] = {}
        for q in queries:
            try:
                hits = await asyncio.to_thread(knowledge_base.search, q, k=4)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"library search failed for {q!r}: {exc}")
                continue
            for h in hits:
                d = h.model_dump() if hasattr(h, "model_dump") else dict(h)
                if is_reference_section(d):
                    continue  # bibliography chunks say nothing about the protein
                # one passage per document: the best-scoring one
                if d["doc_id"] not in seen or d["score"] > seen[d["doc_id"]]["score"]:
                    d["query"] = q
                    seen[d["doc_id"]] = d
        passages = sorted(seen.values(), key=lambda d: d["score"], reverse=True)[:k]
        caveat_hit = await asyncio.to_thread(caveat_passage, knowledge_base)  # the ESM-2 caveat, from the library
        if caveat_hit and caveat_hit["chunk_id"] not in {p["chunk_id"] for p in passages}:
            passages.append(caveat_hit)
    else:
        errors.append("the knowledge base is not available")
    for r in (annotation_r, properties_r, scan_r):
        if not r["ok"]:
            errors.append(f"{r['name']}: {r['error']}")

    figures = _figures(seq, annotation, scan)
    data = {
        "language": lang,
        "sequence": {"id": rec["id"], "header": (rec.get("header") or "").split(" | ")[0].strip(), "length": len(seq),
                     "sequence": seq, **({k: rec[k] for k in ("parent", "location", "is_rep")} if genome else {})},
        "genome": genome,
        "annotation": annotation,
        "properties": properties,
        "scan": _scan_summary(scan),
        "passages": [{"ref": f"P{i}", **p} for i, p in enumerate(passages, start=1)],
        "caveat": caveat_line([{"ref": f"P{i}", **p} for i, p in enumerate(passages, start=1)], lang, settings),
        "queries": queries,
        "tool_results": ([genome_r] if genome_r else []) + [annotation_r, properties_r,
                                                            {**scan_r, "content": _scan_summary(scan)}],
        "figures": figures,
        "errors": errors,
        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
    }
    return {"markdown": render_markdown(data, lang), "data": data}


def _first_record(content: Any) -> Any:
    """A sequence tool's result for the first record ({"records": [...]} -> the first one)."""
    if isinstance(content, dict) and isinstance(content.get("records"), list) and content["records"]:
        return content["records"][0]
    return content


def _scan_summary(scan: Any) -> Any:
    """The scan without its large matrix (the matrix lives in figures.heatmap)."""
    if not isinstance(scan, dict):
        return scan
    return {k: v for k, v in scan.items() if k not in ("matrix", "scores", "heatmap", "logprobs")}


def _figures(seq: str, annotation: Any, scan: Any) -> dict:
    figs: dict[str, Any] = {}
    motifs = _find(annotation, "motifs") if annotation else None
    if isinstance(motifs, list):
        figs["motif_map"] = {"length": len(seq), "motifs": [
            {k: m.get(k) for k in ("name", "key", "start", "end", "sequence", "score") if k in m}
            for m in motifs if isinstance(m, dict)]}
    if isinstance(scan, dict):
        constraint = _find(scan, "constraint", "per_position_constraint", "position_constraint")
        if isinstance(constraint, list):
            figs["constraint_profile"] = {"positions": list(range(1, len(constraint) + 1)), "values": constraint,
                                          "meaning": "minus the mean log-ratio of the 19 substitutions (higher = "
                                                     "less tolerant)"}
        matrix = _find(scan, "matrix", "scores", "heatmap")
        if isinstance(matrix, (list, dict)):
            figs["heatmap"] = {"matrix": matrix, "alphabet": _find(scan, "alphabet", "amino_acids", "columns"),
                               "rows": "positions (1-based)"}
    return figs


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.1f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v[:12])
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in list(v.items())[:12])
    return str(v)


def render_markdown(data: dict, lang: str) -> str:
    s = data["sequence"]
    lines = [f"# {T('title', lang)}: {s['id']}", ""]
    lines += [f"## 1. {T('input', lang)}", "",
              f"- {T('id', lang)}: `{s['id']}`" + (f" ({s['header']})" if s.get("header") else ""),
              f"- {T('length', lang)}: {s['length']} aa", ""]
    lines += report_genome.render(data.get("genome"), data.get("sequence"), lang)

    lines += [f"## 2. {T('annotation', lang)}", ""]
    ann = data.get("annotation")
    if isinstance(ann, dict):
        call = _find(ann, "call", "is_cress_rep", "verdict")
        shown = T("call_values", lang).get(str(call).lower(), str(call))
        lines.append(f"**{T('call', lang)}: {shown}** [T1]")
        family = report_genome.family_lines(_find(ann, "family"), lang)
        if family:
            lines += [""] + family
        motifs = _find(ann, "motifs")
        if isinstance(motifs, list) and motifs:
            lines += ["", f"| {T('motif', lang)} | {T('position', lang)} | {T('sequence', lang)} | {T('score', lang)} |",
                      "|---|---|---|---|"]
            for m in motifs:
                if isinstance(m, dict):
                    lines.append(f"| {m.get('name') or m.get('key', '')} | {m.get('start', '')} | "
                                 f"`{m.get('sequence', '')}` | {_fmt(m.get('score', ''))} |")
        reasons = _find(ann, "reasons")
        if isinstance(reasons, list) and reasons:
            lines += ["", f"{T('reasons', lang)}:"] + [f"- {r}" for r in reasons]
    elif ann is not None:
        lines.append(f"{_fmt(ann)} [T1]")
    else:
        lines.append(f"annotate_rep {T('unavailable', lang)}.")
    lines.append("")

    lines += [f"## 3. {T('properties', lang)}", ""]
    props = data.get("properties")
    if isinstance(props, dict):
        lines += ["| | |", "|---|---|"]
        for key, label in PROPERTY_LABELS.items():
            if props.get(key) is not None:
                lines.append(f"| {in_language(label, lang)} | {_fmt(props[key])} |")
        lines.append("")
        lines.append("[T2]")
    else:
        lines.append(f"properties {T('unavailable', lang)}.")
    lines.append("")

    lines += [f"## 4. {T('scan', lang)}", ""]
    scan = data.get("scan")
    if isinstance(scan, dict):
        model = _find(scan, "model", "model_name")
        strategy = _find(scan, "strategy")
        if model:
            lines.append(f"- {T('model', lang)}: `{model}`" + (f" ({strategy})" if strategy else ""))
        for key, label in (("constrained", ("most_constrained", "constrained", "least_tolerant")),
                           ("tolerant", ("most_tolerated", "most_tolerant", "tolerant", "tolerated"))):
            items = _positions(_find(scan, *label))
            if items:
                shown = []
                for it in items:
                    pos = it.get("position", it.get("pos", ""))
                    wt = it.get("wt", it.get("wild_type", it.get("residue", "")))
                    val = it.get("constraint", it.get("score", it.get("mean_score", "")))
                    shown.append(f"{wt}{pos}" + (f" ({_fmt(val)})" if val != "" else ""))
                lines.append(f"- {T(key, lang)}: " + ", ".join(shown) + " [T3]")
        if not any(line.startswith(f"- {T('constrained', lang)}") for line in lines):
            lines.append(f"- {_fmt(scan)} [T3]")
    else:
        lines.append(f"mutational_scan {T('unavailable', lang)}.")
    lines += ["", f"> {data.get('caveat', '')}", ""]

    lines += [f"## 5. {T('literature', lang)}", ""]
    passages = data.get("passages") or []
    if passages:
        if T("passages_note", lang):
            lines += [T("passages_note", lang), ""]
        for p in passages:
            text = " ".join(p.get("text", "").split())
            if len(text) > 360:
                text = text[:360].rsplit(" ", 1)[0] + " ..."
            lines.append(f"- [{p['ref']}] {text}")
        lines += ["", f"### {T('refs', lang)}", ""]
        for p in passages:
            ident = f"doi:{p['doi']}" if p.get("doi") else (f"PMID:{p['pmid']}" if p.get("pmid") else p.get("doc_id", ""))
            page = f", p. {p['page']}" if p.get("page") is not None else ""
            lines.append(f"- [{p['ref']}] {p.get('title') or p.get('doc_id')}{page} ({ident})")
    else:
        lines.append(T("no_passages", lang))
    lines.append("")

    lines += [f"## 6. {T('figures', lang)}", "", T("figures_note", lang), ""]
    if data.get("errors"):
        lines += [f"## 7. {T('limits', lang)}", ""] + [f"- {e}" for e in data["errors"]] + [""]
    lines.append(("[T0] annotate_genome, " if data.get("genome") else "")
                 + "[T1] annotate_rep, [T2] properties, [T3] mutational_scan (bioagent sequence MCP server).")
    return "\n".join(lines).rstrip() + "\n"
