"""Why long hmtDNA fits slowed down, and that they no longer do.

1. Milliseconds for the backward products of the hmtDNA output layer (3 stacked members, batch
   2,048, 256 -> 2,895), fed ordinary gradients or float32 denormals (below 1.2e-38), with and
   without denormals flushed to zero. Saturated ELU units (pre-activations below -87) and
   far-negative logits produce such gradients late in training.
2. The same products one layer down, fed the gradient that saturated units (pre-activations
   near -90) pass back, denormals not flushed (as in torch's other threads): torch's ``nn.ELU``
   passes exp(x), a denormal; ``rgd_utils.ELU``, the decoders' activation, passes exactly 0.
3. With ``--fit``: one hmtDNA model at the paper's settings (H² σ = 0.1, BCE, batch 2,048) on a
   sample of GenBank genomes, seconds per epoch in blocks of 100 epochs. The estimator flushes
   denormals while it trains (``rgdkit.training.base.flushed_denormals``), so the blocks should
   cost the same; before it did, they grew (0.19 to 0.44 s per epoch within 550 epochs).

    python benchmarks/bench_denormals.py [--threads 1] [--fit] [--samples 3000] [--epochs 600]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import rgd_utils as R

MEMBERS, BATCH, PREVIOUS, HIDDEN, OUTPUTS = 3, 2048, 128, 256, 2895


def ms_per_backward(gradient, hidden, weight, repeats=2):
    """The two products of a linear layer's backward: into its input and into its weights."""
    torch.bmm(gradient, weight.transpose(1, 2))
    start = time.perf_counter()
    for _ in range(repeats):
        torch.bmm(gradient, weight.transpose(1, 2))
        torch.bmm(hidden.transpose(1, 2), gradient)
    return (time.perf_counter() - start) / repeats * 1e3


def products():
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(MEMBERS, BATCH, HIDDEN, generator=generator)
    weight = torch.randn(MEMBERS, HIDDEN, OUTPUTS, generator=generator)
    ordinary = torch.randn(MEMBERS, BATCH, OUTPUTS, generator=generator)
    print(f"backward products of the output layer ({MEMBERS} x {BATCH} x {HIDDEN} -> {OUTPUTS}):")
    for name, gradient in (("ordinary gradients", ordinary), ("denormal gradients", ordinary * 1e-39)):
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            ms = ms_per_backward(gradient, hidden, weight)
            print(f"  {name}, denormals {'flushed' if flush else 'kept   '}: {ms:8.1f} ms")
    torch.set_flush_denormal(False)


def saturated_units():
    generator = torch.Generator().manual_seed(0)
    previous = torch.randn(MEMBERS, BATCH, PREVIOUS, generator=generator)
    weight = torch.randn(MEMBERS, PREVIOUS, HIDDEN, generator=generator)
    pre = -90.0 + torch.rand(MEMBERS, BATCH, HIDDEN, generator=generator)
    upstream = torch.randn(MEMBERS, BATCH, HIDDEN, generator=generator)
    torch.set_flush_denormal(False)
    print(f"backward products one layer down ({PREVIOUS} -> {HIDDEN}), saturated units, "
          "denormals kept:")
    for name, activation in (("torch's nn.ELU ", torch.nn.ELU()), ("rgd_utils.ELU  ", R.ELU())):
        x = pre.clone().requires_grad_()
        (gradient,) = torch.autograd.grad(activation(x * 1.0), x, upstream)
        print(f"  {name}: {ms_per_backward(gradient, previous, weight):8.1f} ms")


def fit(samples, epochs):
    from rgdkit.data import hmtdna
    from rgdkit.experiments import paper

    X, _, description = hmtdna.genbank_sample("rcrs", samples)
    n_val = len(X) // 10
    model = R.RiemannianDecoder(manifold="lorentz", curvature=paper.HYPERBOLIC_K, noise_std=0.1,
                                seed=0, verbose=False, **{**paper.HMTDNA_TRAINING, "epochs": epochs,
                                                          "patience": epochs})
    seconds = []
    train_epoch = model._train_epoch

    def timed(*args):
        start = time.perf_counter()
        loss = train_epoch(*args)
        seconds.append(time.perf_counter() - start)
        return loss
    model._train_epoch = timed  # this instance only
    model.fit(X[n_val:], X_val=X[:n_val])
    print(f"one model, {description}: {len(X) - n_val} training genomes x {X.shape[1]} variants")
    for block in range(0, len(seconds), 100):
        chunk = seconds[block:block + 100]
        print(f"  epochs {block + 1:4d}-{block + len(chunk):4d}: {np.mean(chunk):.3f} s per epoch")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=600)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    products()
    saturated_units()
    if args.fit:
        fit(args.samples, args.epochs)


if __name__ == "__main__":
    main()
