"""Tokenisation and sparse encoding of the BM25 route."""

from agent.kb.text import SparseEncoder, needs_multilingual, stem, token_index, tokenize


def test_english_tokens_are_lowercased_stemmed_and_stopword_free():
    toks = tokenize("The Rep proteins of CRESS-DNA viruses bind the origins")
    assert "the" not in toks and "of" not in toks
    assert {"rep", "protein", "cress-dna", "cress", "dna", "virus", "bind", "origin"} <= set(toks)


def test_snowball_stems_and_whole_acronyms():
    assert stem("viruses") == stem("virus") == "virus"
    assert stem("proteins") == stem("protein")
    assert stem("motifs") == "motif"
    assert stem("dna") == "dna"
    assert stem("replicated") == stem("replication") == "replic"  # the Snowball (Porter2) English stem
    assert stem("species") == "speci"
    assert tokenize("SARS and ORFs") == ["sars", "orf"]  # upper-case acronyms are kept whole, lower-cased
    assert tokenize("sars") == ["sar"]  # the same letters in lower case are an ordinary word
    assert tokenize("The HIV-1 Rep") == ["hiv-1", "hiv", "rep"]


def test_chinese_is_segmented_with_jieba():
    toks = tokenize("猪圆环病毒2型的Rep蛋白有哪些保守基序？")
    assert "病毒" in toks and "蛋白" in toks and "rep" in toks
    assert "的" not in toks  # stop word
    assert all(len(t) < 10 for t in toks)  # not one long run


def test_token_index_is_stable_across_processes():
    # fixed values: indices must never change, or stored sparse vectors stop matching queries
    assert token_index("rep") == token_index("rep")
    assert token_index("rep") == 701836227
    assert 0 <= token_index("病毒") < 2**31


def test_bm25_document_weights_saturate_and_query_weights_are_binary():
    enc = SparseEncoder()
    doc = enc.encode_document("motif motif motif motif helicase")
    w = dict(zip(doc.indices, doc.values))
    assert w[token_index("motif")] > w[token_index(stem("helicase"))]
    assert w[token_index("motif")] < 4 * w[token_index(stem("helicase"))]  # tf saturation
    q = enc.encode_query("motif motif helicase")
    assert sorted(q.values) == [1.0, 1.0]
    assert not enc.encode_query("the of and")  # only stop words -> empty


def test_needs_multilingual():
    assert needs_multilingual("猪圆环病毒的复制蛋白")
    assert needs_multilingual("Что такое белок Rep?")
    assert not needs_multilingual("What does the Rep protein of PCV2 do?")
    assert not needs_multilingual("Effet de la protéine Rep")  # Latin script: the English model copes
