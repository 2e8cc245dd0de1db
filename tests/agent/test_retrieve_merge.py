"""Merging the hits of several searches: by rank, because their scores are on different scales."""

from agent.nodes.retrieve import merge_hits, ordered


def hit(cid: str, score: float) -> dict:
    return {"chunk_id": cid, "score": score, "text": cid}


def test_searches_fused_on_different_scales_interleave_by_rank():
    merged: dict[str, dict] = {}
    # a Chinese search (RRF scores ~0.03) and an English rewrite (DBSF scores ~1-2)
    merge_hits(merged, "环状病毒 Rep", [hit("zh1", 0.033), hit("zh2", 0.031), hit("both", 0.030)])
    merge_hits(merged, "circovirus Rep", [hit("en1", 1.9), hit("both", 1.7), hit("en3", 1.2)])
    out = ordered(merged)
    assert [p["chunk_id"] for p in out] == ["en1", "zh1", "both", "zh2", "en3"]
    both = next(p for p in out if p["chunk_id"] == "both")
    assert both["rank"] == 2 and both["score"] == 1.7 and both["queries"] == ["环状病毒 Rep", "circovirus Rep"]
    # sorting by raw score would have put every English hit above every Chinese one
    assert [p["chunk_id"] for p in sorted(merged.values(), key=lambda p: -p["score"])][:3] == ["en1", "both", "en3"]


def test_a_later_search_at_the_same_rank_keeps_the_better_score_and_earlier_passages_stay():
    merged = {"old": {"chunk_id": "old", "score": 0.5, "rank": 1, "queries": ["q0"]}}
    merge_hits(merged, "q1", [hit("old", 0.25), hit("new", 0.4)])
    assert merged["old"]["score"] == 0.5 and merged["old"]["queries"] == ["q0", "q1"]
    assert [p["chunk_id"] for p in ordered(merged)] == ["old", "new"]
