"""ESM-2 through the real loading path (tiny random checkpoint): marginals vs a reference, batching, cache, windows."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
esm = pytest.importorskip("esm")

from mcp_servers.sequence import esm_model, service  # noqa: E402
from mcp_servers.sequence.errors import ModelUnavailableError, MutationError, SequenceError  # noqa: E402
from mcp_servers.sequence.scan import (  # noqa: E402
    AA_ORDER,
    ScanCache,
    assign_windows,
    full_scan,
    numerics,
    plan_windows,
    position_logprobs,
)


# ---------------------------------------------------------------- reference: facebookresearch/esm predict.py, verbatim logic
@pytest.fixture(scope="module")
def reference_model(tiny_esm_checkpoint):
    """The checkpoint loaded by fair-esm's own local loader (independent of ours)."""
    torch.serialization.add_safe_globals([argparse.Namespace])
    model, alphabet = esm.pretrained.load_model_and_alphabet_local(str(tiny_esm_checkpoint))
    return model.eval(), alphabet


def ref_wt_token_probs(model, alphabet, sequence):
    _, _, batch_tokens = alphabet.get_batch_converter()([("protein1", sequence)])
    with torch.no_grad():
        return torch.log_softmax(model(batch_tokens)["logits"], dim=-1)


def ref_masked_token_probs(model, alphabet, sequence):
    _, _, batch_tokens = alphabet.get_batch_converter()([("protein1", sequence)])
    all_token_probs = []
    for i in range(batch_tokens.size(1)):
        batch_tokens_masked = batch_tokens.clone()
        batch_tokens_masked[0, i] = alphabet.mask_idx
        with torch.no_grad():
            token_probs = torch.log_softmax(model(batch_tokens_masked)["logits"], dim=-1)
        all_token_probs.append(token_probs[:, i])
    return torch.cat(all_token_probs, dim=0).unsqueeze(0)


def label_row(row, sequence, token_probs, alphabet, offset_idx=1):
    wt, idx, mt = row[0], int(row[1:-1]) - offset_idx, row[-1]
    assert sequence[idx] == wt, "The listed wildtype does not match the provided sequence"
    wt_encoded, mt_encoded = alphabet.get_idx(wt), alphabet.get_idx(mt)
    score = token_probs[0, 1 + idx, mt_encoded] - token_probs[0, 1 + idx, wt_encoded]
    return score.item()


def ref_matrix(token_probs, alphabet, sequence):
    return np.array([[label_row(f"{wt}{i + 1}{mt}", sequence, token_probs, alphabet) for mt in AA_ORDER]
                     for i, wt in enumerate(sequence)])


@pytest.fixture(scope="module")
def rep120(pcv2_rep):
    """PCV2 Rep residues 1-120 (RCR domain): long enough for every code path, quick with the reference loop."""
    return pcv2_rep[:120]


@pytest.fixture(scope="module")
def ref_probs(reference_model, rep120):
    model, alphabet = reference_model
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see tests/fixtures/sequence.py: a tiny model on a busy machine
    try:
        return {"masked-marginals": ref_masked_token_probs(model, alphabet, rep120),
                "wt-marginals": ref_wt_token_probs(model, alphabet, rep120)}
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------------------- tests
def test_loads_through_settings_once(tiny_esm_env):
    a = esm_model.get_model()
    b = esm_model.get_model()
    assert a is b
    assert a.name == "esm2_t2_tiny_random" and a.num_layers == 2 and a.has_contact_regression
    assert str(a.device) == "cpu"


@pytest.mark.parametrize("strategy", ["masked-marginals", "wt-marginals"])
def test_scores_equal_reference(tiny_esm_env, reference_model, ref_probs, rep120, strategy):
    pcv2_rep = rep120
    _, alphabet = reference_model
    muts = ["K5A", "H57A", "Y96F", "S120A", "D41N", "W17Y", "P2L", "M1W"]
    res = service.score_mutations(pcv2_rep, ", ".join(muts + ["K5A:H57A:Y96F"]), strategy=strategy)
    assert res["model"] == "esm2_t2_tiny_random" and res["strategy"] == strategy
    got = {v["variant"]: v["score"] for v in res["variants"]}
    for m in muts:
        assert got[m] == pytest.approx(label_row(m, pcv2_rep, ref_probs[strategy], alphabet), abs=1e-5)
    additive = sum(label_row(m, pcv2_rep, ref_probs[strategy], alphabet) for m in ("K5A", "H57A", "Y96F"))
    assert got["K5A:H57A:Y96F"] == pytest.approx(additive, abs=1e-5)


@pytest.mark.parametrize("strategy", ["masked-marginals", "wt-marginals"])
def test_full_scan_matrix_equals_reference(tiny_esm_env, reference_model, ref_probs, rep120, strategy):
    pcv2_rep = rep120
    _, alphabet = reference_model
    res = service.mutational_scan(pcv2_rep, strategy=strategy)
    expected = ref_matrix(ref_probs[strategy], alphabet, pcv2_rep)
    got = np.array(res["matrix"])
    assert got.shape == (120, 20) and res["amino_acids"] == AA_ORDER
    assert np.abs(got - expected).max() <= 1e-4  # the JSON matrix is rounded to 4 decimals
    lm = esm_model.get_model()
    m = full_scan(lm, pcv2_rep, strategy)
    assert np.abs(m.scores - expected).max() <= 1e-5
    wt_cols = [AA_ORDER.index(c) for c in pcv2_rep]
    assert np.all(got[np.arange(120), wt_cols] == 0)
    cons = np.array(res["constraint"])
    sub = np.where(m.substitution_mask(), expected, np.nan)
    assert np.allclose(cons, -np.nanmean(sub, axis=1), atol=1e-4)
    top = res["summary"]["most_constrained"]
    assert [p["constraint"] for p in top] == sorted([p["constraint"] for p in top], reverse=True)
    assert "0.26 on virus assays" in res["caveat"]


def test_batch_sizes_give_identical_numbers(tiny_esm_env, rep120):
    pcv2_rep = rep120
    lm = esm_model.get_model()
    base = position_logprobs(lm, pcv2_rep, "masked-marginals", batch_size=1)
    for bs in (3, 16, 120, 400):
        other = position_logprobs(lm, pcv2_rep, "masked-marginals", batch_size=bs)
        assert np.abs(other[0] - base[0]).max() <= 1e-5
        assert np.abs(other[1] - base[1]).max() <= 1e-5
    subset = position_logprobs(lm, pcv2_rep, "masked-marginals", [4, 100, 7], batch_size=2)
    assert np.abs(subset[0] - base[0][[4, 7, 100]]).max() <= 1e-5


def test_cache_memory_and_disk_identical(tiny_esm_env, pcv2_rep, tmp_path):
    lm = esm_model.get_model()
    cache = ScanCache(tmp_path / "c")
    first = full_scan(lm, pcv2_rep, "masked-marginals", cache=cache)
    again = full_scan(lm, pcv2_rep, "masked-marginals", cache=cache)
    disk = full_scan(lm, pcv2_rep, "masked-marginals", cache=ScanCache(tmp_path / "c"))
    assert not first.cached and again.cached and disk.cached
    for m in (again, disk):
        assert np.array_equal(m.lp20, first.lp20) and np.array_equal(m.lpwt, first.lpwt)
    wt = full_scan(lm, pcv2_rep, "wt-marginals", cache=cache)
    assert not wt.cached  # the strategy is part of the key
    num = numerics(lm)
    assert num == "float32|cpu|tf32=0"
    keys = {ScanCache.key(lm.model_id, pcv2_rep, s, 1022, num) for s in ("masked-marginals", "wt-marginals")}
    keys.add(ScanCache.key("other-model", pcv2_rep, "masked-marginals", 1022, num))
    keys.add(ScanCache.key(lm.model_id, pcv2_rep[:-1], "masked-marginals", 1022, num))
    # precision, device and TF32 are part of the key: a half-precision or TF32 GPU scan is never served for fp32
    for other in ("float16|cuda|tf32=0", "float32|cuda|tf32=1", "float32|cuda|tf32=0", "bfloat16|cpu|tf32=0"):
        keys.add(ScanCache.key(lm.model_id, pcv2_rep, "masked-marginals", 1022, other))
    assert len(keys) == 8


def test_cache_key_follows_model_precision(tiny_esm_env, pcv2_rep, tmp_path):
    lm = esm_model.get_model()
    cache = ScanCache(tmp_path / "c")
    full_scan(lm, pcv2_rep[:40], "wt-marginals", cache=cache)
    copy = esm_model.random_esm2("tiny")[0]
    copy.load_state_dict(lm.model.state_dict())
    half = esm_model.wrap_model(copy.to(dtype=torch.bfloat16), lm.alphabet, lm.name, device="cpu",
                                model_id=lm.model_id)  # same model id, other precision
    assert numerics(half) == "bfloat16|cpu|tf32=0"
    assert not full_scan(half, pcv2_rep[:40], "wt-marginals", cache=cache).cached
    assert full_scan(lm, pcv2_rep[:40], "wt-marginals", cache=cache).cached


def test_window_limit(tiny_esm_env, monkeypatch, pcv2_rep):
    with pytest.raises(SequenceError, match="at most 1022 residues"):
        plan_windows(2000, 1500)
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_SEQUENCE__WINDOW", "2048")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="less than or equal to 1022"):
        get_settings()


def test_service_scan_cached_rerun_and_score_reuse(tiny_esm_env, pcv2_rep):
    a = service.mutational_scan(pcv2_rep, include_matrix=False)
    b = service.mutational_scan(pcv2_rep, include_matrix=True)
    assert a["cached"] is False and b["cached"] is True
    assert a["summary"] == b["summary"] and "matrix" not in a
    s = service.score_mutations(pcv2_rep, "K5A")["variants"][0]["score"]
    assert s == pytest.approx(b["matrix"][4][AA_ORDER.index("A")], abs=1e-4)


def test_windows_cover_long_sequences(tiny_esm_env, reference_model, monkeypatch, pcv2_rep):
    assert plan_windows(314, 1022) == [(0, 314)]
    wins = plan_windows(314, 100)
    assert wins[0][0] == 0 and wins[-1][1] == 314 and all(e - s == 100 for s, e in wins)
    owner = assign_windows(314, wins)
    for p in range(314):
        s, e = wins[owner[p]]
        assert s <= p < e
        assert min(p - s, e - 1 - p) >= 25 or p < 25 or p >= 314 - 25  # a quarter window from edges
    # through the service with a 100-residue window: every position scored in its window, as the reference does
    monkeypatch.setenv("BIOAGENT_SEQUENCE__WINDOW", "100")
    from agent.settings import get_settings

    get_settings.cache_clear()
    model, alphabet = reference_model
    res = service.mutational_scan(pcv2_rep, strategy="wt-marginals")
    assert res["windows"][0] == [1, 100] and res["windows"][-1][1] == 314
    got = np.array(res["matrix"])
    for w, (s, e) in enumerate(wins):
        sub = pcv2_rep[s:e]
        ref = ref_matrix(ref_wt_token_probs(model, alphabet, sub), alphabet, sub)
        rows = np.nonzero(owner == w)[0]
        assert np.abs(got[rows] - ref[rows - s]).max() <= 1e-4


def test_mutation_errors(tiny_esm_env, pcv2_rep):
    with pytest.raises(MutationError, match=r"has 'K' at position 5, not 'G'.*PSK\[K\]NGRS"):
        service.score_mutations(pcv2_rep, "G5A")
    with pytest.raises(MutationError, match="position 315 is outside the sequence \\(positions 1-314\\)"):
        service.score_mutations(pcv2_rep, "K315A")
    with pytest.raises(MutationError, match="position 0 is outside"):
        service.score_mutations(pcv2_rep, "M0A")
    with pytest.raises(MutationError, match="Cannot read mutation"):
        service.score_mutations(pcv2_rep, "K5")
    with pytest.raises(MutationError, match="not one of the 20 standard"):
        service.score_mutations(pcv2_rep, "K5X")
    with pytest.raises(MutationError, match="same position"):
        service.score_mutations(pcv2_rep, "K5A:K5D")
    with pytest.raises(MutationError, match="No mutations"):
        service.score_mutations(pcv2_rep, " , ")
    with pytest.raises(SequenceError, match="Unknown scoring strategy"):
        service.score_mutations(pcv2_rep, "K5A", strategy="pseudo")


def test_too_long_rejected_before_model(tiny_esm_env):
    from mcp_servers.sequence.errors import SequenceTooLongError

    with pytest.raises(SequenceTooLongError, match="50,000 residues"):
        service.mutational_scan("MKVL" * 12_500)


def test_embeddings(tiny_esm_env, pcv2_rep):
    res = service.embed(pcv2_rep, per_residue=True)
    per = np.array(res["per_residue"])
    assert res["dim"] == 32 and res["layer"] == 2 and per.shape == (314, 32)
    assert np.allclose(per.mean(axis=0), res["mean"], atol=1e-4)
    assert service.embed(pcv2_rep, layer=0)["layer"] == 0
    with pytest.raises(SequenceError, match="layers 0-2"):
        service.embed(pcv2_rep, layer=7)


def test_contacts(tiny_esm_env, pcv2_rep):
    res = service.contacts(pcv2_rep, top=20, include_matrix=True)
    m = np.array(res["matrix"], dtype=float)
    assert m.shape == (314, 314)
    probs = [c["probability"] for c in res["top_contacts"]]
    assert probs == sorted(probs, reverse=True) and len(probs) == 20
    assert all(c["j"] - c["i"] >= 6 for c in res["top_contacts"])


def test_checkpoint_without_regression_cannot_predict_contacts(tiny_esm_checkpoint, tmp_path, pcv2_rep):
    path = tmp_path / "esm2_t2_noreg.pt"
    shutil.copy(tiny_esm_checkpoint, path)
    with pytest.warns(UserWarning, match="Regression weights not found"):
        lm = esm_model.load_esm(str(path), "cpu")
    assert not lm.has_contact_regression
    from mcp_servers.sequence.embeddings import contact_map

    with pytest.raises(ModelUnavailableError, match="contact regression"):
        contact_map(lm, pcv2_rep[:50])


def test_missing_model_gives_clear_error_and_other_tools_work(settings, monkeypatch, tmp_path, pcv2_rep):
    from agent.settings import get_settings

    monkeypatch.setenv("BIOAGENT_SEQUENCE__ESM_MODEL", str(tmp_path / "missing" / "esm2_t6_8M_UR50D.pt"))
    get_settings.cache_clear()
    with pytest.raises(ModelUnavailableError, match="BIOAGENT_SEQUENCE__ESM_MODEL"):
        service.score_mutations(pcv2_rep, "K5A")
    assert service.annotate_rep(pcv2_rep)["records"][0]["call"] == "yes"
    assert service.properties(pcv2_rep)["records"][0]["length"] == 314


def test_named_model_offline_gives_clear_error(monkeypatch, tmp_path):
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # empty hub cache

    def offline(name):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(esm.pretrained, "load_model_and_alphabet_hub", offline)
    with pytest.raises(ModelUnavailableError) as exc:
        esm_model.load_esm("esm2_t6_8M_UR50D", "cpu")
    msg = str(exc.value)
    assert "could not be downloaded" in msg and "BIOAGENT_SEQUENCE__ESM_MODEL" in msg
    with pytest.raises(ModelUnavailableError, match="Unknown ESM model name"):
        esm_model.load_esm("esm2_t99_bogus", "cpu")


@pytest.mark.gpu
def test_cuda_batched_scan_matches_loop(tiny_esm_checkpoint, rep120):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    lm = esm_model.load_esm(str(tiny_esm_checkpoint), "cuda")
    loop = position_logprobs(lm, rep120, "masked-marginals", batch_size=1)
    batched = position_logprobs(lm, rep120, "masked-marginals")  # per-device default batch
    # cuBLAS may pick other kernels per batch size: float32 rounding differs slightly (docs/sequence.md)
    assert np.abs((batched[0] - batched[1][:, None]) - (loop[0] - loop[1][:, None])).max() <= 1e-3
