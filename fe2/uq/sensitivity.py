"""First-order and total Sobol indices through :func:`scipy.stats.sobol_indices`.

:func:`sobol_indices` wraps SciPy's Saltelli (2010) estimator with fe2's conventions:
random inputs as ``{name: frozen scipy.stats distribution}``, a vectorised function
``func(X (n, D)) -> (n,)`` or ``(n, s)`` in the row-per-sample layout, a seeded
generator, and optional bootstrap confidence intervals (SciPy's ``bootstrap()``). The
estimator needs ``n (D + 2)`` evaluations with ``n`` a power of two, so it is meant for
cheap functions: closed forms, or a surrogate (:class:`fe2.uq.TensorSurrogate`) of an
expensive micro model.

>>> from fe2.uq.reference import ishigami, ishigami_indices
>>> from scipy import stats
>>> box = stats.uniform(-np.pi, 2 * np.pi)
>>> r = sobol_indices(ishigami, {"x1": box, "x2": box, "x3": box}, n=2**14, seed=0)
>>> np.round(r.first_order[0], 2), np.round(ishigami_indices()[0], 2)
(array([0.31, 0.44, 0.  ]), array([0.31, 0.44, 0.  ]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .montecarlo import check_inputs

__all__ = ["SobolIndices", "sobol_indices"]


@dataclass(frozen=True)
class SobolIndices:
    """First-order and total Sobol indices of ``s`` outputs on ``D`` inputs.

    Attributes
    ----------
    names : tuple of str
        Input names (``D``).
    first_order, total_order : ndarray (s, D)
        Indices of output ``k`` with respect to input ``j``.
    first_order_ci, total_order_ci : ndarray (2, s, D) or None
        Bootstrap confidence intervals (low, high), when asked for.
    n : int
        Base sample size (the function ran ``n (D + 2)`` times).
    """

    names: tuple[str, ...]
    first_order: np.ndarray
    total_order: np.ndarray
    first_order_ci: np.ndarray | None
    total_order_ci: np.ndarray | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Indices per input name as JSON-ready lists (one entry per output)."""
        return {"n": self.n,
                "first_order": {k: self.first_order[:, j].tolist()
                                for j, k in enumerate(self.names)},
                "total_order": {k: self.total_order[:, j].tolist()
                                for j, k in enumerate(self.names)}}


def sobol_indices(func: Callable[[np.ndarray], np.ndarray], inputs: Mapping[str, Any],
                  n: int = 1024, seed: int = 0, confidence: float | None = None,
                  n_resamples: int = 199) -> SobolIndices:
    """Sobol indices of ``func`` over independent random ``inputs``.

    Parameters
    ----------
    func : callable
        ``func(X (m, D)) -> (m,)`` or ``(m, s)``, vectorised over rows.
    inputs : mapping
        ``{name: frozen scipy.stats distribution}``, ``D >= 2`` independent inputs.
    n : int
        Base sample size, a power of two (:func:`scipy.stats.sobol_indices`).
    seed : int
        Seed of the generator of the Sobol points.
    confidence : float, optional
        Level of bootstrap confidence intervals (e.g. 0.95); None skips the bootstrap.
    n_resamples : int
        Bootstrap resamples.

    Returns
    -------
    SobolIndices
    """
    names = check_inputs(inputs, "sobol_indices")
    if len(names) < 2:
        raise ValueError(f"sobol_indices: need at least 2 random inputs, got {names}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2 or n & (n - 1):
        raise ValueError(f"sobol_indices: n must be a power of two >= 2, got {n!r}")

    def f(x: np.ndarray) -> np.ndarray:  # SciPy's layout: x (D, m) -> (s, m)
        y = np.asarray(func(x.T), dtype=float)
        if y.ndim not in (1, 2) or y.shape[0] != x.shape[1]:
            raise ValueError(f"sobol_indices: func must return (m,) or (m, s) for m = "
                             f"{x.shape[1]} rows, got shape {y.shape}")
        return y[None, :] if y.ndim == 1 else y.T

    res = stats.sobol_indices(func=f, n=int(n), dists=[inputs[k] for k in names],
                              rng=np.random.default_rng(seed))
    lo_hi = [None, None]
    if confidence is not None:
        b = res.bootstrap(confidence_level=confidence, n_resamples=n_resamples)
        lo_hi = [np.stack([np.atleast_2d(ci.low), np.atleast_2d(ci.high)])
                 for ci in (b.first_order.confidence_interval,
                            b.total_order.confidence_interval)]
    return SobolIndices(names=tuple(names), first_order=np.atleast_2d(res.first_order),
                        total_order=np.atleast_2d(res.total_order), first_order_ci=lo_hi[0],
                        total_order_ci=lo_hi[1], n=int(n))
