"""Numeric kernels of the decoder's training: an ELU and a binary cross-entropy whose gradients
never carry float32 denormals, and denormal flushing for the calling thread.

Denormal floats (below 1.2e-38 in float32) make the matrix products they enter many times slower
on x86 CPUs (``benchmarks/bench_denormals.py`` measures how much); they arise late in training
from saturated units and far-negative logits, and values that small change no result.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

__all__ = ["ELU", "TINY_GRADIENT", "flushed_denormals", "flushing_denormals", "mean_bce_with_logits"]

# gradients below this are set to zero by the BCE: they would only reach the products as denormals
TINY_GRADIENT = 1e-30


class ELU(nn.ELU):
    """ELU (alpha 1) whose gradient comes from its output: exp(x) = ELU(x) + 1 for x <= 0, as
    torch computes it for the in-place op, which this is.

    A saturated unit (x below about -17) passes back exactly 0 in float32, where exp(x) would be
    a denormal below x of about -87, in every thread (:func:`flushed_denormals` reaches only the
    calling one). Above x of about -17 the gradient differs from exp(x) by the float32 rounding
    of ELU(x) + 1.
    """

    def __init__(self):
        super().__init__(alpha=1.0, inplace=True)


class _MeanBinaryCrossEntropy(torch.autograd.Function):
    """softplus(o) - x o, a mean over the last axis; gradient (sigmoid(o) - x) / features with
    entries below ``TINY_GRADIENT`` set to zero."""

    @staticmethod
    def forward(ctx, out, x):
        ctx.save_for_backward(out, x)
        # the difference before the mean: two means of large logits would cancel
        return nn.functional.softplus(out).addcmul_(out, x, value=-1).mean(-1)

    @staticmethod
    def backward(ctx, grad):
        out, x = ctx.saved_tensors
        grad_out = torch.sigmoid(out).sub_(x).mul_(grad.unsqueeze(-1) / out.shape[-1])
        return nn.functional.hardshrink(grad_out, TINY_GRADIENT), None


def mean_bce_with_logits(out, x):
    """Binary cross-entropy of logits ``out`` against targets ``x``, a mean over the last axis.

    Equal to ``binary_cross_entropy_with_logits(out, x, reduction="none").mean(-1)``, in fewer
    elementwise passes; its gradient has no entries below ``TINY_GRADIENT`` (they are zero).

    Parameters
    ----------
    out : Tensor of shape (..., D)
        Logits.
    x : Tensor broadcastable to ``out``
        Targets in [0, 1].

    Returns
    -------
    Tensor of shape (...)
    """
    return _MeanBinaryCrossEntropy.apply(out, x.to(out.dtype).expand_as(out))


def flushing_denormals():
    """Whether this thread reads and writes float denormals as zero (a float32 probe)."""
    return (torch.tensor([1e-39]) * 1.0).item() == 0.0


@contextlib.contextmanager
def flushed_denormals():
    """Within the block (or decorated function), denormal floats are read and written as zero in
    this thread; the previous setting is restored afterwards. torch has no switch for its other
    threads, so :class:`ELU` and :func:`mean_bce_with_logits` also pass back no denormals."""
    was = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was)
