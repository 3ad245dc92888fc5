"""FE-HMM answers do not depend on how the points are batched or where they are solved.

Every macro point's micro problem is solved on its own: the same tensor for a
point alone, in one batch with others, in chunks of one, and in a process pool
(to 1e-12 relative). The coefficient is locally periodic with a high contrast
(``exp(12)``), and the points lie close together, so their micro problems are
different but similar: the case where reusing one point's factors as the
preconditioner of the next point's Krylov solve changed the answers (by about
5e-12 relative). The answers are also checked against the closed form
``A_0(x) = c(x) I`` (Keller duality) to the micro discretisation error.
"""

from __future__ import annotations

import numpy as np
import pytest

from fe2.homogenization import HMMSampler
from fe2.oracle import evaluate
from fe2.parallel import make_executor
from verification.fe_hmm import graded_keller

RTOL = 1e-12
X = np.array([[0.3], [0.6]]) + 3e-4 * np.random.default_rng(7).uniform(size=(2, 9))
G = np.random.default_rng(8).normal(size=(2, 9))


def _sampler(dense_limit: int = 200) -> HMMSampler:
    # micro_h = eps / 16, Q1 on the periodic box: 255 unknowns, above the default
    # dense_limit (one sparse factorization per point); dense_limit=1000: batched dense LU
    return HMMSampler(graded_keller, eps=0.05, delta=0.05, micro_h=0.05 / 16,
                      dense_limit=dense_limit)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * np.abs(b).max())


@pytest.mark.parametrize("dense_limit", [200, 1000])
def test_batched_equals_one_point_at_a_time_and_closed_form(dense_limit):
    hmm = _sampler(dense_limit)
    together = hmm.effective_tensor(X)
    c = 1.0 + X[0] + 0.5 * X[1] ** 2
    np.testing.assert_allclose(together, np.eye(2)[..., None] * c, atol=0.05 * c.max())
    for p in range(X.shape[1]):
        _close(_sampler(dense_limit).effective_tensor(X[:, p : p + 1])[..., 0], together[..., p])
    for p in reversed(range(X.shape[1])):  # one sampler, points in another order
        _close(hmm.effective_tensor(X[:, p : p + 1])[..., 0], together[..., p])


def test_serial_chunked_and_process_pool_agree():
    serial = _sampler().evaluate(G, x=X)
    ones = evaluate(_sampler(), G, x=X, chunk_size=1)
    _close(ones.tangent, serial.tangent)
    _close(ones.flux, serial.flux)
    with make_executor("process", 2) as ex:
        par = evaluate(_sampler(), G, x=X, executor=ex, chunk_size=4)
    _close(par.tangent, serial.tangent)
    _close(par.flux, serial.flux)
