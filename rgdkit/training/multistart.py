"""Test-time latents: multi-start Riemannian optimisation with the decoder frozen."""
from __future__ import annotations

import functools

import geoopt
import torch
from tqdm import tqdm  # text bars: they render in committed notebooks and need no widgets

from rgdkit.numerics.kernels import flushed_denormals
from rgdkit.training.base import progress_options


@flushed_denormals()
def optimise_starts(starts, manifold, loss, lr, steps, keep=None, verbose=True):
    """Multi-start Riemannian optimisation: the best of several starts per sample.

    ``starts`` (B, M, S, *shape) are S starts for each of M samples in B independent problems
    (models); ``loss(z, k)`` gives the per-row loss (B, M * k) of latents z (B, M * k, *shape)
    ordered sample by sample, k starts each. RiemannianAdam (``lr``) takes ``steps`` steps; with
    ``keep`` < S, after a quarter of them only the ``keep`` starts with the lowest loss per sample
    go on, with their optimiser state, so they follow exactly the path they had with all starts.
    Returns the lowest-loss point per sample, (B, M, *shape).
    """
    b, m, s, shape = *starts.shape[:3], starts.shape[3:]
    z = geoopt.ManifoldParameter(starts.reshape(b, m * s, *shape).clone(), manifold=manifold)
    opt = geoopt.optim.RiemannianAdam([z], lr=lr)
    prune_at = steps // 4 if keep is not None and int(keep) < s else None
    for step in tqdm(range(steps), desc="test-time latents", leave=False,
                     **progress_options(verbose)):
        if step == prune_at:
            z, opt, s = keep_best_starts(z, opt, loss, (b, m, s), int(keep))
        opt.zero_grad()
        loss(z, s).sum().backward()
        opt.step()
    with torch.no_grad():
        best = loss(z, s).reshape(b, m, s).argmin(2)
    rows = torch.arange(b, device=z.device)[:, None]
    return z.detach().reshape(b, m, s, *shape)[rows, torch.arange(m, device=z.device), best]


def keep_best_starts(z, opt, loss, sizes, keep):
    """The ``keep`` lowest-loss starts per sample of ``z``, as a new parameter whose optimiser
    carries over their Adam moments and step count."""
    b, m, s = sizes
    with torch.no_grad():
        order = loss(z, s).reshape(b, m, s).argsort(2)[..., :keep]

    def select(t):
        grid = t.reshape(b, m, s, *t.shape[2:])
        index = order.reshape(b, m, keep, *[1] * (t.dim() - 2)).expand(b, m, keep, *t.shape[2:])
        return grid.gather(2, index).reshape(b, m * keep, *t.shape[2:])

    kept = geoopt.ManifoldParameter(select(z.detach()), manifold=z.manifold)
    state = opt.state[z]
    new_opt = geoopt.optim.RiemannianAdam([kept], lr=opt.param_groups[0]["lr"])
    new_opt.state[kept] = {"step": state["step"], "exp_avg": select(state["exp_avg"]),
                           "exp_avg_sq": select(state["exp_avg_sq"])}
    return kept, new_opt, keep


def repeated_rows(X):
    """``k -> X`` with each row k times in a row (the targets of k starts per sample), each k
    computed once: a copy per step would cost as much as a step on wide data."""
    return functools.lru_cache(maxsize=2)(lambda k: X.repeat_interleave(k, dim=0))


def best_matching_latents(decode, Z, X_new, k, seed, max_reference=5000, chunk=1024):
    """For each row of ``X_new`` the ``k`` latents of ``Z`` whose decodings ``decode(Z)`` lie
    nearest (Euclidean), (len(X_new), k, *shape); at most ``max_reference`` latents, drawn with
    ``seed``, are compared."""
    if len(Z) > max_reference:
        gen = torch.Generator().manual_seed(int(seed))
        Z = Z[torch.randperm(len(Z), generator=gen)[:max_reference].to(Z.device)]
    k = min(int(k), len(Z))
    with torch.no_grad():
        decoded = decode(Z)
        picks = [torch.cdist(xb, decoded).topk(k, largest=False).indices
                 for xb in X_new.split(chunk)]
    return Z[torch.cat(picks)]
