"""One contract, two backends: embedded Qdrant Edge on disk and qdrant-client (in-memory local mode standing
in for a server). Every test runs against both."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from agent.kb.store import DENSE, MDENSE, SPARSE, PointData, Route, StoreFilter
from agent.kb.store.client import ClientStore
from agent.kb.store.edge import EdgeStore
from agent.kb.text import SparseEncoder

DIM = 8


@pytest.fixture(params=["edge", "client"])
def store(request, tmp_path):
    if request.param == "edge":
        s = EdgeStore.acquire(tmp_path / "shard")
    else:
        s = ClientStore(":memory:", "contract")
    yield s
    s.close()


def pid(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"p{n}"))


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return (v / np.linalg.norm(v)).tolist()


TEXTS = [
    "rolling circle replication of circovirus genomes",
    "walker a motif binds atp in the helicase",
    "geminivirus rep binds retinoblastoma protein",
    "capsid proteins form icosahedral particles",
    "circovirus capsid vaccine for pigs",
    "rep protein nicks the origin stem loop",
]


def fill(store, n=len(TEXTS)):
    rng = np.random.default_rng(0)
    enc = SparseEncoder()
    store.create({DENSE: DIM, MDENSE: 4})
    pts = []
    for i in range(n):
        pts.append(PointData(
            pid(i),
            {DENSE: unit(rng.normal(size=DIM)), SPARSE: enc.encode_document(TEXTS[i])},
            {"kind": "chunk", "doc_id": f"doc{i % 3}", "source": "a" if i < 3 else "b", "year": 2000 + i,
             "text": TEXTS[i]},
        ))
    pts.append(PointData(pid(100), {}, {"kind": "doc", "doc_id": "doc0", "chunks": 2}))  # vector-less manifest
    store.upsert(pts)
    return pts


def test_create_is_idempotent_and_exists(store):
    assert not store.exists()
    assert store.count() == 0
    store.create({DENSE: DIM})
    store.create({DENSE: DIM})
    assert store.exists()
    assert store.vector_dims().get(DENSE) == DIM


def test_upsert_count_retrieve_and_overwrite(store):
    pts = fill(store)
    assert store.count() == len(pts)
    assert store.count(StoreFilter(match={"kind": ["chunk"]})) == len(TEXTS)
    [rec] = store.retrieve([pid(1)])
    assert rec.payload["text"] == TEXTS[1]
    store.upsert([PointData(pid(1), pts[1].vectors, {**pts[1].payload, "text": "changed"})])
    assert store.retrieve([pid(1)])[0].payload["text"] == "changed"
    assert store.count() == len(pts)
    assert store.retrieve([pid(999)]) == []
    [vec_rec] = store.retrieve([pid(2)], with_vectors=True)
    assert len(vec_rec.vectors[DENSE]) == DIM and vec_rec.vectors[SPARSE].indices


def test_filters_match_any_and_range(store):
    fill(store)
    assert store.count(StoreFilter(match={"source": ["a"]})) == 3
    assert store.count(StoreFilter(match={"doc_id": ["doc0", "doc1"], "kind": ["chunk"]})) == 4
    assert store.count(StoreFilter(ranges={"year": (2002, 2004)})) == 3
    assert store.count(StoreFilter(ranges={"year": (None, 2001)})) == 2
    assert store.count(StoreFilter(match={"source": ["b"]}, ranges={"year": (2004, None)})) == 2


def test_scroll_pages_through_everything(store):
    pts = fill(store)
    seen, offset = [], None
    while True:
        recs, offset = store.scroll(None, limit=3, offset=offset)
        seen += [r.id for r in recs]
        if offset is None:
            break
    assert sorted(seen) == sorted(p.id for p in pts)


def test_facet_counts(store):
    fill(store)
    got = dict(store.facet("doc_id", StoreFilter(match={"kind": ["chunk"]})))
    assert got == {"doc0": 2, "doc1": 2, "doc2": 2}


def test_delete_by_filter(store):
    fill(store)
    store.delete(StoreFilter(match={"doc_id": ["doc0"]}))
    assert store.count(StoreFilter(match={"doc_id": ["doc0"]})) == 0
    assert store.count() == 4
    with pytest.raises(ValueError):
        store.delete(StoreFilter())


def test_update_vectors_and_missing_vector_filter(store):
    fill(store)
    missing = StoreFilter(match={"kind": ["chunk"]}, missing_vector=MDENSE)
    assert store.count(missing) == len(TEXTS)
    store.update_vectors([(pid(0), {MDENSE: unit([1, 0, 0, 0])}), (pid(1), {MDENSE: unit([0, 1, 0, 0])})])
    assert store.count(missing) == len(TEXTS) - 2
    fused, per = store.query([Route(MDENSE, unit([1, 0.1, 0, 0]), 10)], 5, StoreFilter(match={"kind": ["chunk"]}))
    assert [f.id for f in fused] == [pid(0), pid(1)]
    assert per[MDENSE][pid(0)] == pytest.approx(fused[0].score)


def test_dense_query_ranks_by_cosine(store):
    pts = fill(store)
    target = pts[3].vectors[DENSE]
    fused, per = store.query([Route(DENSE, target, 10)], 3)
    assert fused[0].id == pid(3)
    assert fused[0].score == pytest.approx(1.0, abs=1e-4)
    assert fused[0].payload["text"] == TEXTS[3]
    assert list(per) == [DENSE]


def test_sparse_query_uses_idf(store):
    fill(store)
    enc = SparseEncoder()
    # "circovirus" is in 2 texts, "walker" in 1: the rarer term must weigh more
    fused, _ = store.query([Route(SPARSE, enc.encode_query("circovirus walker"), 10)], 10)
    assert fused[0].id == pid(1)
    assert {f.id for f in fused} == {pid(0), pid(1), pid(4)}


def test_hybrid_rrf_fusion_with_route_scores_and_filter(store):
    pts = fill(store)
    enc = SparseEncoder()
    routes = [Route(DENSE, pts[5].vectors[DENSE], 10), Route(SPARSE, enc.encode_query("capsid"), 10)]
    fused, per = store.query(routes, 6, rrf_k=60)
    ids = [f.id for f in fused]
    assert ids[0] == pid(5) or ids[0] in (pid(3), pid(4))
    assert set(per) == {DENSE, SPARSE}
    assert per[SPARSE].keys() == {pid(3), pid(4)}
    for f in fused:  # RRF scores: sum over routes of 1/(k + rank)
        assert 0 < f.score <= 2 / 60 + 1e-6
    # weights shift the fusion towards a route
    wf, _ = store.query([Route(DENSE, pts[5].vectors[DENSE], 10, 1.0), Route(SPARSE, enc.encode_query("capsid"), 10, 5.0)], 3)
    assert wf[0].id in (pid(3), pid(4))
    # the filter applies to every route
    ff, fper = store.query(routes, 6, StoreFilter(match={"source": ["a"]}))
    assert {f.payload["source"] for f in ff} == {"a"}
    assert all(i in {pid(0), pid(1), pid(2)} for r in fper.values() for i in r)


def test_query_on_empty_filter_result(store):
    fill(store)
    fused, _ = store.query([Route(DENSE, unit(np.ones(DIM)), 10)], 5, StoreFilter(match={"source": ["nope"]}))
    assert fused == []


def test_edge_persists_across_reopen(tmp_path):
    s = EdgeStore.acquire(tmp_path / "shard")
    fill(s)
    s.close()
    s2 = EdgeStore.acquire(tmp_path / "shard")
    assert s2.exists() and s2.count() == len(TEXTS) + 1
    assert s2.retrieve([pid(2)])[0].payload["text"] == TEXTS[2]
    s2.optimize()
    fused, _ = s2.query([Route(DENSE, unit(np.ones(DIM)), 10)], 3)
    assert len(fused) == 3
    s2.close()


def test_edge_shard_shared_within_a_process(tmp_path):
    a = EdgeStore.acquire(tmp_path / "shard")
    b = EdgeStore.acquire(tmp_path / "shard")
    assert a is b
    fill(a)
    a.close()  # b still holds it
    assert b.count() == len(TEXTS) + 1
    b.close()


def test_hybrid_dbsf_fusion_matches_its_definition(store):
    """DBSF: each route's scores mapped to [0, 1] between mean -/+ 3 sd, summed with the route weights; the same
    per-route scores come back as with RRF, and the filter applies to every route."""
    pts = fill(store)
    enc = SparseEncoder()
    routes = [Route(DENSE, pts[5].vectors[DENSE], 10, 1.0), Route(SPARSE, enc.encode_query("capsid circovirus"), 10, 2.0)]
    fused, per = store.query(routes, 6, fusion="dbsf")
    _, rrf_per = store.query(routes, 6, fusion="rrf")
    assert {k: set(v) for k, v in per.items()} == {k: set(v) for k, v in rrf_per.items()}
    expected: dict[str, float] = {}
    for r in routes:
        vals = np.array(list(per[r.using].values()))
        lo, span = vals.mean() - 3 * vals.std(), 6 * vals.std()
        for i, s in per[r.using].items():
            expected[i] = expected.get(i, 0.0) + r.weight * min(1.0, max(0.0, (s - lo) / span))
    assert [f.id for f in fused] == sorted(expected, key=lambda i: (-expected[i], i))[:6]
    assert [f.score for f in fused] == pytest.approx([expected[f.id] for f in fused], rel=1e-5)
    assert all(f.payload.get("text") for f in fused)  # payloads come with the fused hits
    ff, fper = store.query(routes, 6, StoreFilter(match={"source": ["b"]}), fusion="dbsf")
    assert ff and {f.payload["source"] for f in ff} == {"b"}
    assert all(i in {pid(3), pid(4), pid(5)} for r in fper.values() for i in r)


def test_dbsf_keeps_a_route_s_outlier_that_rrf_ranks_below_a_two_route_middling_hit():
    from types import SimpleNamespace as P

    from agent.kb.store.base import fuse_dbsf

    # "mid": first for the dense route, second for BM25; "rare": first for BM25 by far, last for the dense route
    dense = [P(id="mid", score=0.62, payload={})] + [P(id=f"d{i}", score=0.61 - 0.01 * i, payload={}) for i in range(8)]
    dense.append(P(id="rare", score=0.56, payload={}))
    sparse = [P(id="rare", score=30.0, payload={}), P(id="mid", score=6.0, payload={})] + [
        P(id=f"s{i}", score=5.9 - 0.1 * i, payload={}) for i in range(8)]
    routes = [Route(DENSE, [0.0], 10), Route(SPARSE, [0.0], 10)]
    fused, per = fuse_dbsf(routes, [dense, sparse], 3)
    assert [f.id for f in fused[:2]] == ["rare", "mid"]  # RRF: mid 1/61 + 1/62 > rare 1/61 + 1/70
    assert per[SPARSE]["rare"] == 30.0 and per[DENSE]["rare"] == 0.56
    fused, _ = fuse_dbsf([Route(DENSE, [0.0], 10, 3.0), Route(SPARSE, [0.0], 10, 1.0)], [dense, sparse], 3)
    assert fused[0].id == "mid"  # weights still shift the fusion
