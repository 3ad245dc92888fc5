"""CHOLMOD sparse Cholesky (fe2.linalg.cholmod) and the factor-then-Krylov micro solver
(fe2.linalg.FactorKrylov) against dense LAPACK solves."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import skfem
from skfem.models.elasticity import lame_parameters, linear_elasticity

import fe2.linalg as la
from fe2.linalg.cholmod import NotPositiveDefinite, SparseCholesky, cholesky

# -- matrices ----------------------------------------------------------------------------------


def _poisson2d(nx: int, ny: int | None = None) -> sp.csr_array:
    """5-point finite-difference Laplacian on an nx x ny grid (Dirichlet), SPD."""
    ny = nx if ny is None else ny

    def t(k):
        return sp.diags_array(
            [-np.ones(k - 1), 2.0 * np.ones(k), -np.ones(k - 1)], offsets=[-1, 0, 1]
        )

    return sp.csr_array(sp.kron(t(ny), sp.eye(nx)) + sp.kron(sp.eye(ny), t(nx)))


def _elasticity() -> sp.csr_matrix:
    """P1 plane elasticity on the unit square, clamped on x = 0 (scikit-fem)."""
    basis = skfem.Basis(skfem.MeshTri().refined(4), skfem.ElementVector(skfem.ElementTriP1()))
    K = linear_elasticity(*lame_parameters(1.0, 0.3)).assemble(basis)
    D = basis.get_dofs(lambda x: np.isclose(x[0], 0.0)).all()
    return skfem.condense(K, D=D, expand=False).tocsr()


def _random_spd(n: int, density: float, seed: int) -> sp.csr_array:
    """Random sparse pattern, symmetrized, diagonal shifted to make it SPD."""
    rng = np.random.default_rng(seed)
    R = sp.random_array((n, n), density=density, rng=rng, format="csr")
    S = R + R.T
    return sp.csr_array(S + sp.diags_array(np.abs(S).sum(axis=1) + 1.0))


def _periodic_cell(N: int = 32) -> sp.csr_matrix:
    """Periodic P1 elasticity stiffness of a 2D cell (2 dofs per node), one node fixed.

    Same kind of matrix as the RVE solver's reduced periodic stiffness: the
    pattern of a triangulated torus with two unknowns per node.
    """
    x = np.linspace(0.0, 1.0, N + 1)
    mesh = skfem.MeshTri.init_tensor(x, x)
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementTriP1()))
    K = linear_elasticity(*lame_parameters(1.0, 0.3)).assemble(basis)
    # node -> periodic node (ix mod N, iy mod N)
    ix = np.rint(mesh.p[0] * N).astype(int) % N
    iy = np.rint(mesh.p[1] * N).astype(int) % N
    node = ix + N * iy
    nd = basis.nodal_dofs  # (2, nnodes)
    rows = np.concatenate([nd[0], nd[1]])
    cols = np.concatenate([2 * node, 2 * node + 1])
    P = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(basis.N, 2 * N * N))
    Kp = (P.T @ K @ P).tocsr()
    keep = np.arange(2, 2 * N * N)  # fix node 0 (rigid translations)
    return Kp[keep][:, keep].tocsr()


def _rel_err(x, ref) -> float:
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


MATRICES = {
    "poisson2d": lambda: _poisson2d(17, 13),
    "elasticity": _elasticity,
    "random": lambda: _random_spd(300, 0.01, seed=1),
    "periodic_cell": lambda: _periodic_cell(12),
}


@pytest.mark.parametrize("mode", ["supernodal", "simplicial"])
@pytest.mark.parametrize("ordering", ["default", "amd", "natural"])
@pytest.mark.parametrize("name", list(MATRICES))
def test_cholmod_solves_like_dense_lapack(name, ordering, mode):
    """x from CHOLMOD equals LAPACK's dense Cholesky solve to round-off, for one and for
    several right-hand sides; the factor is a permutation of the dense factor's pattern."""
    A = MATRICES[name]()
    rng = np.random.default_rng(0)
    b = rng.standard_normal((A.shape[0], 3))
    ref = scipy.linalg.cho_solve(scipy.linalg.cho_factor(A.toarray()), b)
    S = SparseCholesky(A, ordering=ordering, mode=mode)
    assert sorted(S.perm) == list(range(A.shape[0]))
    F = S.factor(A)
    assert _rel_err(F.solve(b), ref) < 1e-12
    assert _rel_err(F.solve(b[:, 0]), ref[:, 0]) < 1e-12
    # one analysis, new values: 2 A + I has the same pattern
    A2 = sp.csr_matrix(2 * A + sp.identity(A.shape[0]))
    F2 = S.factor(A2)
    ref2 = np.linalg.solve(A2.toarray(), b)
    assert _rel_err(F2.solve(b), ref2) < 1e-12
    assert _rel_err(F.solve(b), ref) < 1e-12  # the first factor is unchanged


@pytest.mark.parametrize("mode", ["supernodal", "simplicial"])
def test_cholmod_not_positive_definite_names_the_column(mode):
    d = np.array([1.0, 2.0, -3.0, 4.0])
    with pytest.raises(NotPositiveDefinite, match=r"column 2") as info:
        SparseCholesky(sp.diags(d), mode=mode).factor(sp.diags(d))
    assert info.value.column == 2
    A = _poisson2d(6)
    A = sp.lil_matrix(A)
    A[7, 7] = -50.0
    with pytest.raises(NotPositiveDefinite) as info:
        SparseCholesky(A, mode=mode).factor(A)
    assert info.value.column == 7
    with pytest.raises(NotPositiveDefinite, match="non-finite"):
        cholesky(sp.csr_matrix(np.array([[1.0, 0.0], [0.0, np.nan]])))
    with pytest.raises(ValueError, match="pattern"):
        SparseCholesky(_poisson2d(4)).factor(_poisson2d(5))
    with pytest.raises(ValueError, match="square"):
        SparseCholesky(sp.csr_matrix((3, 4)))


def test_cholesky_direct_solver_reuses_and_refuses():
    solve = la.make_solver("cholesky")
    A = _poisson2d(9)
    b = np.ones(A.shape[0])
    np.testing.assert_allclose(solve(A, b), np.linalg.solve(A.toarray(), b), rtol=1e-12)
    solve(2 * A, b)
    solve(2 * A, np.ones((A.shape[0], 2)))
    assert solve.stats.factorizations == 2 and solve.stats.reuses == 2
    with pytest.raises(la.SolverError, match="positive definite"):
        solve(-A, b)
    N = sp.csr_matrix(np.array([[2.0, 1.5], [0.0, 2.0]]))  # lower triangle read only
    with pytest.raises(la.SolverError, match="symmetric"):
        la.cholesky_direct()(N, np.ones(2))


# -- the factor-then-Krylov micro solver ---------------------------------------------------------


def _chain(n=40):
    lap = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n)).tolil()
    lap[0, n - 1] = lap[n - 1, 0] = -1.0  # periodic chain: singular, shifted below
    return lap.tocsr()


def test_factor_krylov_chooses_cholmod_or_superlu():
    """SPD systems by CHOLMOD, the others (non-symmetric, indefinite, zero diagonal) by
    SuperLU; all to round-off against LAPACK."""
    n = 40
    lap = _chain(n)
    spd = (lap + 0.1 * sp.eye(n)).tocsr()
    rng = np.random.default_rng(3)
    b = rng.standard_normal((n, 2))
    nonsym = spd.copy()
    nonsym.data = nonsym.data * (1.0 + 0.1 * rng.random(nonsym.nnz))
    indef = (lap - 0.5 * sp.eye(n)).tocsr()  # eigenvalues 2 - 2 cos(2 pi k / n) - 0.5
    for A, chol in ((spd, 1), (nonsym, 0), (indef, 0)):
        solve = la.FactorKrylov(max_krylov=0)
        x = solve(A, b)
        np.testing.assert_allclose(x, np.linalg.solve(A.toarray(), b), rtol=1e-10, atol=1e-12)
        assert solve.stats.factorizations == 1 and solve.stats.cholesky == chol
    K = spd.toarray()
    C = np.ones((1, n))
    saddle = sp.csr_matrix(np.block([[K, C.T], [C, np.zeros((1, 1))]]))
    solve = la.FactorKrylov(max_krylov=0)
    rhs = np.ones(n + 1)
    np.testing.assert_allclose(solve(saddle, rhs), np.linalg.solve(saddle.toarray(), rhs),
                               rtol=1e-10)
    assert solve.stats.cholesky == 0
    solve = la.FactorKrylov(cholesky=False)
    solve(spd, b)
    assert solve.stats.cholesky == 0 and solve.stats.factorizations == 1


def test_factor_krylov_gmres_reaches_the_asked_residual_and_gives_up_when_slow():
    A = _periodic_cell(10)
    n = A.shape[0]
    rng = np.random.default_rng(1)
    b = rng.standard_normal((n, 3))
    solve = la.FactorKrylov(max_krylov=30)
    solve(A, b)
    # near values: solved by GMRES with the factors of A, true residual below rtol
    A2 = A.copy()
    A2.data = A2.data * (1.0 + 0.02 * rng.random(A2.nnz))
    A2 = sp.csr_matrix(0.5 * (A2 + A2.T))
    for rtol in (1e-6, 1e-10):
        x = solve(A2, b, rtol=rtol)
        r = np.linalg.norm(b - A2 @ x, axis=0) / np.linalg.norm(b, axis=0)
        assert np.all(r <= rtol), (rtol, r)
    assert solve.stats.krylov == 2 and solve.stats.factorizations == 1
    assert solve.stats.krylov_iterations > 0
    # far values: GMRES would need too many iterations, so it gives up and factorizes
    A3 = sp.csr_matrix(A + 5.0 * sp.diags(rng.random(n)))
    x = solve(A3, b)
    np.testing.assert_allclose(x, np.linalg.solve(A3.toarray(), b), rtol=1e-9, atol=1e-12)
    assert solve.stats.factorizations == 2


def test_factor_krylov_reset_makes_answers_independent_of_history():
    """After reset() a solve gives bit for bit what a fresh solver gives."""
    A = _periodic_cell(8)
    rng = np.random.default_rng(2)
    b = rng.standard_normal(A.shape[0])
    A2 = sp.csr_matrix(A * 1.01)
    used = la.FactorKrylov()
    used(A, b)
    used.reset()
    assert np.array_equal(used(A2, b), la.FactorKrylov()(A2, b))


FORK_SCRIPT = """
import multiprocessing as mp, numpy as np, scipy.sparse as sp
from concurrent.futures import ProcessPoolExecutor
import fe2.linalg as la
def work(seed):
    n = 3000
    A = sp.random(n, n, density=0.002, random_state=seed)
    A = sp.csr_matrix(A + A.T + 20 * sp.eye(n))
    return float(la.FactorKrylov()(A, np.ones(n))[0])
if __name__ == "__main__":
    first = work(0)
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
        again = list(pool.map(work, [0, 0]))
    assert again == [first, first], (first, again)
    print("ok")
"""


def test_micro_solver_is_fork_safe(tmp_path):
    """A worker forked after the micro solver has factorized can factorize again (CHOLMOD's
    supernodal OpenMP team would hang it; small micro systems use the simplicial mode)."""
    import subprocess
    import sys

    script = tmp_path / "fork.py"
    script.write_text(FORK_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
