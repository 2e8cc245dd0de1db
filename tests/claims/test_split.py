"""Claim splitting: English and Chinese sentence ends, abbreviations, decimals, list markers, citations."""

from __future__ import annotations

from agent.claims.split import split_claims, strip_citations


def texts(answer: str) -> list[str]:
    return [c.text for c in split_claims(answer)]


def test_english_sentences_keep_abbreviations_decimals_and_initials():
    a = ("Rep nicks the origin (Fig. 2), e.g. at the nonanucleotide [P1]. Smith et al. measured 3.5 mg in "
         "E. coli vs. 2.1 mg in yeast [P2]! Is it conserved? Yes, i.e. in all CRESS viruses [P1, P3].")
    assert texts(a) == [
        "Rep nicks the origin (Fig. 2), e.g. at the nonanucleotide [P1].",
        "Smith et al. measured 3.5 mg in E. coli vs. 2.1 mg in yeast [P2]!",
        "Is it conserved?",
        "Yes, i.e. in all CRESS viruses [P1, P3].",
    ]
    assert [c.citations for c in split_claims(a)] == [["P1"], ["P2"], [], ["P1", "P3"]]


def test_chinese_sentences_and_fullwidth_brackets():
    a = "Rep 蛋白增加了复制效率【P1】。它不结合RNA［P2］！是否保守？是的[P1，P3]。"
    cs = split_claims(a)
    assert [c.text for c in cs] == ["Rep 蛋白增加了复制效率【P1】。", "它不结合RNA［P2］！", "是否保守？", "是的[P1，P3]。"]
    assert [c.citations for c in cs] == [["P1"], ["P2"], [], ["P1", "P3"]]
    assert strip_citations(cs[0].text) == "Rep 蛋白增加了复制效率。"


def test_lines_list_markers_trailing_citations_and_offsets():
    a = ("Here is what the library says:\n- It carries motifs I, II and III. [P2]\n"
         "1. Y96 is the catalytic tyrosine [T1]. It lies in YCSK [T1].\n[P3]")
    cs = split_claims(a)
    assert [c.text for c in cs] == ["Here is what the library says:", "It carries motifs I, II and III. [P2]",
                                    "Y96 is the catalytic tyrosine [T1].", "It lies in YCSK [T1].\n[P3]"]
    assert cs[1].citations == ["P2"] and cs[3].citations == ["T1", "P3"]
    for c in cs:
        assert a[c.start:c.end] == c.text  # offsets point into the answer


def test_empty_and_citation_free_text():
    assert split_claims("") == []
    assert texts("One claim without a full stop") == ["One claim without a full stop"]
