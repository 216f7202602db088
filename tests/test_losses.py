"""The reconstruction losses: the fused binary cross-entropy against torch's generic op, in value
and gradient, and its guard against float32 denormals."""
import pytest
import torch

import rgd_utils as R

def _logits_and_targets(shape, dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    out = (torch.randn(shape, generator=generator, dtype=dtype) * 4).requires_grad_()
    x = (torch.rand(shape, generator=generator) < 0.2).to(dtype)
    return out, x


def _torch_bce(out, x):
    return torch.nn.functional.binary_cross_entropy_with_logits(out, x, reduction="none").mean(-1)


@pytest.mark.parametrize("shape", [(7, 13), (3, 5, 11)])
def test_fused_bce_matches_torch_in_value_and_gradient(shape):
    out, x = _logits_and_targets(shape, torch.float64)
    weights = torch.rand(shape[:-1], dtype=torch.float64)  # a non-uniform upstream gradient
    ours = R.reconstruction_loss(out, x, "bce")
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), out)
    reference = _torch_bce(out, x)
    (grad_reference,) = torch.autograd.grad((reference * weights).sum(), out)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_ours, grad_reference, rtol=1e-10, atol=1e-14)


def test_fused_bce_passes_gradcheck():
    out, x = _logits_and_targets((4, 6), torch.float64, seed=1)
    assert torch.autograd.gradcheck(lambda o: R.reconstruction_loss(o, x, "bce"), (out,))


def test_fused_bce_stays_finite_for_huge_logits():
    out = torch.tensor([[-1e4, 1e4, 0.0]], requires_grad=True)
    x = torch.tensor([[0.0, 1.0, 1.0]])
    loss = R.reconstruction_loss(out, x, "bce")
    loss.backward()
    assert torch.isfinite(loss).all() and torch.isfinite(out.grad).all()
    assert loss.item() == pytest.approx(float(torch.log(torch.tensor(2.0))) / 3, rel=1e-6)


def test_fused_bce_sends_no_denormal_gradients_back():
    # logits near -100 give sigmoid ≈ 4e-44, a float32 denormal (benchmarks/bench_denormals.py
    # measures what such numbers cost the matrix products)
    out = torch.full((4, 8), -100.0, requires_grad=True)
    x = torch.zeros(4, 8)
    R.reconstruction_loss(out, x, "bce").sum().backward()
    tiny = torch.finfo(torch.float32).tiny
    grad = out.grad.abs()
    assert ((grad == 0) | (grad >= tiny)).all()
    assert (torch.sigmoid(out.detach()) < tiny).all()  # the case the guard is for


def test_fused_bce_broadcasts_targets_over_stacked_members():
    out, x = _logits_and_targets((2, 5, 9), torch.float64, seed=2)
    shared = x[0]
    torch.testing.assert_close(R.reconstruction_loss(out, shared, "bce"),
                               _torch_bce(out, shared.expand_as(out)))


def test_fits_flush_denormals_and_restore_the_thread_setting_afterwards():
    from rgdkit.numerics.kernels import flushed_denormals, flushing_denormals

    assert not flushing_denormals()
    with flushed_denormals():
        assert flushing_denormals()
        assert (torch.tensor([1e-39]) * 1.0).item() == 0.0
    assert not flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        with flushed_denormals():
            pass
        assert flushing_denormals()  # a setting the caller made stays
    finally:
        torch.set_flush_denormal(False)


def test_a_fit_runs_with_denormals_flushed(monkeypatch):
    from rgdkit.numerics import kernels

    seen = []
    original = R.RiemannianDecoder.objective

    def spy(self, per_sample):
        seen.append(kernels.flushing_denormals())
        return original(self, per_sample)
    monkeypatch.setattr(R.RiemannianDecoder, "objective", spy)
    X = torch.rand(40, 6).numpy()
    R.RiemannianDecoder(manifold="sphere", epochs=3, min_epochs=1, verbose=False,
                        n_starts=2, test_epochs=2).fit(X)
    assert len(seen) == 3 and all(seen) and not kernels.flushing_denormals()


def test_elu_gradient_matches_torch_where_units_are_not_saturated():
    x = torch.linspace(-20, 3, 101, dtype=torch.float64, requires_grad=True)
    (ours,) = torch.autograd.grad(R.ELU()(x * 1.0).sum(), x)  # in place: not on a leaf
    (reference,) = torch.autograd.grad(torch.nn.functional.elu(x).sum(), x)
    torch.testing.assert_close(ours, reference, rtol=1e-6, atol=0)
    assert torch.autograd.gradgradcheck(lambda v: R.ELU()(v * 1.0), (x.detach()[::10].requires_grad_(),))


def test_saturated_elu_sends_zero_where_torch_sends_denormals():
    # unflushed, as in torch's other threads, which flushed_denormals does not reach
    from rgdkit.numerics.kernels import flushing_denormals

    assert not flushing_denormals()
    x = torch.full((4, 8), -90.0, requires_grad=True)
    (ours,) = torch.autograd.grad(R.ELU()(x * 1.0).sum(), x)
    (reference,) = torch.autograd.grad(torch.nn.functional.elu(x).sum(), x)
    assert ours.eq(0).all()
    assert ((reference > 0) & (reference < torch.finfo(torch.float32).tiny)).all()


def test_decoders_use_the_output_gradient_elu():
    decoder = R.make_decoder(2, 5, hidden=(4, 4))
    assert [type(m) for m in decoder if not isinstance(m, torch.nn.Linear)] == [R.ELU, R.ELU]
