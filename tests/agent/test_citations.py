"""Citation checking."""

from __future__ import annotations

from agent.citations import check_citations, cited_ids, is_garbage, leaks_prompt, strip_citation_tags

P = {"P1": {"chunk_id": "c1", "doc_id": "d1", "title": "Rep", "text": "Rep nicks the origin.", "doi": "10.1/x"},
     "P2": {"chunk_id": "c2", "doc_id": "d2", "title": "Motifs", "text": "Motif III has the tyrosine.", "page": 3}}
T = {"T1": {"id": "T1", "name": "annotate_rep", "ok": True, "content": {"call": "yes"}}}


def test_valid_ids_are_kept_and_labelled():
    text, cites, invalid = check_citations("Rep nicks DNA [P1]. It is a Rep [T1]. Tyr [P2, P1].", P, T)
    assert invalid == []
    assert [c["ref"] for c in cites] == ["P1", "T1", "P2"]
    assert cites[0]["label"] == "Rep, doi:10.1/x" and cites[2]["label"] == "Motifs, p. 3"
    assert cites[1]["kind"] == "tool"


def test_ids_never_retrieved_are_removed_and_flagged():
    text, cites, invalid = check_citations("Rep nicks DNA [P7]. Motif III [P2][P9, T1]. Also [T4].", P, T)
    assert invalid == ["P7", "P9", "T4"]
    assert "P7" not in text and "P9" not in text and "T4" not in text
    assert text == "Rep nicks DNA. Motif III [P2][T1]. Also."
    assert cited_ids(text) == ["P2", "T1"]


def test_garbage_and_prompt_leaks():
    assert is_garbage("") and is_garbage("  ok ") and is_garbage("the the the the the the the the the the the the")
    assert not is_garbage("Rep nicks the origin of replication [P1].")
    assert not is_garbage("Rep 蛋白切割复制起点。")
    system = "You are bioagent, a careful research assistant for viral proteins. Answer using only the passages."
    assert leaks_prompt("Sure: You are bioagent, a careful research assistant for viral proteins. Answer using", system)
    assert not leaks_prompt("Rep is a viral protein.", system)


def test_old_citation_tags_are_stripped_from_history_text():
    assert strip_citation_tags("Rep nicks the origin [P1]. Motif III [P2, T1] holds Y96 [T3].") == \
        "Rep nicks the origin. Motif III holds Y96."
    assert strip_citation_tags("复制起点 [P1]。") == "复制起点。"
