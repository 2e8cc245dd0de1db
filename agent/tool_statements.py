"""Tool results in plain words (English or Chinese), each with its citation, joined where they meet.

A mutation inside a motif that ``annotate_rep`` found is said once, with both: "Y96 lies in RCR motif III
(YCSKEG, 96-101), the catalytic tyrosine [T1]". A failed or rejected call is one line without a citation
(a failed call proves nothing), its cause in a few words; the full error stays in the trace.
"""

from __future__ import annotations

import re
from typing import Any

from agent.prompts import tool_content_text

LABELS = {
    "annotate_rep": ("Rep motif annotation", "Rep 基序注释"),
    "protein_properties": ("Protein properties", "蛋白理化性质"),
    "properties": ("Protein properties", "蛋白理化性质"),
    "score_mutations": ("ESM-2 scoring", "ESM-2 突变评分"),
    "mutational_scan": ("ESM-2 mutational scan", "ESM-2 突变扫描"),
    "validate_sequence": ("Sequence validation", "序列检查"),
    "search_pubmed": ("PubMed search", "PubMed 检索"),
    "search_europepmc": ("Europe PMC search", "Europe PMC 检索"),
    "add_to_library": ("Adding to the library", "加入文献库"),
    "sequence tools": ("Sequence analysis", "序列分析"),
}
AMINO = {"A": ("Ala", "alanine"), "C": ("Cys", "cysteine"), "D": ("Asp", "aspartate"), "E": ("Glu", "glutamate"),
         "F": ("Phe", "phenylalanine"), "G": ("Gly", "glycine"), "H": ("His", "histidine"),
         "I": ("Ile", "isoleucine"), "K": ("Lys", "lysine"), "L": ("Leu", "leucine"), "M": ("Met", "methionine"),
         "N": ("Asn", "asparagine"), "P": ("Pro", "proline"), "Q": ("Gln", "glutamine"), "R": ("Arg", "arginine"),
         "S": ("Ser", "serine"), "T": ("Thr", "threonine"), "V": ("Val", "valine"), "W": ("Trp", "tryptophan"),
         "Y": ("Tyr", "tyrosine")}
AMINO_ZH = {"Y": "酪氨酸", "H": "组氨酸", "K": "赖氨酸", "D": "天冬氨酸", "E": "谷氨酸", "C": "半胱氨酸", "S": "丝氨酸"}
_EXC_RE = re.compile(r"\b(?:[A-Za-z_]+\.)*[A-Z][A-Za-z]*(?:Error|Exception|Exit|Interrupt|Group)\b:?\s*")
_MUT_RE = re.compile(r"^([A-Z])(\d+)([A-Z])$")


def label(name: str, lang: str) -> str:
    en, zh = LABELS.get(name, (name, name))
    return zh if lang == "zh" else en


def short_reason(error: str | None, lang: str = "en") -> str:
    """A failure in a few words for the answer (no exception class names, no stack of details)."""
    e = (error or "").strip()
    low = e.lower()
    zh = lang == "zh"
    if low.startswith("call rejected:"):
        why = e.split(":", 1)[1].strip()
        if "did not ask to change the library" in why:
            return "未执行：用户没有要求修改文献库" if zh else "not run: you did not ask to change the library"
        if "limit" in why:
            return "未执行：已达工具调用上限" if zh else "not run: tool-call limit reached"
        return ("未执行：" if zh else "not run: ") + _first_sentence(why)
    if "timed out" in low:
        return "超时" if zh else "timed out"
    if "esm" in low and any(w in low for w in ("checkpoint", "download", "provide a model", "could not be loaded",
                                                  "not installed", "unknown esm model")):
        return "未配置 ESM-2 模型（设置方法见运行记录）" if zh else "no ESM-2 model is installed (how to add one: see the trace)"
    if any(w in low for w in ("closedresource", "brokenresource", "connection", "server stopped", "not available",
                              "unavailable", "endofstream", "not responding")):
        return "工具服务暂时不可用" if zh else "the tool server is not responding"
    return _first_sentence(e)


def _first_sentence(text: str) -> str:
    t = re.sub(r"^tool \S+ failed:\s*", "", text.strip())
    t = re.sub(r"^Error executing tool \S+:\s*", "", t)
    t = _EXC_RE.sub("", t).strip()
    t = re.split(r"(?<=[.!?])\s", t, maxsplit=1)[0].strip()
    if len(t) > 140:
        t = t[:140].rsplit(" ", 1)[0] + " ..."
    return t or "failed"


def error_line(result: dict[str, Any], lang: str) -> str:
    """One line for a failed or rejected call (no citation: it proves nothing)."""
    if result.get("error_code") == "server_unavailable":  # agent.mcp_supervisor restarts it in the background
        reason = "服务正在自动重启，请几秒后重试" if lang == "zh" else "its server is restarting; try again in a few seconds"
    else:
        reason = short_reason(result.get("error"), lang)
    if lang == "zh":
        return f"{label(result.get('name', ''), lang)}不可用（{result.get('id')}）：{reason}。"
    return f"{label(result.get('name', ''), lang)} unavailable ({result.get('id')}): {reason}."


def _records(content: Any) -> list[dict]:
    if isinstance(content, dict) and isinstance(content.get("records"), list):
        return [r for r in content["records"] if isinstance(r, dict)]
    return [content] if isinstance(content, dict) else []


def _motif_name(name: str) -> tuple[str, str]:
    """("RCR motif III", "catalytic Tyr") from "RCR motif III (catalytic Tyr)"."""
    m = re.match(r"^(.*?)\s*\(([^)]*)\)\s*$", name or "")
    return (m.group(1), m.group(2)) if m else (name or "", "")


def _motif_span(m: dict) -> tuple[int, int]:
    start = int(m.get("start") or 0)
    end = int(m.get("end") or (start + len(m.get("sequence") or "") - 1))
    return start, end


def motif_statement(mutation: str, motifs: list[dict], ref: str, lang: str) -> str | None:
    """Where a mutated residue lies among the motifs found (None when the mutation is malformed)."""
    mm = _MUT_RE.match(mutation)
    if not mm:
        return None
    wt, pos = mm.group(1), int(mm.group(2))
    for m in motifs:
        start, end = _motif_span(m)
        if start <= pos <= end:
            base, role = _motif_name(str(m.get("name") or m.get("motif") or "motif"))
            seq = str(m.get("sequence") or "")
            aa3, aa_name = AMINO.get(wt, (wt, wt))
            key_residue = (aa3.lower() in role.lower() or aa_name in role.lower()) and seq.find(wt) == pos - start
            if lang == "zh":
                extra = f"，是该基序的催化{AMINO_ZH.get(wt, aa3)}" if key_residue and "cataly" in role.lower() else ""
                return f"{wt}{pos} 位于 {base}（{seq}，{start}-{end}）{extra} [{ref}]。"
            if key_residue:
                role_words = re.sub(rf"\b{aa3}\b", aa_name, role, flags=re.I)
                extra = f", the {role_words}"
            else:
                extra = f" ({role})" if role else ""
            return f"{wt}{pos} lies in {base} ({seq}, {start}-{end}){extra} [{ref}]."
    if lang == "zh":
        return f"{wt}{pos} 不在找到的任何基序内 [{ref}]。"
    return f"{wt}{pos} lies outside the motifs found [{ref}]."


_CALL_EN = {"yes": "is a CRESS-DNA virus Rep (endonuclease and helicase motifs in CRESS order)",
            "partial": "has the Rep endonuclease motifs but no complete SF3 helicase",
            "no": "is not a CRESS Rep by its motifs"}
_CALL_ZH = {"yes": "是 CRESS-DNA 病毒的 Rep 蛋白（内切酶与解旋酶基序顺序符合）", "partial": "有 Rep 内切酶基序，但解旋酶不完整",
            "no": "按基序判断不是 CRESS Rep"}


def annotate_statement(result: dict, lang: str) -> str:
    parts = []
    for rec in _records(result.get("content"))[:2]:
        call = str(rec.get("call", ""))
        motifs = [m for m in rec.get("motifs") or [] if isinstance(m, dict)]
        listed = ", ".join(f"{_motif_name(str(m.get('name') or m.get('motif')))[0]} "
                           f"({m.get('sequence', '')}, {_motif_span(m)[0]}-{_motif_span(m)[1]})" for m in motifs)
        if lang == "zh":
            s = f"该序列{_CALL_ZH.get(call, '判定：' + call)}" + (f"；找到的基序：{listed}" if listed else "")
            parts.append(f"{s} [{result['id']}]。")
        else:
            s = f"The sequence {_CALL_EN.get(call, 'gets the call ' + repr(call))}" + (
                f"; motifs found: {listed}" if listed else "")
            parts.append(f"{s} [{result['id']}].")
    return " ".join(parts)


def score_statement(result: dict, lang: str) -> str:
    content = result.get("content") if isinstance(result.get("content"), dict) else {}
    model = content.get("model") or "ESM-2"
    variants = content.get("variants") or content.get("results") or []
    bits = []
    for v in variants[:6]:
        if not isinstance(v, dict) or not isinstance(v.get("score"), (int, float)):
            continue
        name = v.get("variant") or v.get("mutation")
        s = float(v["score"])
        if lang == "zh":
            bits.append(f"{name} 为 {s:.2f}（{'低于 0：预测有害' if s < 0 else '不低于 0：预测可耐受'}）")
        else:
            bits.append(f"{name} at {s:.2f} ({'below 0: predicted damaging' if s < 0 else '0 or above: predicted tolerated'})")
    if not bits:
        return ""
    if lang == "zh":
        return f"ESM-2（{model}）评分：{'；'.join(bits)} [{result['id']}]。"
    return f"ESM-2 ({model}) scores {'; '.join(bits)} [{result['id']}]."


_PROPS = (("length", "length {} aa", "长度 {} aa"), ("molecular_weight_da", "molecular weight {:.1f} Da", "分子量 {:.1f} Da"),
          ("isoelectric_point", "pI {:.2f}", "等电点 {:.2f}"), ("charge_at_ph7", "net charge {:.1f} at pH 7", "pH 7 净电荷 {:.1f}"))


def properties_statement(result: dict, lang: str) -> str:
    recs = _records(result.get("content"))
    if not recs:
        return ""
    rec = recs[0]
    bits = []
    for key, en, zh in _PROPS:
        v = rec.get(key)
        if isinstance(v, (int, float)):
            bits.append((zh if lang == "zh" else en).format(v))
    if not bits:
        return ""
    return (f"蛋白性质：{'，'.join(bits)} [{result['id']}]。" if lang == "zh"
            else f"Protein properties: {', '.join(bits)} [{result['id']}].")


def search_statement(result: dict, lang: str) -> str:
    content = result.get("content") if isinstance(result.get("content"), dict) else {}
    arts = [a for a in content.get("articles") or [] if isinstance(a, dict)]
    titles = "; ".join(f"{a.get('title', '').rstrip('.')} (PMID {a.get('pmid')})" if a.get("pmid")
                       else a.get("title", "") for a in arts[:3])
    where = label(result.get("name", ""), lang)
    if lang == "zh":
        return f"{where}“{content.get('query', '')}”找到 {len(arts)} 篇：{titles} [{result['id']}]。"
    return f"{where} for \"{content.get('query', '')}\" found {len(arts)} record(s): {titles} [{result['id']}]."


def generic_statement(result: dict, lang: str) -> str:
    content = result.get("content")
    recs = _records(content)
    if recs:
        items = [f"{k}={v}" for k, v in recs[0].items() if isinstance(v, (str, int, float, bool)) and len(str(v)) < 80][:6]
        if items:
            return f"{label(result.get('name', ''), lang)}: {', '.join(items)} [{result['id']}]."
    return f"{label(result.get('name', ''), lang)}: {tool_content_text(content, 200)} [{result['id']}]."


def mutated_motifs(results: list[dict[str, Any]], mutations: list[str]) -> list[str]:
    """Names of the found motifs that contain a named mutation, e.g. ["RCR motif III (catalytic Tyr)"]."""
    annotated = next((r for r in results if r.get("ok") and r.get("name") == "annotate_rep"
                      and _records(r.get("content"))), None)
    if annotated is None:
        return []
    out = []
    for mut in mutations:
        mm = _MUT_RE.match(mut)
        for m in _records(annotated["content"])[0].get("motifs") or []:
            start, end = _motif_span(m)
            if mm and start <= int(mm.group(2)) <= end and m.get("name") not in out:
                out.append(str(m.get("name")))
    return out


_AA3_NAME = {aa3.lower(): name for aa3, name in AMINO.values()}


def finding_queries(results: list[dict[str, Any]], mutations: list[str]) -> list[str]:
    """What the tools found that the library should explain, as search/ranking queries: per found motif that
    contains a named mutation, its name and role in words ("RCR motif III catalytic tyrosine")."""
    out = []
    for name in mutated_motifs(results, mutations):
        base, role = _motif_name(name)
        role = re.sub(r"\b[A-Za-z]{3}\b", lambda m: _AA3_NAME.get(m.group(0).lower(), m.group(0)), role)
        out.append(f"{base} {role}".strip())
    return out


def tool_statements(results: list[dict[str, Any]], mutations: list[str], lang: str) -> list[str]:
    """One statement per successful tool result, joined where they meet (failed calls: ``error_line``)."""
    lines: list[str] = []
    annotated = next((r for r in results if r.get("ok") and r.get("name") == "annotate_rep"
                      and _records(r.get("content"))), None)
    motifs = [m for m in (_records(annotated["content"])[0].get("motifs") or [])] if annotated else []
    scored = [r for r in results if r.get("ok") and r.get("name") == "score_mutations"]
    muts = list(mutations)
    for r in scored:
        for v in (r["content"] or {}).get("variants", []) if isinstance(r.get("content"), dict) else []:
            for s in v.get("substitutions") or []:
                if s.get("mutation") and s["mutation"] not in muts:
                    muts.append(s["mutation"])
    for r in results:
        if not r.get("ok"):
            continue
        name = r.get("name", "")
        if name == "annotate_rep":
            lines.append(annotate_statement(r, lang))
            for m in muts:  # the join: each named mutation placed among the motifs
                s = motif_statement(m, motifs, r["id"], lang)
                if s:
                    lines.append(s)
        elif name == "score_mutations":
            lines.append(score_statement(r, lang))
        elif name in ("protein_properties", "properties"):
            lines.append(properties_statement(r, lang))
        elif name in ("search_pubmed", "search_europepmc"):
            lines.append(search_statement(r, lang))
        else:
            lines.append(generic_statement(r, lang))
    return [ln for ln in lines if ln]
