"""Property tests for `basemodel_course.losses` against PyTorch and transformers.

Everything runs in float64. Tolerances: a scratch loss against `torch.nn.functional`, and its gradient,
must agree to TOL = 1e-6 (absolute, `rtol=0`); optimiser steps, which are exact up to rounding, to 1e-12;
the causal-LM loss against a transformers model (which computes its loss in float32) to 1e-5.

The property tests are reproducible: `tests/conftest.py` loads hypothesis's `ci` profile (derandomised: the same
examples on every machine and every run), so CI never passes or fails by the draw. `make test-properties` runs
them with the `long` profile instead: fresh random examples, 20 times as many. A case a long run finds goes into
an `@example` here.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from basemodel_course import losses as L
from basemodel_course.core import BasemodelError

TOL = 1e-6
f64 = torch.float64
SCALE = 20 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 1  # examples per test: 20x in the long run
FAST = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def close(a, b, tol=TOL):
    torch.testing.assert_close(a, b, atol=tol, rtol=1e-12, equal_nan=True)  # rtol: float64 rounding at huge values (1e185)


@st.composite
def logits_st(draw, min_classes=1):
    "Logits of shape (C,), (N, C) or (N, C, d1, ...), scaled to up to +-1e4."
    C = draw(st.integers(min_classes, 7))
    lead = draw(st.sampled_from(["vector", "matrix", "extra"]))
    shape = (C,) if lead == "vector" else (draw(st.integers(1, 5)), C, *(draw(st.lists(st.integers(1, 3), max_size=2)) if lead == "extra" else []))
    scale = draw(st.sampled_from([1.0, 10.0, 1e2, 1e4]))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1.0, 1.0)))
    return torch.from_numpy(x) * scale


def target_shape(x):
    return x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()


@st.composite
def ce_case(draw):
    x = logits_st(min_classes=1)
    x = draw(x)
    C = x.shape[1] if x.ndim > 1 else x.shape[0]
    kw = {"reduction": draw(st.sampled_from(["mean", "sum", "none"])),
          "label_smoothing": draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))}
    if draw(st.booleans()):
        kw["weight"] = torch.from_numpy(draw(hnp.arrays(np.float64, (C,), elements=st.floats(0.0, 10.0))))
    if draw(st.booleans()):  # soft (probability) targets
        raw = torch.from_numpy(draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0.0, 1.0))))
        cdim = 1 if x.ndim > 1 else 0
        target = raw / raw.sum(cdim, keepdim=True).clamp(min=1e-12) if draw(st.booleans()) else raw  # torch never checks the sum
        return x, target, kw
    kw["ignore_index"] = ii = draw(st.sampled_from([-100, -1, *range(C)]))
    shape = target_shape(x)
    t = torch.from_numpy(draw(hnp.arrays(np.int64, shape, elements=st.integers(0, C - 1))))
    ignored = torch.from_numpy(draw(hnp.arrays(np.bool_, shape)))
    return x, torch.where(ignored, torch.full_like(t, ii), t), kw


def value_and_grad(fn, x, *args, **kw):
    x = x.detach().clone().requires_grad_()
    out = fn(x, *args, **kw)
    g, = torch.autograd.grad(out.sum(), x) if out.isfinite().all() else (None,)
    return out.detach(), g


# ---- 1. softmax, log-sum-exp ------------------------------------------------------------------------------

@FAST
@given(logits_st(), st.floats(-1e3, 1e3))
def test_softmax_logsumexp(x, shift):
    d = 0 if x.ndim == 1 else 1
    close(L.logsumexp(x, d), torch.logsumexp(x, d))
    close(L.log_softmax(x, d), F.log_softmax(x, d))
    close(L.softmax(x, d), F.softmax(x, d))
    close(L.softmax(x + shift, d), L.softmax(x, d))                      # shift invariance
    close(L.logsumexp(x + shift, d), L.logsumexp(x, d) + shift, tol=1e-6 * max(1, abs(shift)))
    assert L.softmax(x, d).isfinite().all()


def test_naive_softmax_overflows():
    z = torch.tensor([1000.0, 0.0], dtype=f64)
    assert torch.exp(z).div(torch.exp(z).sum()).isnan().any()           # inf / inf
    close(L.softmax(z), torch.tensor([1.0, 0.0], dtype=f64))


# ---- 2. cross-entropy = entropy + KL ------------------------------------------------------------------------

@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 6)), elements=st.floats(0.0, 1.0)),
       hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 6)), elements=st.floats(-5.0, 5.0)))
def test_cross_entropy_is_entropy_plus_kl(p, z):
    n, c = min(p.shape[0], z.shape[0]), min(p.shape[1], z.shape[1])
    p = torch.from_numpy(p[:n, :c]) + 1e-3; p = p / p.sum(-1, keepdim=True)
    z = torch.from_numpy(z[:n, :c]); q = L.softmax(z)
    close(L.dist_cross_entropy(p, q), L.entropy(p) + L.kl_divergence(p, q))
    close(L.kl_divergence(p, q), F.kl_div(q.log(), p, reduction="none").sum(-1))
    close(L.cross_entropy(z, p, reduction="none"), L.dist_cross_entropy(p, q))   # soft-target CE is H(p, q)
    assert (L.kl_divergence(p, q) >= -1e-12).all()


# ---- the main parity test: cross_entropy against F.cross_entropy --------------------------------------------

@settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ce_case())
# found on a fresh machine: every counted target has weight 0, so the mean is 0/0 = nan in torch (we gave inf)
@example((torch.zeros(2, dtype=f64), torch.tensor(0),
          {"reduction": "mean", "label_smoothing": 0.05, "weight": torch.tensor([0.0, 1.0], dtype=f64), "ignore_index": -100}))
def test_cross_entropy_matches_torch(case):
    x, t, kw = case
    ours, g_ours = value_and_grad(L.cross_entropy, x, t, **kw)
    ref, g_ref = value_and_grad(F.cross_entropy, x, t, **kw)
    close(ours, ref)
    if g_ref is not None: close(g_ours, g_ref)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_batch(reduction, label_smoothing, weighted):
    "torch 2.13: mean over zero counted positions is 0/0 = nan; sum is 0; none is all zeros."
    x = torch.randn(4, 3, 2, dtype=f64); t = torch.full((4, 2), -100)
    kw = dict(reduction=reduction, label_smoothing=label_smoothing, weight=torch.rand(3, dtype=f64) if weighted else None)
    ours, ref = L.cross_entropy(x, t, **kw), F.cross_entropy(x, t, **kw)
    close(ours, ref)
    if reduction == "mean": assert ours.isnan()
    else: assert (ours == 0).all()


def test_weight_smoothing_mean_semantics():
    "weight + label_smoothing + mean: the smoothing term is weighted per class, and both terms divide by sum_i w_{y_i}."
    x = torch.randn(5, 4, dtype=f64); t = torch.tensor([0, 1, -100, 3, 3]); w = torch.tensor([1.0, 2.0, 0.5, 4.0], dtype=f64)
    eps, lp, ok = 0.2, F.log_softmax(x, 1), t != -100
    nll = -(w[t[ok]] * lp[ok].gather(1, t[ok, None]).squeeze(1))
    smooth = -(lp[ok] * w).sum(1)
    expected = ((1 - eps) * nll + eps / 4 * smooth).sum() / w[t[ok]].sum()
    close(L.cross_entropy(x, t, weight=w, label_smoothing=eps), expected)
    close(F.cross_entropy(x, t, weight=w, label_smoothing=eps), expected)


def test_bad_inputs():
    x = torch.randn(2, 3)
    with pytest.raises(BasemodelError, match="outside"): L.cross_entropy(x, torch.tensor([0, 5]))
    with pytest.raises(BasemodelError, match="shape"): L.cross_entropy(x, torch.tensor([0, 1, 2]))
    with pytest.raises(BasemodelError, match="label_smoothing"): L.cross_entropy(x, torch.tensor([0, 1]), label_smoothing=1.5)


# ---- 3, 4, 5. gradients: softmax - target, through a linear head, with smoothing / weights / ignore --------

@FAST
@given(st.integers(1, 6), st.integers(2, 6), st.sampled_from([0.0, 0.1, 0.5]), st.booleans(), st.integers(0, 2**31 - 1))
def test_cross_entropy_grad(N, C, eps, weighted, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, C, dtype=f64, generator=g) * 3
    t = torch.randint(0, C, (N,), generator=g); t[torch.rand(N, generator=g) < 0.3] = -100
    if (t == -100).all(): t[0] = 0
    w = torch.rand(C, dtype=f64, generator=g) + 0.1 if weighted else None
    _, auto = value_and_grad(F.cross_entropy, x, t, weight=w, label_smoothing=eps)
    close(L.cross_entropy_grad(x, t, w, label_smoothing=eps), auto)
    if w is None:  # the textbook form: (softmax(z) - q) / n_counted on counted rows, 0 on ignored rows
        ok = t != -100
        q = L.smooth_targets(t[ok], C, eps, f64)
        close(L.cross_entropy_grad(x, t, label_smoothing=eps)[ok], (L.softmax(x[ok]) - q) / ok.sum())
        assert (L.cross_entropy_grad(x, t, label_smoothing=eps)[~ok] == 0).all()


def test_cross_entropy_grad_finite_differences():
    torch.manual_seed(0)
    x = torch.randn(3, 5, dtype=f64); t = torch.tensor([1, -100, 4]); h = 1e-6
    fd = torch.zeros_like(x)
    for i in range(3):
        for j in range(5):
            e = torch.zeros_like(x); e[i, j] = h
            fd[i, j] = (L.cross_entropy(x + e, t, label_smoothing=0.1) - L.cross_entropy(x - e, t, label_smoothing=0.1)) / (2 * h)
    close(L.cross_entropy_grad(x, t, label_smoothing=0.1), fd)


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2}, {"weight": torch.tensor([1.0, 2.0, 0.3, 1.5], dtype=f64)},
                                {"weight": torch.tensor([1.0, 2.0, 0.3, 1.5], dtype=f64), "label_smoothing": 0.2, "ignore_index": 2}])
def test_gradcheck(kw):
    torch.manual_seed(1)
    x = torch.randn(3, 4, 2, dtype=f64, requires_grad=True)
    t = torch.tensor([[0, 2], [kw.get("ignore_index", -100), 3], [1, 2]])
    assert torch.autograd.gradcheck(lambda z: L.cross_entropy(z, t, **kw), (x,))
    soft = torch.rand(3, 4, 2, dtype=f64).softmax(1)
    soft_kw = {k: v for k, v in kw.items() if k != "ignore_index"}  # probability targets have no ignored positions
    assert torch.autograd.gradcheck(lambda z: L.cross_entropy(z, soft, **soft_kw), (x,))
    y = torch.rand(3, 4, 2, dtype=f64)
    assert torch.autograd.gradcheck(lambda z: L.binary_cross_entropy_with_logits(z, y), (x,))
    assert torch.autograd.gradcheck(lambda z: L.logsumexp(z, 1), (x,))


@FAST
@given(st.integers(1, 6), st.integers(1, 5), st.integers(2, 5), st.sampled_from([0.0, 0.1]), st.integers(0, 2**31 - 1))
def test_linear_head_grads(N, d, C, eps, seed):
    g = torch.Generator().manual_seed(seed)
    h, W, b = (torch.randn(*s, dtype=f64, generator=g).requires_grad_() for s in ((N, d), (C, d), (C,)))
    t = torch.randint(0, C, (N,), generator=g)
    gW, gb, gh = torch.autograd.grad(F.cross_entropy(h @ W.T + b, t, label_smoothing=eps), (W, b, h))
    ours = L.linear_head_grads(h.detach(), W.detach(), b.detach(), t, label_smoothing=eps)
    close(ours["W"], gW); close(ours["b"], gb); close(ours["h"], gh)
    # per-example column form: dL/dW = sum_i (p_i - q_i) h_i^T / N, dL/dh_i = W^T (p_i - q_i) / N
    P = L.softmax(h.detach() @ W.detach().T + b.detach()); Q = L.smooth_targets(t, C, eps, f64)
    close(sum(torch.outer(P[i] - Q[i], h[i].detach()) for i in range(N)) / N, gW)
    close(torch.stack([W.detach().T @ (P[i] - Q[i]) for i in range(N)]) / N, gh)


def test_mean_over_counted_tokens():
    "Token classification: padding and later sub-word pieces carry -100 and do not dilute the mean."
    torch.manual_seed(2)
    x = torch.randn(2, 5, 3, dtype=f64)                               # (batch, tokens, classes)
    t = torch.tensor([[0, 2, -100, 1, -100], [1, -100, -100, -100, -100]])
    per = F.cross_entropy(x.reshape(-1, 3), t.clamp(min=0).reshape(-1), reduction="none").view(2, 5)
    ok = t != -100
    close(L.cross_entropy(x.transpose(1, 2), t), per[ok].sum() / ok.sum())
    close(L.cross_entropy(x.transpose(1, 2), t, reduction="sum"), per[ok].sum())


# ---- 6. causal LM -------------------------------------------------------------------------------------------

def tiny_models():
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=37, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=37, n_embd=16, n_layer=2, n_head=2, n_positions=32))
    return [llama.eval(), gpt2.eval()]


def test_causal_lm_loss_matches_transformers():
    ids = torch.randint(0, 37, (3, 9), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids); mask[1, -3:] = 0; mask[2, -1:] = 0       # right padding
    labels = ids.masked_fill(mask == 0, -100); labels[0, :4] = -100; labels[2, :2] = -100  # prompts
    for model in tiny_models():
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
            plain = model(input_ids=ids, labels=ids)
        close(L.causal_lm_loss(out.logits.double(), ids, labels), out.loss.double(), tol=1e-5)
        close(L.causal_lm_loss(plain.logits.double(), ids), plain.loss.double(), tol=1e-5)
        close(L.perplexity(L.causal_lm_loss(out.logits.double(), ids, labels)), out.loss.double().exp(), tol=1e-4)


def test_perplexity_of_uniform_model_is_vocab_size():
    ids = torch.randint(0, 50, (2, 8))
    assert abs(L.perplexity(L.causal_lm_loss(torch.zeros(2, 8, 50, dtype=f64), ids).item()) - 50) < 1e-9


# ---- 7. binary cross-entropy --------------------------------------------------------------------------------

@FAST
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-1.0, 1.0)),
       st.sampled_from([1.0, 10.0, 1e4]), st.sampled_from(["mean", "sum", "none"]), st.booleans(), st.booleans(), st.integers(0, 2**31 - 1))
def test_bce_matches_torch(x, scale, reduction, use_w, use_pw, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(x) * scale
    y = torch.rand(x.shape, dtype=f64, generator=g).round() if seed % 2 else torch.rand(x.shape, dtype=f64, generator=g)
    kw = dict(reduction=reduction, weight=torch.rand(x.shape, dtype=f64, generator=g) if use_w else None,
              pos_weight=torch.rand(x.shape[-1:], dtype=f64, generator=g) * 4 if use_pw else None)
    ours, g_ours = value_and_grad(L.binary_cross_entropy_with_logits, x, y, **kw)
    ref, g_ref = value_and_grad(F.binary_cross_entropy_with_logits, x, y, **kw)
    close(ours, ref); close(g_ours, g_ref)
    per = L.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert (per >= 0).all()                                               # the sign
    close(per, x.clamp(min=0) - x * y + torch.log1p(torch.exp(-x.abs())))
    close(L.bce_with_logits_grad(x, y, kw["pos_weight"]), value_and_grad(F.binary_cross_entropy_with_logits, x, y, pos_weight=kw["pos_weight"])[1])
    # 2-class softmax cross-entropy over logits [0, x] with soft target [1 - y, y]
    two = torch.stack([torch.zeros_like(x), x], dim=1)  # class dimension 1: (n,) -> (n, 2), (n, d) -> (n, 2, d)
    tt = torch.stack([1 - y, y], dim=1)
    close(L.cross_entropy(two, tt, reduction="none"), per)


def test_bce_naive_formula_and_gradient():
    x = torch.linspace(-6, 6, 25, dtype=f64); y = torch.rand(25, dtype=f64)
    s = torch.sigmoid(x)
    close(L.binary_cross_entropy_with_logits(x, y, reduction="none"), -(y * s.log() + (1 - y) * (1 - s).log()))
    _, g = value_and_grad(L.binary_cross_entropy_with_logits, x, y, reduction="sum")
    close(g, s - y)


# ---- 8. AdamW, Adam + L2, SGD -----------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, dict(lr=0.05, betas=(0.5, 0.9), eps=1e-2, weight_decay=0.3), dict(lr=1e-2, weight_decay=0.0)])
@pytest.mark.parametrize("ours,theirs", [(L.adamw_step, torch.optim.AdamW), (L.adam_l2_step, torch.optim.Adam)])
def test_adam_steps_match_torch(kw, ours, theirs):
    if theirs is torch.optim.Adam: kw = {"weight_decay": 1e-2, **kw}  # Adam's own default decay is 0
    g = torch.Generator().manual_seed(4)
    p0 = torch.randn(5, 3, dtype=f64, generator=g)
    grads = [torch.randn(5, 3, dtype=f64, generator=g) * 10 ** (k % 3 - 1) for k in range(12)]
    p, st_ = p0, None
    for k, (gr, ref) in enumerate(zip(grads, L.torch_trajectory(theirs, p0, grads, **kw))):
        p, st_ = ours(p, gr, st_, **kw)
        close(p, ref, tol=1e-12)
    assert st_["step"] == 12


def test_adamw_trains_like_torch():
    "Ten steps of a linear classifier: our loss + our AdamW against F.cross_entropy + torch.optim.AdamW."
    g = torch.Generator().manual_seed(5)
    X = torch.randn(16, 4, dtype=f64, generator=g); y = torch.randint(0, 3, (16,), generator=g)
    W0 = torch.randn(3, 4, dtype=f64, generator=g)
    Wt = W0.clone().requires_grad_(); opt = torch.optim.AdamW([Wt], lr=0.1)
    W, st_ = W0, None
    for _ in range(10):
        opt.zero_grad(); F.cross_entropy(X @ Wt.T, y, label_smoothing=0.1).backward(); opt.step()
        W, st_ = L.adamw_step(W, L.cross_entropy_grad(X @ W.T, y, label_smoothing=0.1).T @ X, st_, lr=0.1)
        close(W, Wt.detach(), tol=1e-10)


def test_l2_and_decoupled_decay_differ_under_adam():
    g = torch.Generator().manual_seed(6)
    p0 = torch.randn(20, dtype=f64, generator=g); grads = [torch.randn(20, dtype=f64, generator=g) for _ in range(10)]
    a, b, sa, sb = p0, p0, None, None
    for gr in grads:
        (a, sa), (b, sb) = L.adamw_step(a, gr, sa, lr=0.1, weight_decay=0.5), L.adam_l2_step(b, gr, sb, lr=0.1, weight_decay=0.5)
    assert (a - b).abs().max() > 1e-2
    # with zero loss gradient: AdamW shrinks by exactly (1 - lr*wd)^t; Adam+L2 moves each coordinate by ~lr per step, whatever wd is
    zero, p = torch.zeros(3, dtype=f64), torch.tensor([1.0, 2.0, -3.0], dtype=f64)
    for wd in (0.1, 1.0):
        a, b, sa, sb = p, p, None, None
        for _ in range(5):
            (a, sa), (b, sb) = L.adamw_step(a, zero, sa, lr=0.01, weight_decay=wd), L.adam_l2_step(b, zero, sb, lr=0.01, weight_decay=wd)
        close(a, p * (1 - 0.01 * wd) ** 5, tol=1e-12)
        close(b, p - 5 * 0.01 * p.sign(), tol=1e-4)  # m/sqrt(v) = 1 up to the ~1% drift of the gradient wd * theta


@pytest.mark.parametrize("wd", [0.0, 0.1, 2.0])
def test_l2_and_decoupled_decay_coincide_under_sgd(wd):
    g = torch.Generator().manual_seed(7)
    p0 = torch.randn(6, dtype=f64, generator=g); grads = [torch.randn(6, dtype=f64, generator=g) for _ in range(5)]
    a = b = p0
    for gr, ref in zip(grads, L.torch_trajectory(torch.optim.SGD, p0, grads, lr=0.05, weight_decay=wd)):
        a, b = L.sgd_step(a, gr, 0.05, wd), L.sgd_step(b, gr, 0.05, wd, decoupled=True)
        close(a, ref, tol=1e-12); close(b, ref, tol=1e-12)
    # the paper's decoupled form shrinks by (1 - lambda') with lambda' = lr * wd: the same up to that lr scaling
    c = p0
    for gr in grads: c = c * (1 - 0.05 * wd) - 0.05 * gr
    close(c, a, tol=1e-12)


# ---- 9. a proper scoring rule -------------------------------------------------------------------------------

@FAST
@given(st.integers(1, 18).flatmap(lambda i: st.tuples(st.just(i), st.integers(1, 19 - i))))
def test_log_loss_is_proper(ij):
    "Expected log loss E_{y~p}[-log q_y] over a grid of q on the 3-class simplex is smallest at q = p."
    i, j = ij
    p = torch.tensor([i / 20, j / 20, 1 - (i + j) / 20], dtype=f64)
    k = torch.arange(1, 100, dtype=f64) / 100
    a, b = torch.meshgrid(k, k, indexing="ij"); ok = a + b < 1
    Q = torch.stack([a[ok], b[ok], 1 - a[ok] - b[ok]], -1)
    risk = L.dist_cross_entropy(p.expand_as(Q), Q)
    close(Q[risk.argmin()], p, tol=1e-9)
    assert (risk >= L.entropy(p) - 1e-12).all()                            # risk - H(p) = KL(p || q) >= 0
    linear = -(p * Q).sum(-1)                                               # the linear score is not proper:
    assert Q[linear.argmin()].max() > p.max() or torch.allclose(p, Q[linear.argmin()])   # it pushes q to a corner


def test_log_loss_recovers_frequencies():
    "Calibration: the constant prediction minimising mean BCE on a group is the group's positive rate."
    y = torch.tensor([1.0] * 3 + [0.0] * 7, dtype=f64)
    qs = torch.linspace(0.01, 0.99, 99, dtype=f64)
    risk = torch.stack([L.binary_cross_entropy_with_logits(torch.logit(q).expand(10), y) for q in qs])
    close(qs[risk.argmin()], torch.tensor(0.3, dtype=f64), tol=1e-9)


def test_gradient_magnitude_falls_with_confidence():
    z = torch.linspace(-8, 8, 101, dtype=f64)
    x = torch.stack([z, torch.zeros_like(z), torch.zeros_like(z)], 1)
    g = L.cross_entropy_grad(x, torch.zeros(101, dtype=torch.long)) * 101
    p = L.softmax(x)[:, 0]
    close(g[:, 0].abs(), 1 - p)
    assert (g[:, 0].abs().diff() < 0).all()
