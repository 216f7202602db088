"""Train / validation / test splits."""
from __future__ import annotations

import numpy as np


def split_indices(n, fractions=(0.82, 0.09, 0.09), seed=0):
    """Random disjoint ``(train, val, test)`` index arrays covering ``range(n)``, each sorted.

    Sizes are ``round(fractions[0] * n)``, ``round(fractions[1] * n)`` and the rest; the same
    ``seed`` gives the same split.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got "
                         f"{tuple(fractions)}")
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = min(int(round(fractions[1] * n)), n - n_train)
    return (np.sort(order[:n_train]), np.sort(order[n_train:n_train + n_val]),
            np.sort(order[n_train + n_val:]))
