"""Two-level autoregressive (Kennedy–O'Hagan) Gaussian-process model.

Kennedy & O'Hagan (2000, Biometrika 87, 1) model a fine (expensive) code as a scaled
coarse (cheap) code plus an independent discrepancy::

    f_fine(x) = rho f_coarse(x) + delta(x),   f_coarse ~ GP,  delta ~ GP independent

Fitted as in the recursive formulation of Le Gratiet & Garnier (2014, Int. J. Uncertainty
Quantification 4, 365): a :class:`fe2.surrogate.GaussianProcess` on the many coarse
answers; ``rho`` and the discrepancy GP on the few fine answers, with the coarse GP's mean
``m_c`` at the fine inputs standing in for ``f_coarse`` (exact when the fine inputs are
among the coarse ones, a nested design). ``rho`` (one per output component) maximises the
profile marginal likelihood of ``y_fine - rho m_c(x_fine)`` under the discrepancy GP
(hyperparameters re-optimised at every ``rho``): a grid around the least-squares value,
then :func:`scipy.optimize.minimize_scalar` on the best bracket. Prediction::

    mean = rho m_c(x) + m_delta(x),    var = rho^2 s_c(x)^2 + s_delta(x)^2

With a fine level that is a smooth correction of the coarse one, a few fine solves give
fine-level accuracy; a single-level GP on the same fine solves does not.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize_scalar

from fe2.surrogate import GaussianProcess

__all__ = ["TwoLevelGP"]

log = logging.getLogger(__name__)


def _rows(owner: str, name: str, X: np.ndarray, D: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    if X.ndim != 2 or (D is not None and X.shape[1] != D) or not np.all(np.isfinite(X)):
        want = f"(n, {D})" if D is not None else "(n, D)"
        raise ValueError(f"{owner}: {name} must be a finite array {want}, got shape "
                         f"{np.shape(X)}")
    return X


class TwoLevelGP:
    """Autoregressive two-fidelity GP ``f_fine = rho f_coarse + delta``.

    Parameters
    ----------
    kernel : {"matern52", "rbf"}
        Kernel of both GPs.
    rho : "ml", "ls" or float
        Scale factor: profile maximum likelihood (default), least squares of the fine
        answers on the coarse mean, or a fixed value.
    seed : int
        Seed of the hyperparameter restarts.
    n_restarts : int
        Random restarts of the coarse GP's hyperparameter optimisation.

    Attributes
    ----------
    rho : ndarray (m,)
        Fitted scale factor per output component (after :meth:`fit`).
    coarse : GaussianProcess
        GP of the coarse level.
    deltas : list of GaussianProcess
        One discrepancy GP per output component.
    """

    def __init__(self, kernel: str = "matern52", rho: str | float = "ml", seed: int = 0,
                 n_restarts: int = 3):
        if not (rho in ("ml", "ls") or (isinstance(rho, int | float)
                                        and not isinstance(rho, bool) and np.isfinite(rho))):
            raise ValueError(f"TwoLevelGP: rho must be 'ml', 'ls' or a finite number, "
                             f"got {rho!r}")
        self.kernel = kernel
        self.rho_mode = rho
        self.seed = seed
        self.n_restarts = n_restarts
        self.coarse: GaussianProcess | None = None
        self.deltas: list[GaussianProcess] = []
        self.rho: np.ndarray | None = None

    def _delta(self, X: np.ndarray, r: np.ndarray) -> GaussianProcess:
        return GaussianProcess(self.kernel, n_restarts=1, seed=self.seed).fit(X, r[:, None])

    def _profile_nll(self, X: np.ndarray, y: np.ndarray, mc: np.ndarray, rho: float) -> float:
        """Negative log likelihood of ``y - rho mc`` in output units (mean profiled out)."""
        gp = self._delta(X, y - rho * mc)
        return float(gp.neg_log_ml + len(y) * np.log(gp.y_std[0]))

    def _fit_rho(self, X: np.ndarray, y: np.ndarray, mc: np.ndarray) -> float:
        if not isinstance(self.rho_mode, str):
            return float(self.rho_mode)
        a = mc - mc.mean()
        ls = float(np.dot(a, y - y.mean()) / np.dot(a, a)) if np.dot(a, a) > 0 else 1.0
        if self.rho_mode == "ls":
            return ls
        half = 2.0 * abs(ls) + 1.0
        grid = np.linspace(ls - half, ls + half, 25)
        nll = [self._profile_nll(X, y, mc, r) for r in grid]
        i = int(np.argmin(nll))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        res = minimize_scalar(lambda r: self._profile_nll(X, y, mc, r), bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-4 * (1.0 + abs(ls))})
        best = float(res.x) if res.fun <= nll[i] else float(grid[i])
        log.debug("TwoLevelGP: rho least squares %.4g, maximum likelihood %.4g", ls, best)
        return best

    def fit(self, X_coarse: np.ndarray, Y_coarse: np.ndarray, X_fine: np.ndarray,
            Y_fine: np.ndarray) -> TwoLevelGP:
        """Fit to coarse ``(n_c, D)``, ``(n_c, m)`` and fine ``(n_f, D)``, ``(n_f, m)`` data.

        One-dimensional ``Y`` arrays are taken as ``m = 1``; ``n_f >= 2``.
        """
        Xc = _rows("TwoLevelGP.fit", "X_coarse", X_coarse)
        D = Xc.shape[1]
        Xf = _rows("TwoLevelGP.fit", "X_fine", X_fine, D)
        Yc = _rows("TwoLevelGP.fit", "Y_coarse", Y_coarse)
        Yf = _rows("TwoLevelGP.fit", "Y_fine", Y_fine, Yc.shape[1])
        if len(Yc) != len(Xc) or len(Yf) != len(Xf) or len(Xf) < 2 or len(Xc) < 2:
            raise ValueError(f"TwoLevelGP.fit: need >= 2 rows with matching X and Y, got "
                             f"coarse {Xc.shape}/{Yc.shape} and fine {Xf.shape}/{Yf.shape}")
        self.coarse = GaussianProcess(self.kernel, n_restarts=self.n_restarts,
                                      seed=self.seed).fit(Xc, Yc)
        mc = self.coarse.predict(Xf).mean
        self.rho = np.array([self._fit_rho(Xf, Yf[:, k], mc[:, k]) for k in range(Yf.shape[1])])
        self.deltas = [self._delta(Xf, Yf[:, k] - self.rho[k] * mc[:, k])
                       for k in range(Yf.shape[1])]
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fine-level mean and standard deviation ``(n, m)`` at ``X (n, D)``."""
        if self.coarse is None:
            raise RuntimeError("TwoLevelGP.predict: call fit first")
        X = _rows("TwoLevelGP.predict", "X", X, self.coarse.X.shape[1])
        pc = self.coarse.predict(X)
        pd = [g.predict(X) for g in self.deltas]
        md = np.column_stack([p.mean[:, 0] for p in pd])
        vd = np.column_stack([p.std[:, 0] ** 2 for p in pd])
        mean = self.rho * pc.mean + md
        std = np.sqrt(self.rho**2 * pc.std**2 + vd)
        return mean, std
