"""Deterministic guards: sequence and mutation detection, language, routes, write intent, tool arguments."""

from __future__ import annotations

from pathlib import Path

from agent import guards

PCV2 = (Path(__file__).resolve().parents[1] / "data" / "agent" / "pcv2_rep.faa").read_text()
PCV2_SEQ = "".join(PCV2.splitlines()[1:])


def test_fasta_is_found_and_replaced_by_a_placeholder():
    seqs, rest = guards.extract_sequences("Is this a Rep?\n" + PCV2)
    assert len(seqs) == 1
    assert seqs[0]["id"] == "NP_937956.1" and seqs[0]["kind"] == "protein" and seqs[0]["sequence"] == PCV2_SEQ
    assert "MPSKKNGRSG" not in rest and "[sequence NP_937956.1, 314 aa]" in rest


def test_bare_sequence_in_english_and_chinese_text():
    seqs, rest = guards.extract_sequences(f"What does Y96F do in {PCV2_SEQ[:120]} please")
    assert [s["kind"] for s in seqs] == ["protein"] and len(seqs[0]["sequence"]) == 120
    assert rest.startswith("What does Y96F do in [sequence seq1") and rest.endswith("please")
    seqs, rest = guards.extract_sequences(f"这个蛋白{PCV2_SEQ[:80]}的突变有什么影响？")
    assert len(seqs) == 1 and "这个蛋白" in rest and "的突变" in rest


def test_wrapped_lines_join_and_dna_is_recognised():
    seqs, _ = guards.extract_sequences("look:\n" + "\n".join(PCV2_SEQ[i:i + 60] for i in range(0, 180, 60)))
    assert len(seqs) == 1 and len(seqs[0]["sequence"]) == 180
    seqs, rest = guards.extract_sequences("ATGCGTACGTAGCTAGCTAGCTAGCATCGATCGATCGA translate")
    assert seqs[0]["kind"] == "dna" and rest.endswith("translate")


def test_ordinary_text_has_no_sequence():
    for text in ["What is the role of the Rep protein in rolling-circle replication?", "DNA REPLICATION IN PCV2",
                 "Internationalization CONSTITUTIONALLY something", "圆环病毒Rep蛋白的功能是什么？", "K25A and G30D"]:
        assert guards.extract_sequences(text)[0] == [], text


def test_mutations_are_checked_against_the_sequence():
    assert guards.extract_mutations("what do Y96F and K4A do", PCV2_SEQ) == ["Y96F", "K4A"]
    # inconsistent ones are dropped when at least one fits
    assert guards.extract_mutations("Y96F or W96A", PCV2_SEQ) == ["Y96F"]
    # none fits: kept (the tool says what is there)
    assert guards.extract_mutations("K25A", PCV2_SEQ) == ["K25A"]
    assert guards.extract_mutations("H5N1 and PCV2") == []
    assert guards.extract_mutations("突变K4A的影响") == ["K4A"]


def test_language():
    assert guards.detect_language("What does Rep do?") == "en"
    assert guards.detect_language("圆环病毒Rep蛋白的功能是什么？") == "zh"
    assert guards.detect_language("这个蛋白的功能?\n" + PCV2) == "zh"


def test_guarded_routes():
    seqs, text = guards.extract_sequences("Is this a Rep?\n" + PCV2)
    assert guards.guarded_route(text, seqs)[0] == "both"
    assert guards.guarded_route("What do studies report about circovirus Rep?", [])[0] == "retrieve"
    assert guards.guarded_route("hello", [])[0] == "direct"
    assert guards.guarded_route("search PubMed for circovirus Rep", [])[0] == "both"
    assert guards.guarded_route("What does Rep do?", [], retrieval_enabled=False)[0] == "direct"


def test_model_can_add_but_never_remove_guarded_steps():
    kw = dict(retrieval_enabled=True, tools_available=True)
    assert guards.combine_routes("retrieve", "direct", True, False, **kw) == "retrieve"
    assert guards.combine_routes("retrieve", "tools", True, False, **kw) == "both"
    assert guards.combine_routes("direct", "retrieve", False, False, **kw) == "retrieve"
    assert guards.combine_routes("both", None, True, True, **kw) == "both"


def test_write_intent_comes_only_from_the_user():
    assert guards.write_intent("Please add PMID 31452104 to my library")
    assert guards.write_intent("把这篇文献加入文献库")
    assert not guards.write_intent("What does the library say about Rep?")


def test_sequence_guard_calls_build_arguments_from_tool_schemas(tool_recorder):
    from tests.fixtures.agent import fake_tools

    tools = {t.name: t for t in fake_tools(tool_recorder)}
    seqs, _ = guards.extract_sequences("x\n" + PCV2)
    calls = guards.sequence_guard_calls(seqs, ["Y96F"], tools)
    assert [c["name"] for c in calls] == ["annotate_rep", "properties", "score_mutations"]
    assert calls[0]["args"]["sequence"].startswith(">NP_937956.1")
    assert calls[2]["args"]["mutations"] == ["Y96F"]
    # no mutation named: no scoring
    assert [c["name"] for c in guards.sequence_guard_calls(seqs, [], tools)] == ["annotate_rep", "properties"]


def test_gloss_translation_gives_english_keywords():
    assert guards.gloss_translate("圆环病毒Rep蛋白的功能是什么？") == "circovirus Rep protein function"
