"""Ranking: hybrid fusion against each single route (RRF and DBSF), a Chinese question finding the English paper,
and reranking with a cross-encoder, on the real MiniLM model and embedded Qdrant (both backends for rerank)."""

from __future__ import annotations

import json

import pytest

from agent.kb import Record
from tests.fixtures.kb import KB_DATA

LIB = KB_DATA / "library"
NO_ML = {"multilingual": False}


CONSTRUCTED = {
    # right motif, relevant statement: second in both routes
    "target": "The GPPGCGKS motif of Rep: lysine substitutions abolished ATP hydrolysis and viral replication.",
    # near-verbatim paraphrase of the question but about a different motif (GPPGSGKS): dense ranks it first
    "near-miss": "What the GPPGSGKS motif of the Rep enzyme does: it binds the phosphate groups of ATP.",
    # irrelevant page that repeats the exact string and the keywords: BM25 ranks it first
    "keyword-page": "Conference badge list, hall B: GPPGCGKS team (rep: Anna), GPPGCGKS lab (rep: Omar), GPPGCGKS and "
    "the motif poster prize, helicase quiz winners. Coffee is served at ten; the shuttle leaves the hotel at eight "
    "and returns after the dinner.",
    # on-topic background
    "bg1": "Rep proteins of circoviruses carry an endonuclease and a helicase; each domain has conserved motifs.",
    "bg2": "Helicase motifs in superfamily 3 proteins are conserved across small DNA viruses and their Rep.",
    "bg3": "Motif analysis of Rep sequences from fifty isolates found conserved helicase residues.",
}


def test_hybrid_beats_each_single_route(kb_factory):
    """A constructed case: dense retrieval is fooled by a near-identical motif string, BM25 by a page that
    repeats the keywords; fusing both routes with RRF puts the right passage first (off-topic PubMedQA
    abstracts as background give the terms realistic IDF)."""
    background = [Record(**json.loads(line)) for line in (KB_DATA / "pubmedqa_dev_slice.jsonl").open()]
    kb = kb_factory(records=background + [Record(id=k, text=v) for k, v in CONSTRUCTED.items()], embedding=NO_ML)
    kb.settings.retrieval.fusion = "rrf"
    for question in ("What does the GPPGCGKS motif of the Rep helicase do?", "Role of the GPPGCGKS motif in the Rep helicase"):
        top = {mode: kb.search(question, k=5, mode=mode)[0].doc_id for mode in ("dense", "sparse", "hybrid")}
        assert top == {"dense": "near-miss", "sparse": "keyword-page", "hybrid": "target"}, question
    # DBSF (the default; it scores better on the real library and PDF questions, docs/kb.md) keeps a route's far
    # lead, so this keyword-stuffed page, BM25's outlier, comes first, and the right passage second
    kb.settings.retrieval.fusion = "dbsf"
    for question in ("What does the GPPGCGKS motif of the Rep helicase do?", "Role of the GPPGCGKS motif in the Rep helicase"):
        ids = [h.doc_id for h in kb.search(question, k=5)]
        assert ids[:2] == ["keyword-page", "target"], ids


def test_chinese_question_finds_the_english_paper(kb_factory):
    kb = kb_factory(paths=[LIB, KB_DATA / "records.jsonl"], embedding={"multilingual": True})
    rep_hits = kb.search("环状DNA病毒的Rep蛋白中哪个基序负责结合ATP？", k=3)
    assert rep_hits[0].doc_id == "rep-motifs"
    assert "multilingual" in rep_hits[0].scores
    assert kb.search("哪些昆虫会传播感染番茄和木薯的双生病毒？", k=2)[0].doc_id == "geminivirus"
    assert kb.search("仔猪断奶后多系统衰竭综合征是由什么病毒引起的？", k=2)[0].doc_id == "circovirus"
    assert kb.stats()["chunks_without_multilingual"] == 0
    # English queries keep the English dense route (plus the multilingual one, unless switched off)
    en = kb.search("insects that transmit geminiviruses", k=1)[0]
    assert en.doc_id == "geminivirus" and {"dense", "multilingual", "dbsf"} <= set(en.scores)
    kb.settings.retrieval.multilingual_in_english = False
    en = kb.search("insects that transmit geminiviruses", k=1)[0]
    assert en.doc_id == "geminivirus" and "multilingual" not in en.scores and "dense" in en.scores


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A tiny randomly initialised CrossEncoder saved to disk (built here: nothing is downloaded)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from agent.kb.embeddings import resolve_model

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2"))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512, num_labels=1)
    path = tmp_path_factory.mktemp("tiny-ce")
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.mark.parametrize("backend", ["edge", "memory"])
def test_rerank_with_a_cross_encoder(kb_factory, lib_copy, tiny_cross_encoder, backend):
    kb = kb_factory(paths=[lib_copy], backend=backend, embedding=NO_ML,
                    retrieval={"rerank_model": tiny_cross_encoder, "rerank_top_n": 8})
    hits = kb.search("Walker A motif", k=4)
    assert len(hits) == 4
    assert all({"rerank", "dbsf"} <= set(h.scores) for h in hits)
    assert [h.score for h in hits] == sorted((h.scores["rerank"] for h in hits), reverse=True)
    plain = kb.search("Walker A motif", k=4, rerank=False)
    assert all("rerank" not in h.scores for h in plain)
