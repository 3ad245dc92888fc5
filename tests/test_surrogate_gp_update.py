"""GaussianProcess.add: the bordered Cholesky update against a from-scratch factorisation.

References: the same posterior computed by a full LAPACK factorisation of the whole kernel
matrix with the same hyperparameters and standardisation (``GaussianProcess.from_arrays``),
a dense ``numpy.linalg.solve`` with the Matérn 5/2 kernel written out here, and the
interpolation property of a nearly noise-free GP (mean and mean gradient equal the
observed values and gradients at the training points).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import fe2.surrogate.gp as gpmod
from fe2.surrogate import AdaptiveSurrogate, GaussianProcess, SeriesLaminate, sample_box


def _data(n, seed):
    """Smooth map R^2 -> R^2 with its Jacobian ``dY (n, 2, 2)``."""
    X = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    Y = np.c_[np.sin(2 * X[:, 0]) * X[:, 1], X[:, 0] ** 2 + 3 * X[:, 1]]
    dY = np.empty((n, 2, 2))
    dY[:, 0, 0] = 2 * np.cos(2 * X[:, 0]) * X[:, 1]
    dY[:, 0, 1] = np.sin(2 * X[:, 0])
    dY[:, 1, 0] = 2 * X[:, 0]
    dY[:, 1, 1] = 3.0
    return X, Y, dY


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
@pytest.mark.parametrize("grads", [False, True])
def test_add_equals_full_factorisation(kernel, grads):
    X, Y, dY = _data(40, 1)
    gp = GaussianProcess(kernel, n_restarts=0, noise=1e-4)
    gp.fit(X[:15], Y[:15], dY=dY[:15] if grads else None)
    for a, b in [(15, 16), (16, 25), (25, 40)]:  # one point, then blocks
        gp.add(X[a:b], Y[a:b], dY[a:b] if grads else None)
    assert len(gp.X) == 40
    ref = GaussianProcess.from_arrays(gp.config(), gp.to_arrays())  # full Cholesky
    q = np.random.default_rng(2).uniform(-1.2, 1.2, (25, 2))
    p, r = gp.predict(q, grad=True), ref.predict(q, grad=True)
    assert _rel(p.mean, r.mean) < 1e-10
    assert _rel(p.std, r.std) < 1e-10
    assert _rel(p.grad, r.grad) < 1e-10
    assert _rel(gp._chol[0], ref._chol[0]) < 1e-10


def test_add_matches_dense_solve_with_explicit_kernel():
    X, Y, _ = _data(30, 4)
    gp = GaussianProcess("matern52", n_restarts=0, noise=1e-3).fit(X[:10], Y[:10])
    gp.add(X[10:], Y[10:])
    ell = np.exp(gp.theta[:2])
    s2, sn2 = np.exp(gp.theta[2]), np.exp(gp.theta[3])

    def k(A, B):  # Matérn 5/2 (Rasmussen & Williams 2006, eq. 4.17)
        r = np.sqrt((((A[:, None] - B[None]) / ell) ** 2).sum(-1))
        return s2 * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)

    Xs = (X - gp.x_mean) / gp.x_std
    q = np.random.default_rng(5).uniform(-1, 1, (12, 2))
    Qs = (q - gp.x_mean) / gp.x_std
    Kn = k(Xs, Xs) + (sn2 + 1e-10) * np.eye(len(X))
    mean = gp.y_mean + k(Qs, Xs) @ np.linalg.solve(Kn, (Y - gp.y_mean) / gp.y_std) * gp.y_std
    assert _rel(gp.predict(q).mean, mean) < 1e-9


def test_added_gradient_observations_are_interpolated():
    X, Y, dY = _data(24, 7)
    gp = GaussianProcess("matern52", n_restarts=0, noise=1e-8).fit(X[:12], Y[:12],
                                                                  dY=dY[:12])
    gp.add(X[12:], Y[12:], dY[12:])
    p = gp.predict(X[12:], grad=True)
    assert np.allclose(p.mean, Y[12:], atol=1e-4 * np.abs(Y).max())
    assert np.allclose(p.grad, dY[12:], atol=1e-3 * np.abs(dY).max())


def test_schur_failure_falls_back_to_full_factorisation(monkeypatch, caplog):
    X, Y, dY = _data(20, 3)
    gp = GaussianProcess("matern52", n_restarts=0, noise=1e-4).fit(X[:12], Y[:12], dY=dY[:12])
    real, calls = gpmod.cholesky, []

    def schur_fails(a, **kw):  # the first call factors the Schur complement
        calls.append(len(a))
        if len(calls) == 1:
            raise np.linalg.LinAlgError("not positive definite")
        return real(a, **kw)

    monkeypatch.setattr(gpmod, "cholesky", schur_fails)
    with caplog.at_level(logging.INFO, logger="fe2.surrogate.gp"):
        gp.add(X[12:], Y[12:], dY[12:])
    assert calls == [8 * 3, 20 * 3]  # Schur complement, then the whole matrix
    assert "refactorising all 60 rows" in caplog.text
    ref = GaussianProcess.from_arrays(gp.config(), gp.to_arrays())
    q = np.random.default_rng(2).uniform(-1, 1, (10, 2))
    assert _rel(gp.predict(q).mean, ref.predict(q).mean) < 1e-10


def test_add_refuses_bad_input():
    X, Y, dY = _data(10, 0)
    with pytest.raises(RuntimeError, match="call fit first"):
        GaussianProcess().add(X, Y)
    gp = GaussianProcess(n_restarts=0).fit(X[:6], Y[:6])
    with pytest.raises(ValueError, match="dY must be given exactly"):
        gp.add(X[6:], Y[6:], dY[6:])
    with pytest.raises(ValueError, match="expected 2 input and 2 output columns"):
        gp.add(X[6:, :1], Y[6:])
    with pytest.raises(ValueError, match="non-finite"):
        gp.add(X[6:] * np.nan, Y[6:])
    with pytest.raises(ValueError, match="incremental must be true or false"):
        AdaptiveSurrogate(SeriesLaminate([1.0, 10.0], [0.4, 0.6], 3.0), incremental=1)


@pytest.mark.parametrize("grads", [False, True])
def test_adaptive_surrogate_incremental_gives_the_refit_answers(grads):
    """Learning on the fly: same oracle calls and answers with and without the update."""
    lam = SeriesLaminate([1.0, 10.0], [0.4, 0.6], 3.0)
    out = []
    for inc in (True, False):
        s = AdaptiveSurrogate(lam, tol=1e-3, gradients=grads, incremental=inc,
                              reoptimize_every=1000)
        s.fit(sample_box([-1.0], [1.0], 8))
        fl = [s.evaluate(g[None]).flux for g in np.random.default_rng(1).uniform(-1, 1,
                                                                                  (12, 5))]
        out.append((s.stats, np.concatenate(fl, axis=-1)))
    assert out[0][0] == out[1][0]
    assert out[0][0]["oracle_calls"] > 0 and out[0][0]["training_points"] > 8
    assert _rel(out[0][1], out[1][1]) < 1e-8
