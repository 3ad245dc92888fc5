"""Gaussian-process regression in numpy/SciPy with the analytic gradient of the mean.

One GP for all output components with a **shared kernel**: one set of ARD length
scales, one signal variance and one noise variance, fitted to the standardised
outputs together (the log marginal likelihood is the sum over the output columns,
which are independent given the kernel). Inputs are standardised per column
(mean 0, standard deviation 1), outputs per column. One Cholesky factor serves
every component, so prediction costs one triangular solve for all outputs.

Kernels (``r`` the ARD-scaled distance ``sqrt(sum_j ((x_j - x'_j) / l_j)^2)``)::

    rbf        k = s2 exp(-r^2 / 2)
    matern52   k = s2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r)

Hyperparameters ``theta = (log l_1 .. log l_D, log s2, log sn2)`` maximise the log
marginal likelihood (Rasmussen & Williams 2006, eq. 2.30 and 5.9, with its analytic
gradient) by L-BFGS-B from the previous optimum plus ``n_restarts`` random starts
drawn from a seeded generator.

**Adding points without refactorising.** :meth:`fe2.surrogate.GaussianProcess.add` appends
training points with the hyperparameters and the standardisation kept: the Cholesky factor
``L`` of the ``N x N`` kernel matrix grows by a block row (Golub & Van Loan, *Matrix
Computations*, 4th ed., sec. 4.2: the bordered Cholesky step)::

    K_new = [[K, K_on], [K_no, K_nn]]   L_new = [[L, 0], [B^T, chol(K_nn - B^T B)]],
    B = L^-1 K_on

in O(N^2 k) for ``k`` new rows instead of O((N + k)^3); the weights follow from
``z = L^-1 y`` (kept) extended by ``chol(S)^-1 (y_n - B^T z)`` and one back substitution.
With gradient observations the rows are ordered point by point (value, then the ``D``
derivatives), so a new point's block of ``1 + D`` rows is appended at the end. If the
Schur complement ``S`` is not numerically positive definite the factor is rebuilt from
scratch (logged at INFO).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve, cholesky, lapack, solve_triangular
from scipy.optimize import minimize

__all__ = ["KERNELS", "GaussianProcess", "GPPrediction"]

log = logging.getLogger(__name__)

KERNELS: tuple[str, ...] = ("matern52", "rbf")
_SQRT5 = np.sqrt(5.0)
# bounds of log hyperparameters in standardised units
_LOG_L = (np.log(1e-2), np.log(1e2))
_LOG_S2 = (np.log(1e-3), np.log(1e2))
_LOG_SN2 = (np.log(1e-8), np.log(1e0))


@dataclass(frozen=True)
class GPPrediction:
    """Predictions at ``n`` points for ``m`` output components and ``D`` inputs.

    Attributes
    ----------
    mean : ndarray (n, m)
        Predictive mean in output units.
    std : ndarray (n, m)
        Predictive standard deviation of the latent function (noise excluded).
    grad : ndarray (n, m, D) or None
        Analytic derivative of ``mean`` with respect to the input.
    """

    mean: np.ndarray
    std: np.ndarray
    grad: np.ndarray | None = None


def _single_thread_blas():
    """Limit BLAS to one thread (threadpoolctl, when installed) for small dense systems.

    Threaded OpenBLAS on matrices of a few hundred rows is slower than one thread and,
    on a loaded machine, up to 40x slower (measured: 10.7 s against 0.25 s for one fit).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the fit is only slower
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _kernel_parts(kernel: str, A: np.ndarray, B: np.ndarray, ell: np.ndarray, s2: float):
    """Kernel matrix ``(na, nb)``, scaled differences ``(na, nb, D)`` and ``dk/dr / r``."""
    diff = (A[:, None, :] - B[None, :, :]) / ell
    r2 = np.einsum("abj,abj->ab", diff, diff)
    if kernel == "rbf":
        K = s2 * np.exp(-0.5 * r2)
        dkr = -K  # (dk/dr) / r
    else:
        r = np.sqrt(r2)
        e = np.exp(-_SQRT5 * r)
        K = s2 * (1.0 + _SQRT5 * r + 5.0 / 3.0 * r2) * e
        dkr = -s2 * 5.0 / 3.0 * (1.0 + _SQRT5 * r) * e
    return K, diff, dkr


def _psi2(kernel: str, diff: np.ndarray, s2: float) -> np.ndarray:
    """``(d/dr (dk/dr / r)) / r`` ``(na, nb)``: the curvature term of derivative covariances."""
    r2 = np.einsum("abj,abj->ab", diff, diff)
    if kernel == "rbf":
        return s2 * np.exp(-0.5 * r2)
    return s2 * 25.0 / 3.0 * np.exp(-_SQRT5 * np.sqrt(r2))


def _checked(what: str, X, Y, dY, min_rows: int):
    """Training rows as float arrays ``X (n, D)``, ``Y (n, m)``, ``dY (n, m, D)`` or None."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.shape[0] != Y.shape[0] or X.shape[0] < min_rows:
        raise ValueError(f"GaussianProcess.{what}: need n >= {min_rows} matching rows, got X "
                         f"{X.shape} and Y {Y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError(f"GaussianProcess.{what}: non-finite training data")
    if dY is not None:
        dY = np.asarray(dY, dtype=float)
        if dY.shape != Y.shape + (X.shape[1],) or not np.all(np.isfinite(dY)):
            raise ValueError(f"GaussianProcess.{what}: dY must be finite of shape "
                             f"{Y.shape + (X.shape[1],)}, got {dY.shape}")
    return X, Y, dY


class GaussianProcess:
    """Shared-kernel multi-output GP regression ``x (D,) -> y (m,)``.

    Parameters
    ----------
    kernel : {"matern52", "rbf"}
        Covariance function with ARD length scales (default Matérn 5/2).
    n_restarts : int
        Random starts of the hyperparameter optimisation besides the current
        optimum (default 3).
    seed : int
        Seed of the generator that draws the restarts (default 0).
    noise : float or None
        Fixed noise variance in standardised output units; None (default) fits
        it within ``[1e-8, 1]``.
    max_opt_points : int
        The hyperparameters are optimised on at most this many training points (a
        seeded random subset; default 256), so an optimisation costs the same for any
        training set; the final factorisation uses every point.

    Notes
    -----
    With the noise floor 1e-8 the kernel matrix can be ill-conditioned: the mean carries
    round-off of about 1e-10 relative, so Newton tolerances below about 1e-9 on a
    surrogate's answers stagnate.
    """

    def __init__(self, kernel: str = "matern52", n_restarts: int = 3, seed: int = 0,
                 noise: float | None = None, max_opt_points: int = 256):
        if kernel not in KERNELS:
            raise ValueError(
                f"GaussianProcess: kernel must be one of {', '.join(KERNELS)}, got {kernel!r}"
            )
        if isinstance(n_restarts, bool) or not isinstance(n_restarts, int) or n_restarts < 0:
            raise ValueError(f"GaussianProcess: n_restarts must be an integer >= 0, got "
                             f"{n_restarts!r}")
        if noise is not None and not (np.isfinite(noise) and noise > 0):
            raise ValueError(f"GaussianProcess: noise must be a variance > 0 or None, got "
                             f"{noise!r}")
        self.kernel = kernel
        self.n_restarts = n_restarts
        self.seed = seed
        self.noise = noise
        self.max_opt_points = int(max_opt_points)
        self.theta: np.ndarray | None = None
        self.X: np.ndarray | None = None
        self.Y: np.ndarray | None = None

    # ------------------------------------------------------------------ fitting

    @property
    def fitted(self) -> bool:
        """True once :meth:`fit` has run."""
        return self.theta is not None and self._chol is not None

    def fit(self, X: np.ndarray, Y: np.ndarray, optimize: bool = True,
            dY: np.ndarray | None = None) -> GaussianProcess:
        """Fit to inputs ``X (n, D)`` and outputs ``Y (n, m)``.

        With ``optimize`` the standardisation and the hyperparameters are
        recomputed; without it (after a first optimised fit) they are kept and
        only the Cholesky factor is rebuilt for the new data. ``dY (n, m, D)``
        adds gradient observations ``dY[a, k, j] = d y_k / d x_j`` at ``X[a]``
        (e.g. micro tangents): the posterior conditions on values and gradients
        jointly (one Cholesky of size ``n (1 + D)``), while the hyperparameters
        are optimised on the values alone.
        """
        X, Y, dY = _checked("fit", X, Y, dY, min_rows=2)
        self.X, self.Y, self.dY = X, Y, dY
        with _single_thread_blas():
            if optimize or self.theta is None:
                self.x_mean = X.mean(axis=0)
                self.x_std = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
                self.y_mean = Y.mean(axis=0)
                self.y_std = np.where(Y.std(axis=0) > 0, Y.std(axis=0), 1.0)
                self.theta = self._optimise(self.theta)
            self._factor()
        return self

    def _std(self):
        return (self.X - self.x_mean) / self.x_std, (self.Y - self.y_mean) / self.y_std

    def _unpack(self, theta: np.ndarray):
        D = self.X.shape[1]
        ell = np.exp(theta[:D])
        s2 = float(np.exp(theta[D]))
        sn2 = self.noise if self.noise is not None else float(np.exp(theta[D + 1]))
        return ell, s2, sn2

    def _neg_lml(self, theta: np.ndarray, Xs: np.ndarray, Ys: np.ndarray):
        """Negative log marginal likelihood summed over outputs and its gradient."""
        n, D = Xs.shape
        m = Ys.shape[1]
        ell, s2, sn2 = self._unpack(theta)
        K, diff, dkr = _kernel_parts(self.kernel, Xs, Xs, ell, s2)
        Kn = K + (sn2 + 1e-10) * np.eye(n)
        try:
            c = cho_factor(Kn, lower=True)
        except np.linalg.LinAlgError:
            return 1e25, np.zeros_like(theta)
        alpha = cho_solve(c, Ys)
        logdet = 2.0 * np.sum(np.log(np.diag(c[0])))
        nll = 0.5 * np.sum(Ys * alpha) + 0.5 * m * logdet + 0.5 * m * n * np.log(2 * np.pi)
        inv, _ = lapack.dpotri(c[0], lower=1)  # lower triangle of K^-1
        inv = np.tril(inv) + np.tril(inv, -1).T
        W = alpha @ alpha.T - m * inv  # dL/dK = W / 2
        grad = np.empty_like(theta)
        # dk/dlog l_j = -(dk/dr / r) * diff_j^2
        for j in range(D):
            grad[j] = -0.5 * np.sum(W * (-dkr * diff[:, :, j] ** 2))
        grad[D] = -0.5 * np.sum(W * K)
        if self.noise is None:
            grad[D + 1] = -0.5 * sn2 * np.trace(W)
        else:
            grad = grad[: D + 1]
        return float(nll), grad

    def _optimise(self, start: np.ndarray | None) -> np.ndarray:
        Xs, Ys = self._std()
        if len(Xs) > self.max_opt_points:
            keep = np.random.default_rng(self.seed).choice(len(Xs), self.max_opt_points,
                                                          replace=False)
            Xs, Ys = Xs[keep], Ys[keep]
        D = Xs.shape[1]
        bounds = [_LOG_L] * D + [_LOG_S2] + ([_LOG_SN2] if self.noise is None else [])
        lo = np.array([b[0] for b in bounds])
        hi = np.array([b[1] for b in bounds])
        default = np.concatenate([np.zeros(D), [0.0], [np.log(1e-6)] if self.noise is None
                                  else []])
        starts = [default]
        if start is not None and start.shape == default.shape:
            starts.append(np.clip(start, lo, hi))
        rng = np.random.default_rng(self.seed)
        for _ in range(self.n_restarts):
            t = default.copy()
            t[:D] = rng.uniform(np.log(0.1), np.log(10.0), D)
            t[D] = rng.uniform(np.log(0.1), np.log(10.0))
            if self.noise is None:
                t[D + 1] = rng.uniform(np.log(1e-8), np.log(1e-2))
            starts.append(t)
        best = None
        for t0 in starts:
            r = minimize(self._neg_lml, t0, args=(Xs, Ys), jac=True, method="L-BFGS-B",
                         bounds=bounds)
            if best is None or r.fun < best.fun:
                best = r
        log.debug("GP hyperparameters %s, -log ML %.4g", best.x, best.fun)
        self.neg_log_ml = float(best.fun)
        theta = best.x
        if self.noise is not None:
            theta = np.concatenate([theta, [np.log(self.noise)]])
        return theta

    def _cov(self, A: np.ndarray, B: np.ndarray, values_only: bool = False) -> np.ndarray:
        """Covariance of the training rows at standardised ``A (na, D)`` with those at ``B``.

        Without gradient observations ``(na, nb)``; with them ``(na (1 + D), nb (1 + D))``,
        rows and columns ordered point by point (value, then ``d/dx_1 .. d/dx_D``); with
        ``values_only`` only the value rows of ``A`` ``(na, nb (1 + D))``. With ``psi =
        (dk/dr) / r`` and ``u_j = (a_j - b_j) / l_j^2``: ``dk/da_i = psi u_i``, ``dk/db_j =
        -psi u_j``, ``d2k/da_i db_j = -psi' / r u_i u_j - psi delta_ij / l_i^2``.
        """
        ell, s2, _ = self._unpack(self.theta)
        if self.dY is None:
            return _kernel_parts(self.kernel, A, B, ell, s2)[0]
        na, D = A.shape
        nb = len(B)
        # written in place, one derivative row at a time (no (na, nb, D, D) temporaries)
        K, diff, psi = _kernel_parts(self.kernel, A, B, ell, s2)
        u = diff / ell
        pu = psi[:, :, None] * u
        M = np.empty((na, 1 if values_only else 1 + D, nb, 1 + D))
        M[:, 0, :, 0] = K
        M[:, 0, :, 1:] = -pu
        if values_only:
            return M.reshape(na, nb * (1 + D))
        M[:, 1:, :, 0] = pu.transpose(0, 2, 1)
        p2 = _psi2(self.kernel, diff, s2)
        for i in range(D):
            M[:, 1 + i, :, 1:] = -(p2 * u[:, :, i])[:, :, None] * u
            M[:, 1 + i, :, 1 + i] -= psi / ell[i] ** 2
        return M.reshape(na * (1 + D), nb * (1 + D))

    def _targets(self, Y: np.ndarray, dY: np.ndarray | None) -> np.ndarray:
        """Standardised training targets in the row order of :meth:`_cov` ``(rows, m)``."""
        Ys = (Y - self.y_mean) / self.y_std
        if dY is None:
            return Ys
        n, m, D = dY.shape
        T = np.empty((n, 1 + D, m))
        T[:, 0] = Ys
        T[:, 1:] = (dY * self.x_std[None, None, :] / self.y_std[None, :, None]
                    ).transpose(0, 2, 1)
        return T.reshape(n * (1 + D), m)

    def _jitter(self) -> float:
        return self._unpack(self.theta)[2] + 1e-10

    def _factor(self) -> None:
        """Cholesky factor ``L`` of the whole kernel matrix and the weights ``alpha``."""
        Xs = (self.X - self.x_mean) / self.x_std
        K = self._cov(Xs, Xs)
        L = cholesky(K + self._jitter() * np.eye(len(K)), lower=True, check_finite=False)
        self._set_factor(L, solve_triangular(L, self._targets(self.Y, self.dY), lower=True,
                                             check_finite=False))

    def _set_factor(self, L: np.ndarray, z: np.ndarray) -> None:
        """Keep ``L`` and ``z = L^-1 y``; ``alpha = L^-T z``."""
        self._chol = (L, True)
        self._z = z
        self._alpha = solve_triangular(L, z, lower=True, trans="T", check_finite=False)

    def add(self, X: np.ndarray, Y: np.ndarray, dY: np.ndarray | None = None
            ) -> GaussianProcess:
        """Append training points ``X (k, D)``, ``Y (k, m)`` (``dY (k, m, D)``) to a fitted GP.

        Hyperparameters and standardisation are kept (as in ``fit(..., optimize=False)``),
        and the Cholesky factor is extended by the new block row (module docs) instead of
        being rebuilt: the result equals that refit up to round-off. Gradient observations
        are needed exactly when the GP was fitted with them. If the Schur complement of
        the new rows is not numerically positive definite (e.g. a point repeated with a
        tiny noise), the whole factor is rebuilt and this is logged at INFO.
        """
        if not self.fitted:
            raise RuntimeError("GaussianProcess.add: call fit first")
        X, Y, dY = _checked("add", X, Y, dY, min_rows=0)
        if X.shape[1] != self.X.shape[1] or Y.shape[1] != self.Y.shape[1]:
            raise ValueError(f"GaussianProcess.add: expected {self.X.shape[1]} input and "
                             f"{self.Y.shape[1]} output columns, got X {X.shape}, Y {Y.shape}")
        if (dY is None) != (self.dY is None):
            raise ValueError("GaussianProcess.add: dY must be given exactly when the GP was "
                             "fitted with gradient observations")
        if not len(X):
            return self
        Xs_old = (self.X - self.x_mean) / self.x_std
        Xs_new = (X - self.x_mean) / self.x_std
        self.X = np.vstack([self.X, X])
        self.Y = np.vstack([self.Y, Y])
        if dY is not None:
            self.dY = np.concatenate([self.dY, dY])
        with _single_thread_blas():
            L = self._chol[0]
            N = len(L)
            B = solve_triangular(L, self._cov(Xs_old, Xs_new), lower=True, check_finite=False)
            C = self._cov(Xs_new, Xs_new)
            S = C + self._jitter() * np.eye(len(C)) - B.T @ B
            try:
                Ls = cholesky(S, lower=True, check_finite=False)
            except np.linalg.LinAlgError:
                log.info("GaussianProcess.add: Schur complement of %d new rows not positive "
                         "definite; refactorising all %d rows", len(C), N + len(C))
                self._factor()
                return self
            Lnew = np.zeros((N + len(C), N + len(C)))
            Lnew[:N, :N] = L
            Lnew[N:, :N] = B.T
            Lnew[N:, N:] = Ls
            zn = solve_triangular(Ls, self._targets(Y, dY) - B.T @ self._z, lower=True,
                                  check_finite=False)
            self._set_factor(Lnew, np.vstack([self._z, zn]))
        return self

    _chol = None
    _z = None
    dY = None

    # ---------------------------------------------------------------- prediction

    def predict(self, Xq: np.ndarray, grad: bool = False) -> GPPrediction:
        """Mean and std ``(n, m)`` at ``Xq (n, D)``; with ``grad`` also ``d mean/dx (n, m, D)``."""
        if not self.fitted:
            raise RuntimeError("GaussianProcess.predict: call fit first")
        Xq = np.atleast_2d(np.asarray(Xq, dtype=float))
        if Xq.shape[1] != self.X.shape[1]:
            raise ValueError(f"GaussianProcess.predict: expected {self.X.shape[1]} input "
                             f"columns, got {Xq.shape[1]}")
        Xs = (self.X - self.x_mean) / self.x_std
        Qs = (Xq - self.x_mean) / self.x_std
        ell, s2, _ = self._unpack(self.theta)
        nq, D = Qs.shape
        if self.dY is None:
            Kq, diff, dkr = _kernel_parts(self.kernel, Qs, Xs, ell, s2)
            # d k(q, x_i) / d q_j (standardised) = (dk/dr / r) * diff_j / l_j
            dK = np.moveaxis(dkr[:, :, None] * diff / ell, 2, 1) if grad else None
        elif grad:  # rows of the query's value and derivatives, columns as in _cov
            M = self._cov(Qs, Xs).reshape(nq, 1 + D, -1)
            Kq, dK = np.ascontiguousarray(M[:, 0, :]), M[:, 1:, :]
        else:
            Kq, dK = self._cov(Qs, Xs, values_only=True), None
        mean_s = Kq @ self._alpha
        v = solve_triangular(self._chol[0], Kq.T, lower=True)
        var_s = np.maximum(s2 - np.einsum("in,in->n", v, v), 0.0)
        mean = self.y_mean + mean_s * self.y_std
        std = np.sqrt(var_s)[:, None] * self.y_std
        g = None
        if grad:
            g_s = np.einsum("qjn,nm->qmj", dK, self._alpha)
            g = g_s * self.y_std[None, :, None] / self.x_std[None, None, :]
        return GPPrediction(mean=mean, std=std, grad=g)

    # ------------------------------------------------------------- persistence

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Training data, hyperparameters and standardisation (for ``np.savez``)."""
        out = {"X": self.X, "Y": self.Y, "theta": self.theta, "x_mean": self.x_mean,
               "x_std": self.x_std, "y_mean": self.y_mean, "y_std": self.y_std}
        if self.dY is not None:
            out["dY"] = self.dY
        return out

    def config(self) -> dict:
        """Constructor arguments (for JSON)."""
        return {"kernel": self.kernel, "n_restarts": self.n_restarts, "seed": self.seed,
                "noise": self.noise, "max_opt_points": self.max_opt_points}

    @classmethod
    def from_arrays(cls, config: dict, arrays: dict) -> GaussianProcess:
        """Inverse of :meth:`config` + :meth:`to_arrays` (no re-optimisation)."""
        gp = cls(**config)
        for k in ("X", "Y", "theta", "x_mean", "x_std", "y_mean", "y_std"):
            setattr(gp, k, np.asarray(arrays[k], dtype=float))
        gp.dY = np.asarray(arrays["dY"], dtype=float) if "dY" in arrays else None
        gp._factor()
        return gp
