"""Does ``torch.compile`` speed up the decoder? Milliseconds per step of the paper's branching
decoder (widths 16-256, 50 features, H² latents: 3 coordinates), eager against compiled, for a
training step (batch 128: forward, loss, backward into weights and latents) and a test-time step
(the 571 held-out samples x 20 starts: forward, backward into the latents only), and the seconds
the first compiled call took.

    python benchmarks/bench_compile.py [--threads 1] [--steps 200]

Random inputs of the right shapes: the cost of these products does not depend on the values.
"""
from __future__ import annotations

import argparse
import time

import torch

import rgd_utils as R

CASES = {"training step, batch 128": (128, True), "test-time step, 11,420 rows": (571 * 20, False)}


def step(decoder, z, x):
    """One forward and backward pass; gradients into the weights only when they require them."""
    z.grad = None
    loss = (decoder(z) - x).square().mean()
    loss.backward()


def ms_per_step(decoder, z, x, steps):
    for _ in range(3):
        step(decoder, z, x)
    start = time.perf_counter()
    for _ in range(steps):
        step(decoder, z, x)
    return (time.perf_counter() - start) / steps * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    hidden = R.RiemannianDecoder().hidden  # the default widths, those of every paper table
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), decoder widths {hidden}")
    print(f"{'case':30s} {'eager ms':>9s} {'compiled ms':>12s} {'compile s':>10s}")
    for case, (rows, train_weights) in CASES.items():
        decoder = R.make_decoder(3, 50, hidden, generator=generator)
        decoder.requires_grad_(train_weights)
        z = torch.randn(rows, 3, generator=generator, requires_grad=True)
        x = torch.randn(rows, 50, generator=generator)
        steps = max(1, args.steps * 128 // rows)
        eager = ms_per_step(decoder, z, x, steps)
        compiled = torch.compile(decoder)
        start = time.perf_counter()
        step(compiled, z, x)
        compile_seconds = time.perf_counter() - start
        print(f"{case:30s} {eager:9.2f} {ms_per_step(compiled, z, x, steps):12.2f} "
              f"{compile_seconds:10.1f}")


if __name__ == "__main__":
    main()
