"""Chunking by the embedding model's tokens, with overlap, never crossing a page or section."""

from __future__ import annotations

import pytest

from agent.kb.chunking import Chunker
from agent.kb.loaders import LoadedDocument, Section


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.tokenizer, chunk_tokens=60, overlap_tokens=15)


def ntok(chunker, text):
    return len(chunker.tok(text, add_special_tokens=False)["input_ids"])


SENTENCES = [f"Sentence number {i} says that circovirus Rep protein motif {i} matters for replication." for i in range(40)]


def test_chunks_respect_the_token_budget_and_overlap(chunker):
    chunks = chunker.split_text(" ".join(SENTENCES))
    assert len(chunks) > 5
    assert all(ntok(chunker, c) <= 60 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):  # each chunk starts with the end of the previous one
        head = b.split(". ")[0] + "."
        assert a.endswith(head) and 5 <= ntok(chunker, head) <= 15
    joined = " ".join(chunks)
    assert all(s in joined for s in SENTENCES)  # nothing lost


def test_overlong_sentence_is_cut_into_token_windows(chunker):
    long = " ".join(f"alpha{i % 7} beta" for i in range(150))
    chunks = chunker.split_text(long)
    assert len(chunks) >= 5 and all(ntok(chunker, c) <= 60 for c in chunks)
    assert all(not c.startswith(("#", "0", "1", "2", "3", "4", "5", "6")) for c in chunks)  # starts on a word


def test_chunks_never_cross_sections_and_keep_page_and_section(chunker):
    doc = LoadedDocument(doc_id="d", title="t", sections=[
        Section(text=" ".join(SENTENCES[:10]), page=1),
        Section(text=" ".join(SENTENCES[10:12]), page=2, section="Results"),
        Section(text=" ".join(SENTENCES[10:12]), page=3),
    ])
    chunks = chunker.chunk(doc)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert {c.page for c in chunks} == {1, 2}  # page 3 repeats an existing passage verbatim: stored once
    for c in chunks:
        if c.page == 2:
            assert c.section == "Results" and "number 10" in c.text and "number 9 " not in c.text


def test_chinese_text_is_chunked(chunker):
    text = "猪圆环病毒2型是一种小型DNA病毒。它的Rep蛋白负责滚环复制。" * 20
    chunks = chunker.split_text(text)
    assert len(chunks) > 1 and all(ntok(chunker, c) <= 60 for c in chunks)
    assert all(c.endswith("。") for c in chunks)


def test_overlap_must_be_smaller_than_chunk(embedder):
    with pytest.raises(ValueError):
        Chunker(embedder.tokenizer, 50, 50)
