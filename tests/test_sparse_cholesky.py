"""Supernodal sparse Cholesky (fe2.linalg.cholesky) against dense and SuperLU references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import skfem
from scipy.sparse.linalg import splu
from skfem.models.elasticity import lame_parameters, linear_elasticity

from fe2.linalg.cholesky import (
    CholeskyFactor,
    NotPositiveDefinite,
    SparseCholesky,
    cholesky,
    mmd_ordering,
)

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


def _dense_fill_count(A, perm) -> int:
    """Entries of the Cholesky factor of A[perm][:, perm] by dense symbolic elimination."""
    C = sp.csr_matrix(A)[perm][:, perm].toarray() != 0
    C = C | C.T
    n = C.shape[0]
    for k in range(n):
        rows = k + 1 + np.flatnonzero(C[k + 1 :, k])
        C[np.ix_(rows, rows)] = True
    return int(np.tril(C).sum())


def _rel_err(x, ref) -> float:
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


MATRICES = {
    "poisson2d": lambda: _poisson2d(17, 13),
    "elasticity": _elasticity,
    "random": lambda: _random_spd(300, 0.01, seed=1),
}


# -- solves ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["default", "given", "natural"])
@pytest.mark.parametrize("name", list(MATRICES))
def test_solve_matches_dense(name, ordering):
    A = MATRICES[name]()
    n = A.shape[0]
    rng = np.random.default_rng(0)
    perm = {"default": None, "given": rng.permutation(n), "natural": np.arange(n)}[ordering]
    S = SparseCholesky(A, perm=perm)
    F = S.factor(A)
    assert isinstance(F, CholeskyFactor)
    Ad = A.toarray()
    b = rng.standard_normal(n)
    x = F.solve(b)
    assert x.shape == (n,)
    assert _rel_err(x, np.linalg.solve(Ad, b)) < 1e-10
    B = rng.standard_normal((n, 3))
    X = F.solve(B)
    assert X.shape == (n, 3)
    assert _rel_err(X, np.linalg.solve(Ad, B)) < 1e-10
    np.testing.assert_allclose(X[:, 1], F.solve(B[:, 1]), rtol=1e-13, atol=1e-13)
    assert F.solve(B[:, :1]).shape == (n, 1)
    # the ordering used is a permutation with the same fill as the one given
    assert np.array_equal(np.sort(S.perm), np.arange(n))
    if perm is not None:
        assert S.nnz_L == _dense_fill_count(A, perm)


def test_reuse_analysis_for_new_values():
    A = _elasticity()
    n = A.shape[0]
    rng = np.random.default_rng(2)
    d = sp.diags(rng.uniform(0.5, 2.0, n))
    A2 = (d @ A @ d).tocsr()  # same pattern, other values, still SPD
    A2.sort_indices()
    S = SparseCholesky(A)
    F1 = S.factor(A)
    F2 = S.factor(A2)
    b = rng.standard_normal(n)
    assert _rel_err(F2.solve(b), np.linalg.solve(A2.toarray(), b)) < 1e-10
    assert _rel_err(F1.solve(b), np.linalg.solve(A.toarray(), b)) < 1e-10  # F1 unchanged
    # other sparse formats with the same pattern are accepted
    assert _rel_err(S.factor(A2.tocsc()).solve(b), F2.solve(b)) < 1e-14
    assert _rel_err(S.factor(sp.coo_matrix(A2)).solve(b), F2.solve(b)) < 1e-14


def test_only_lower_triangle_is_read():
    A = _random_spd(120, 0.05, seed=3)
    lower, upper = sp.tril(A, format="csr"), sp.triu(A, 1, format="csr")
    garbage = (lower + 7.0 * upper).tocsr()  # same pattern, upper triangle wrong
    b = np.arange(120.0)
    x = SparseCholesky(A).factor(garbage).solve(b)
    assert _rel_err(x, np.linalg.solve(A.toarray(), b)) < 1e-10


def test_one_by_one_and_diagonal():
    F = cholesky(sp.csr_array(np.array([[4.0]])))
    np.testing.assert_allclose(F.solve(np.array([2.0])), [0.5])
    d = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    S = SparseCholesky(sp.diags_array(d).tocsr())
    assert (S.n, S.nnz_L, S.nnz_stored) == (5, 5, 5)
    X = S.factor(sp.diags_array(d)).solve(np.ones((5, 2)))
    np.testing.assert_allclose(X, np.repeat(1.0 / d[:, None], 2, axis=1))


def test_disconnected_pattern():
    blocks = [_poisson2d(6), sp.diags_array([3.0, 5.0]), _random_spd(40, 0.1, seed=4)]
    A = sp.block_diag(blocks, format="csr")
    n = A.shape[0]
    b = np.linspace(-1.0, 1.0, n)
    x = cholesky(A).solve(b)
    assert _rel_err(x, np.linalg.solve(A.toarray(), b)) < 1e-10


def test_non_canonical_input_and_empty_matrix():
    A = _poisson2d(6).tocoo()
    # split every entry into two duplicates, in shuffled order
    rng = np.random.default_rng(7)
    order = rng.permutation(2 * A.nnz)
    rows = np.concatenate([A.row, A.row])[order]
    cols = np.concatenate([A.col, A.col])[order]
    vals = np.concatenate([0.25 * A.data, 0.75 * A.data])[order]
    dup = sp.coo_matrix((vals, (rows, cols)), shape=A.shape)
    b = np.ones(36)
    np.testing.assert_allclose(cholesky(dup).solve(b), cholesky(A).solve(b), rtol=1e-14)
    F = cholesky(sp.csr_matrix((0, 0)))
    assert F.solve(np.zeros(0)).shape == (0,) and F.symbolic.nnz_L == 0


def test_complex_rhs():
    A = _poisson2d(8)
    b = np.arange(64.0) + 1j * np.ones(64)
    x = cholesky(A).solve(b)
    np.testing.assert_allclose(A @ x, b, atol=1e-12)


# -- errors ------------------------------------------------------------------------------------


def test_indefinite_names_column_and_pivot():
    d = np.array([1.0, 2.0, -3.0, 4.0])
    with pytest.raises(NotPositiveDefinite, match=r"pivot -3 at column 2") as info:
        cholesky(sp.diags_array(d).tocsr())
    assert info.value.column == 2 and info.value.pivot == -3.0
    # an indefinite 2x2 block [[1, 2], [2, 1]] on original columns 5, 6 of an SPD matrix:
    # whichever of the two is eliminated second has the pivot 1 - 2 * 2 / 1 = -3
    A = sp.lil_matrix(_poisson2d(4))
    A[5, :] = 0.0
    A[:, 5] = 0.0
    A[6, :] = 0.0
    A[:, 6] = 0.0
    A[5, 5] = A[6, 6] = 1.0
    A[5, 6] = A[6, 5] = 2.0
    with pytest.raises(NotPositiveDefinite) as info:
        cholesky(A.tocsr())
    assert info.value.column in (5, 6)
    assert info.value.pivot == pytest.approx(-3.0)
    assert f"column {info.value.column}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_failing_pivot_inside_a_large_supernode():
    # dense pattern: one supernode of 40 columns, factorized in column blocks;
    # the leading 35 x 35 block is SPD, the 36th pivot is about 1.001 - 2 - 0.0035 < 0
    n = 40
    A = np.eye(n) + 1e-3 * np.ones((n, n))
    A[35, 35] -= 2.0
    S = SparseCholesky(sp.csr_array(A), perm=np.arange(n))
    assert S.n_supernodes == 1
    with pytest.raises(NotPositiveDefinite) as info:
        S.factor(sp.csr_array(A))
    assert info.value.column == 35
    ref = A[35, 35] - A[35, :35] @ np.linalg.solve(A[:35, :35], A[:35, 35])
    assert info.value.pivot == pytest.approx(ref, rel=1e-12)


def test_not_finite_pivot():
    A = _poisson2d(5).tocsr()
    A.data[3] = np.nan
    with pytest.raises(NotPositiveDefinite):
        cholesky(A)
    with pytest.raises(NotPositiveDefinite):
        cholesky(sp.csr_array(np.array([[1.0, 0.0], [0.0, np.inf]])))


def test_shifted_poisson_is_not_positive_definite():
    A = _poisson2d(10) - 0.5 * sp.eye(100)  # smallest eigenvalue 4 - 4 cos(pi/11) - 0.5 < 0
    with pytest.raises(NotPositiveDefinite) as info:
        cholesky(A.tocsr())
    assert 0 <= info.value.column < 100 and info.value.pivot <= 0.0


def test_pattern_and_shape_errors():
    A = _poisson2d(5)
    S = SparseCholesky(A)
    other = (A + sp.csr_array(([1.0, 1.0], ([0, 24], [24, 0])), shape=(25, 25))).tocsr()
    with pytest.raises(ValueError, match="pattern"):
        S.factor(other)
    with pytest.raises(ValueError, match="pattern"):
        S.factor(_poisson2d(6))
    with pytest.raises(ValueError, match="square"):
        SparseCholesky(sp.random_array((3, 4), density=0.5, format="csr"))
    with pytest.raises(ValueError, match="square"):
        S.factor(sp.csr_array((25, 24)))
    with pytest.raises(ValueError, match="permutation"):
        SparseCholesky(A, perm=np.zeros(25, dtype=int))
    with pytest.raises(ValueError, match="shape"):
        S.factor(A).solve(np.ones(24))


# -- symbolic analysis -------------------------------------------------------------------------


def test_nnz_L_matches_dense_symbolic_fill():
    for A in (_poisson2d(9, 7), _random_spd(150, 0.02, seed=5), _elasticity()):
        S = SparseCholesky(A)
        assert S.nnz_L == _dense_fill_count(A, S.perm)
        assert S.nnz_L <= S.nnz_stored
        assert 1 <= S.n_supernodes <= A.shape[0]


def test_mmd_ordering_is_superlus():
    A = _periodic_cell(12)
    n = A.shape[0]
    M = sp.csr_matrix((-np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
    M.setdiag(np.diff(A.indptr) + 1.0)
    lu = splu(
        M.tocsc(),
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    q = np.argsort(lu.perm_c)
    np.testing.assert_array_equal(mmd_ordering(A), q)
    assert SparseCholesky(A).nnz_L == _dense_fill_count(A, q)
    assert n == 2 * 12 * 12 - 2


def test_periodic_cell_fill_and_solve_against_superlu():
    """The RVE-like matrix: nnz(L) no larger than SuperLU's L with the same ordering."""
    A = _periodic_cell(32)
    n = A.shape[0]
    S = SparseCholesky(A)
    q = mmd_ordering(A)
    lu = splu(
        A[q][:, q].tocsc(),
        permc_spec="NATURAL",
        diag_pivot_thresh=1e-3,
        options={"SymmetricMode": True},
    )
    assert S.nnz_L <= lu.L.nnz
    assert S.nnz_L > 10 * A.nnz // 2  # real fill, not a trivial count
    b = np.random.default_rng(6).standard_normal((n, 4))
    X = S.factor(A).solve(b)
    x_lu = np.empty_like(b)
    x_lu[q] = lu.solve(b[q])
    assert _rel_err(X, x_lu) < 1e-9
    assert np.linalg.norm(A @ X - b) / np.linalg.norm(b) < 1e-12


def test_factor_too_large_for_memory_is_a_clear_error(monkeypatch):
    """The analysis estimates the factor's memory from its column counts and refuses,
    naming the size and the way out, instead of failing somewhere in an allocation."""
    import fe2.linalg.cholesky as ch

    A = sp.random(50, 50, density=0.1, random_state=0)
    A = (A + A.T + 20.0 * sp.eye(50)).tocsr()
    monkeypatch.setattr(ch, "_available_bytes", lambda: 1000.0)
    with pytest.raises(MemoryError, match=r"50 x 50 matrix has [\d,]+ nonzeros.*petsc_krylov"):
        ch.SparseCholesky(A)
