"""The genome step of report mode: nucleotide input -> `annotate_genome` (sequence MCP server) -> the protein the
rest of the report analyses (the Rep when there is one), and the report's genome section (English / Chinese).

The report shows gene locations the GenBank way (1-based, inclusive, ``complement(...)`` on the - strand,
``join(...)`` across the origin or exons); the data keeps the tool's 0-based, end-exclusive coordinates.
"""

from __future__ import annotations

from typing import Any

from agent.i18n import Texts
from agent.tools import execute_tool_call

T = Texts({
    "genome": {"en": "Genome annotation", "zh": "基因组注释"},
    "topology": {"en": "Topology", "zh": "拓扑结构"},
    "circular": {"en": "circular", "zh": "环状"},
    "linear": {"en": "linear", "zh": "线性"},
    "is_cress": {"en": "CRESS-DNA genome", "zh": "CRESS-DNA 基因组"},
    "family": {"en": "Family (from the Rep)", "zh": "科（依据 Rep）"},
    "family_rep": {"en": "Family", "zh": "科"},
    "family_fmt": {"en": "{name} (profile score {score}{near})", "zh": "{name}（谱评分 {score}{near}）"},
    "nearest_fmt": {"en": "; nearest reference {acc}, {family}, {pct}% identity",
                    "zh": "；最近参考序列 {acc}，{family}，一致性 {pct}%"},
    "runner_up": {"en": "Runner-up family", "zh": "次优科"},
    "runner_up_fmt": {"en": "{family}: {acc}, {pct}% identity ({margin} points behind)",
                      "zh": "{family}：{acc}，一致性 {pct}%（落后 {margin} 个百分点）"},
    "close_call": {"en": "close call: the two families are about equally near; treat the family as uncertain",
                   "zh": "两科几乎同样接近：科的归属不确定"},
    "organisation": {"en": "Organisation", "zh": "基因组结构"},
    "ambisense": {"en": "ambisense (Rep and capsid on opposite strands)", "zh": "双义（Rep 与衣壳蛋白位于相反链）"},
    "unisense": {"en": "unisense (Rep and capsid on the same strand)", "zh": "单义（Rep 与衣壳蛋白位于同一链）"},
    "genes": {"en": "Genes", "zh": "基因"},
    "role": {"en": "Role", "zh": "功能"},
    "location": {"en": "Location (GenBank, 1-based)", "zh": "位置（GenBank 格式，从 1 开始）"},
    "length_aa": {"en": "Length (aa)", "zh": "长度（aa）"},
    "rep_call": {"en": "Rep call", "zh": "Rep 判定"},
    "origin": {"en": "Origin of replication", "zh": "复制起点"},
    "no_origin": {"en": "no nonanucleotide stem-loop found", "zh": "未发现九核苷酸茎环结构"},
    "origin_fmt": {"en": "nonanucleotide {nona} ({strand} strand) at {pos}, stem {stem} bp, loop {loop} nt, "
                          "Rep nicks after position {nick}",
                   "zh": "九核苷酸 {nona}（{strand} 链），位于 {pos}，茎 {stem} bp，环 {loop} nt，Rep 在第 {nick} 位之后切割"},
    "analysed": {"en": "The protein analysed below is {what}.", "zh": "下文分析的蛋白为{what}。"},
    "rep_of": {"en": "the Rep encoded by {id} ({loc})", "zh": "{id} 编码的 Rep（{loc}）"},
    "longest_of": {"en": "the longest ORF of {id} ({loc}): no CRESS Rep was found",
                   "zh": "{id} 最长的开放阅读框（{loc}）：未发现 CRESS Rep"},
    "roles": {"en": {"rep": "Rep", "cap": "capsid", "other": "other"}, "zh": {"rep": "Rep", "cap": "衣壳蛋白", "other": "其他"}},
    "yes_no": {"en": {"yes": "yes", "partial": "partial", "no": "no"}, "zh": {"yes": "是", "partial": "部分", "no": "否"}},
})


def is_nucleotide_input(text: str, seqs: list[dict]) -> bool:
    """GenBank text, or sequences that the chat guard reads as DNA and no protein."""
    if text.lstrip().startswith("LOCUS"):
        return True
    return bool(seqs) and all(s["kind"] == "dna" for s in seqs)


def genbank_location(g: dict, n: int) -> str:
    """GenBank location text of a gene dict (0-based, end-exclusive spans; exons in transcript order)."""
    def span(a: int, b: int) -> list[str]:
        return [f"{a + 1}..{b}"] if b > a else [f"{a + 1}..{n}", f"1..{b}"]

    exons = g.get("exons") or [[g["start"], g["end"]]]
    if g["strand"] == -1:
        exons = exons[::-1]  # + strand order inside complement(...)
    parts = [p for a, b in exons for p in span(a, b)]
    loc = parts[0] if len(parts) == 1 else "join(" + ",".join(parts) + ")"
    return f"complement({loc})" if g["strand"] == -1 else loc


async def annotate_input(text: str, tool: Any, timeout: float, unavailable: str) -> tuple[dict, dict | None, dict]:
    """(tool result dict, first genome record or None, protein record for the rest of the report).

    Raises ValueError with the tool's message when the genome cannot be annotated or has no protein-coding gene."""
    result = await execute_tool_call(tool, {"name": "annotate_genome",
                                            "args": {"sequence": text, "include_sequences": True}},
                                     "annotate_genome", timeout, unavailable_detail=unavailable)
    if not result["ok"]:
        raise ValueError(f"the nucleotide input could not be annotated: {result['error']}")
    records = (result["content"] or {}).get("records") or []
    genome = records[0] if records else None
    if genome is None:
        raise ValueError("the nucleotide input could not be annotated: no record")
    n = genome["length"]
    reps = [g for g in genome["genes"] if g["role"] == "rep"]
    gene = reps[0] if reps else max(genome["genes"], key=lambda g: g["protein_length"], default=None)
    if gene is None or not gene.get("protein"):
        raise ValueError(f"no protein-coding gene was found in the nucleotide record '{genome['id']}'")
    loc = genbank_location(gene, n)
    protein = {"id": f"{genome['id']}_{'Rep' if reps else 'ORF'}", "header": "", "kind": "protein",
               "sequence": gene["protein"], "source": "genome", "parent": genome["id"], "location": loc,
               "is_rep": bool(reps)}
    # the tool result kept in the report's data: without the genome and protein sequences (large)
    slim = {k: v for k, v in genome.items() if k != "sequence"}
    slim["genes"] = [{k: v for k, v in g.items() if k != "protein"} for g in genome["genes"]]
    if len(records) > 1:
        slim["notes"] = list(slim.get("notes") or []) + [
            f"the input has {len(records)} nucleotide records; the report covers the first"]
    return {**result, "content": {"records": [slim]}}, slim, protein


def queries(genome: dict | None) -> list[str]:
    """Literature queries the genome adds."""
    if not genome:
        return []
    out = ["CRESS-DNA virus genome organisation stem-loop nonanucleotide origin of rolling-circle replication"]
    fam = (genome.get("family") or {}).get("name")
    if fam:
        out.append(f"{fam} genome Rep capsid")
    return out


def _pct(x: Any) -> str:
    return f"{100 * float(x):.0f}" if isinstance(x, (int, float)) else str(x)


def family_lines(fam: dict | None, lang: str, label: str = "family_rep") -> list[str]:
    """Markdown list lines for a Rep's family answer (``annotate_rep`` / ``annotate_genome``): the family with its
    nearest reference, and the runner-up family when the tool gives one (with a warning on a close call)."""
    if not isinstance(fam, dict) or not fam.get("name"):
        return []
    near = fam.get("nearest") or {}
    near_txt = T("nearest_fmt", lang).format(acc=near["accession"], family=near.get("family", ""),
                                             pct=_pct(near.get("identity"))) if near.get("accession") else ""
    lines = [f"- {T(label, lang)}: " + T("family_fmt", lang).format(name=fam["name"], score=fam.get("score"),
                                                                     near=near_txt)]
    up = fam.get("runner_up") or {}
    if up.get("accession"):
        lines.append(f"- {T('runner_up', lang)}: " + T("runner_up_fmt", lang).format(
            family=up.get("family", ""), acc=up["accession"], pct=_pct(up.get("identity")),
            margin=_pct(up.get("margin", 0))))
    if fam.get("close_call"):
        lines.append(f"- ⚠ {T('close_call', lang)}")
    return lines


def render(genome: dict | None, protein: dict | None, lang: str) -> list[str]:
    """Markdown lines of the genome section (empty without a genome)."""
    if not genome:
        return []
    n = genome["length"]
    lines = [f"### {T('genome', lang)} [T0]", "",
             f"- {T('topology', lang)}: {T(genome['topology'], lang)}, {n} nt",
             f"- {T('is_cress', lang)}: {T('yes_no', lang).get(genome['is_cress'], genome['is_cress'])}"]
    lines += family_lines(genome.get("family"), lang, "family")
    if genome.get("organisation"):
        lines.append(f"- {T('organisation', lang)}: {T(genome['organisation'], lang)}")
    o = genome.get("origin")
    if o:
        strand = "+" if o["strand"] == 1 else "-"
        lines.append(f"- {T('origin', lang)}: " + T("origin_fmt", lang).format(
            nona=o["nonanucleotide"], strand=strand, pos=o["start"] + 1, stem=o["stem_length"],
            loop=o["loop_length"], nick=o["nick_after"] + 1))
    else:
        lines.append(f"- {T('origin', lang)}: {T('no_origin', lang)}")
    roles = T("roles", lang)
    lines += ["", f"| {T('role', lang)} | {T('location', lang)} | {T('length_aa', lang)} | {T('rep_call', lang)} |",
              "|---|---|---|---|"]
    for g in genome["genes"]:
        call = (g.get("rep_call") or {}).get("call", "")
        role = roles.get(g["role"], g["role"]) + (f" ({g['product']})" if g.get("product") and g["role"] == "other"
                                                  else "")
        lines.append(f"| {role} | {genbank_location(g, n)} | {g['protein_length']} | {call} |")
    if protein:
        what = T("rep_of" if protein.get("is_rep") else "longest_of", lang).format(id=genome["id"],
                                                                                      loc=protein["location"])
        lines += ["", T("analysed", lang).format(what=what)]
    return lines + [""]
