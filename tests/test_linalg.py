"""Linear-solver layer: every backend solves the same scikit-fem systems alike."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
import skfem
from skfem.models.elasticity import lame_parameters, linear_elasticity
from skfem.models.poisson import laplace, unit_load

import fe2.linalg as la
from fe2.linalg import SolverError

# -- problems ----------------------------------------------------------------------------------


def _poisson2d():
    basis = skfem.Basis(skfem.MeshTri().refined(5), skfem.ElementTriP1())
    A = laplace.assemble(basis)
    b = unit_load.assemble(basis)
    A, b, _, _ = skfem.condense(A, b, D=basis.get_dofs())
    return {"A": A, "b": b, "modes": None, "bs": None}


def _elasticity(mesh, elem):
    basis = skfem.Basis(mesh, skfem.ElementVector(elem))
    d = mesh.dim()
    K = linear_elasticity(*lame_parameters(1.0, 0.3)).assemble(basis)

    @skfem.LinearForm
    def load(v, w):
        return v[d - 1] + 0.3 * v[0] * w.x[1]

    f = load.assemble(basis)
    D = basis.get_dofs(lambda x: np.isclose(x[0], 0.0)).all()
    A, b, _, I = skfem.condense(K, f, D=D)
    modes = la.rigid_body_modes(mesh.p, basis.nodal_dofs)
    return {"A": A, "b": b, "modes": modes[I], "bs": d, "K": K, "f": f, "D": D, "I": I,
            "all_modes": modes}


def _elasticity2d():
    return _elasticity(skfem.MeshTri().refined(4), skfem.ElementTriP1())


def _elasticity3d():
    g = np.linspace(0.0, 1.0, 7)
    return _elasticity(skfem.MeshTet.init_tensor(g, g, g), skfem.ElementTetP1())


PROBLEMS = {"poisson2d": _poisson2d, "elasticity2d": _elasticity2d, "elasticity3d": _elasticity3d}


@pytest.fixture(scope="module", params=list(PROBLEMS))
def problem(request):
    return PROBLEMS[request.param]()


@pytest.fixture(scope="module")
def elast2d():
    return _elasticity2d()


def _relerr(x, ref):
    return np.linalg.norm(x - ref) / np.linalg.norm(ref)


# -- scipy ----------------------------------------------------------------------------------------


def test_all_names_exist():
    for name in la.__all__:
        assert hasattr(la, name), name


def test_scipy_direct_and_cg_agree(problem):
    A, b = problem["A"], problem["b"]
    x = la.scipy_direct()(A, b)
    assert np.linalg.norm(A @ x - b) <= 1e-12 * np.linalg.norm(b)
    for pc in ("jacobi", "ilu", None):
        solve = la.scipy_cg(rtol=1e-13, preconditioner=pc)
        assert _relerr(solve(A, b), x) < 1e-8
        assert solve.stats.iterations > 0


def test_cholesky_direct_agrees_reuses_and_refuses(problem):
    """The sparse Cholesky solver solves the SPD problems like SuperLU, reuses its analysis
    for a new matrix of the same pattern, and refuses indefinite or non-symmetric ones."""
    A, b = problem["A"], problem["b"]
    ref = la.scipy_direct()(A, b)
    solve = la.make_solver("cholesky")
    assert _relerr(solve(A, b), ref) < 1e-10
    B = np.stack([b, 2.0 * b + 1.0], axis=1)
    X = solve(3.0 * A, B)  # same pattern, new values: analysis reused, one factorization
    assert _relerr(X[:, 0], ref / 3.0) < 1e-10
    assert solve.stats.factorizations == 2 and solve.stats.reuses == 1 and solve.stats.rhs == 3
    solve(3.0 * A, b)  # same values: the factors are reused
    assert solve.stats.factorizations == 2
    with pytest.raises(SolverError, match="positive definite.*column"):
        solve(A - 10.0 * sp.eye_array(A.shape[0]) * abs(A).max(), b)
    N = sp.csr_array(np.array([[2.0, 1.0], [0.0, 2.0]]))  # not symmetric: upper part ignored
    with pytest.raises(SolverError, match="symmetric"):
        la.cholesky_direct()(N, np.ones(2))


def test_skfem_solve_accepts_our_solver(elast2d):
    e = elast2d
    u = skfem.solve(*skfem.condense(e["K"], e["f"], D=e["D"]), solver=la.scipy_direct())
    assert np.all(u[e["D"]] == 0.0)
    assert _relerr(u[e["I"]], la.factorize(e["A"]).solve(e["b"])) < 1e-12


def test_direct_reuse_pattern_and_values(elast2d):
    A, b = elast2d["A"], elast2d["b"]
    solve = la.scipy_direct(reuse=True)
    x1 = solve(A, b)
    assert solve.stats == la.SolverStats(calls=1, rhs=1, factorizations=1, reuses=0)
    nnz_first = solve.factorization.nnz
    # same pattern, new values: ordering reused, new numeric factorization
    A2 = A.copy()
    A2.data *= 2.0
    x2 = solve(A2, b)
    assert solve.stats.factorizations == 2 and solve.stats.reuses == 1
    assert solve.factorization.nnz == nnz_first  # reused ordering: same fill
    assert _relerr(x2, 0.5 * x1) < 1e-12
    # bit-identical matrix: the factorization itself is reused
    x3 = solve(A2.copy(), 3.0 * b)
    assert solve.stats.factorizations == 2 and solve.stats.reuses == 2
    assert _relerr(x3, 1.5 * x1) < 1e-12
    # same answers without reuse
    fresh = la.scipy_direct(reuse=False)
    assert _relerr(fresh(A2, b), x2) < 1e-12
    assert fresh.stats.reuses == 0
    # a different pattern is analysed afresh
    B = sp.diags(np.arange(1.0, 5.0)).tocsr()
    np.testing.assert_allclose(solve(B, np.ones(4)), 1.0 / np.arange(1.0, 5.0))
    assert solve.stats.factorizations == 3 and solve.stats.reuses == 2


def test_reuse_with_nonsymmetric_matrix():
    rng = np.random.default_rng(1)
    n = 60
    A = sp.random_array((n, n), density=0.1, rng=rng) + sp.eye_array(n) * 5.0
    A = sp.csr_array(A)
    b = rng.standard_normal(n)
    solve = la.scipy_direct()
    solve(A, b)
    A2 = A.copy()
    A2.data = rng.standard_normal(A2.nnz) + np.where(A2.indices == np.repeat(
        np.arange(n), np.diff(A2.indptr)), 6.0, 0.0)
    x = solve(A2, b)
    assert solve.stats.reuses == 1
    assert np.linalg.norm(A2 @ x - b) < 1e-10 * np.linalg.norm(b)


def test_multiple_rhs_one_factorization(elast2d):
    A, b = elast2d["A"], elast2d["b"]
    B = np.column_stack([b, 2.0 * b, np.arange(b.size, dtype=float)])
    solve = la.scipy_direct()
    X = solve(A, B)
    assert X.shape == B.shape
    assert solve.stats.factorizations == 1 and solve.stats.rhs == 3
    lu = la.factorize(A)
    for j in range(3):
        assert _relerr(X[:, j], lu.solve(B[:, j])) < 1e-12
    cg = la.scipy_cg(rtol=1e-13)
    Xc = cg(A, B)
    assert cg.stats.factorizations == 1 and cg.stats.rhs == 3
    assert _relerr(Xc, X) < 1e-8


def test_singular_matrix_raises(elast2d):
    K = elast2d["K"]  # no Dirichlet condition: rigid-body modes
    b = np.random.default_rng(0).standard_normal(K.shape[0])
    with pytest.raises(SolverError, match="singular: check Dirichlet"):
        la.scipy_direct()(K, b)
    with pytest.raises(SolverError, match="singular"):
        la.factorize(K).solve(b)
    Z = sp.csr_array(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(SolverError, match="singular"):
        la.scipy_direct()(Z, np.ones(2))
    with pytest.raises(SolverError, match="singular"):
        la.scipy_cg()(Z, np.ones(2))
    with pytest.raises(SolverError, match=r"did not converge in 5 iterations"):
        la.scipy_cg(maxiter=5)(K, b)


def test_bad_input():
    with pytest.raises(ValueError, match="square"):
        la.scipy_direct()(sp.csr_array(np.ones((2, 3))), np.ones(2))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        la.scipy_direct()(sp.eye_array(2).tocsr(), np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        la.scipy_direct()(sp.eye_array(2).tocsr(), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="preconditioner"):
        la.scipy_cg(preconditioner="amg")


def test_rigid_body_modes_are_the_kernel(elast2d):
    K, R = elast2d["K"], elast2d["all_modes"]
    assert R.shape == (K.shape[0], 3)
    assert np.abs(K @ R).max() < 1e-12 * abs(K).max()
    assert np.linalg.matrix_rank(R) == 3
    g = np.linspace(0.0, 1.0, 3)
    m = skfem.MeshTet.init_tensor(g, g, g)
    basis = skfem.Basis(m, skfem.ElementVector(skfem.ElementTetP1()))
    K3 = linear_elasticity(1.0, 1.0).assemble(basis)
    R3 = la.rigid_body_modes(m.p, basis.nodal_dofs)
    assert np.array_equal(basis.nodal_dofs, 3 * np.arange(m.nvertices) + np.arange(3)[:, None])
    np.testing.assert_array_equal(R3, la.rigid_body_modes(m.p))  # interleaved default
    assert np.abs(K3 @ R3).max() < 1e-12 * abs(K3).max()
    assert np.linalg.matrix_rank(R3) == 6
    with pytest.raises(ValueError, match="coords"):
        la.rigid_body_modes(np.zeros((4, 3)))


def test_make_solver(monkeypatch):
    assert isinstance(la.make_solver("scipy"), type(la.scipy_direct()))
    assert la.make_solver("direct", reuse=False).reuse is False
    assert la.make_solver("cg", rtol=1e-6, preconditioner="ilu").preconditioner == "ilu"
    with pytest.raises(ValueError, match="valid names: 'scipy', 'direct', 'cg'"):
        la.make_solver("umfpack")
    with pytest.raises(ValueError, match="'tol'"):
        la.make_solver("cg", tol=1e-6)
    monkeypatch.setattr(la, "petsc_available", lambda: False)
    with pytest.raises(ImportError, match=r"pip install fe2\[petsc\]"):
        la.make_solver("petsc", prefix="macro_")
    with pytest.raises(ValueError, match="prefix"):
        la.make_solver("petsc-direct")


def test_import_without_petsc4py():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["petsc4py"] = None  # makes `import petsc4py` fail
        import fe2.linalg as la
        assert not la.petsc_available()
        for make in (lambda: la.make_solver("petsc", prefix="m_"), lambda: la.petsc_direct("m_")):
            try:
                make()
            except ImportError as err:
                print(err)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.count("pip install fe2[petsc]") == 2, out.stdout + out.stderr


# -- PETSc ----------------------------------------------------------------------------------------


@pytest.fixture
def PETSc():
    pytest.importorskip("petsc4py")
    from fe2.linalg.petsc_backend import import_petsc

    return import_petsc()


@pytest.mark.petsc
def test_petsc_solvers_agree_with_scipy(PETSc, problem):
    A, b, modes, bs = problem["A"], problem["b"], problem["modes"], problem["bs"]
    x = la.scipy_direct()(A, b)
    solvers = {
        "cg+gamg": la.petsc_krylov("t_cg_", rtol=1e-13, near_nullspace=modes, block_size=bs),
        "gmres+gamg": la.petsc_krylov("t_gmres_", rtol=1e-13, spd=False, near_nullspace=modes),
        "gmres+ilu": la.petsc_krylov(
            "t_ilu_", options={"ksp_type": "gmres", "pc_type": "ilu"}, rtol=1e-13
        ),
        "lu": la.petsc_direct("t_lu_"),
        "cholesky": la.petsc_direct("t_chol_", spd=True),
    }
    for name, solve in solvers.items():
        with solve:
            xp = solve(A, b)
            assert _relerr(xp, x) < 1e-8, name
            if name.startswith("gmres"):
                assert solve.ksp.getType() == "gmres"
                assert solve.ksp.getPCSide() == PETSc.PC.Side.RIGHT
            if name == "gmres+ilu":
                assert solve.ksp.getPC().getType() == "ilu"
            if modes is not None and "gamg" in name:
                assert solve.mat.getNearNullSpace().handle != 0
    assert all(s.destroyed for s in solvers.values())


@pytest.mark.petsc
def test_petsc_reuse_and_multiple_rhs(PETSc, elast2d):
    A, b = elast2d["A"], elast2d["b"]
    x = la.scipy_direct()(A, b)
    with la.petsc_krylov(
        "t_reuse_", rtol=1e-13, near_nullspace=elast2d["modes"], block_size=2
    ) as solve:
        np.testing.assert_allclose(solve(A, b), x, rtol=0, atol=1e-8 * np.abs(x).max())
        mat = solve.mat
        A2 = A.copy()
        A2.data *= 4.0
        assert _relerr(solve(A2, b), 0.25 * x) < 1e-8
        assert solve.mat is mat  # values updated in place
        X = solve(A2.copy(), np.column_stack([b, -b]))
        assert _relerr(X[:, 0], 0.25 * x) < 1e-8 and _relerr(X[:, 1], -0.25 * x) < 1e-8
        s = solve.stats
        assert (s.calls, s.rhs, s.factorizations, s.reuses) == (3, 4, 2, 2)
        assert s.iterations >= 4
    with la.petsc_direct("t_reuse_lu_") as lu:
        lu(A, b)
        y = lu(A2, b)
        assert _relerr(y, 0.25 * x) < 1e-10
        assert lu.stats.factorizations == 2 and lu.stats.reuses == 1 and lu.stats.iterations == 2


@pytest.mark.petsc
def test_petsc_pattern_change_rebuilds_matrix(PETSc):
    p = _poisson2d()
    e = _elasticity3d()
    with la.petsc_krylov("t_change_", rtol=1e-13) as solve:
        for prob in (p, e, p):
            x = la.scipy_direct()(prob["A"], prob["b"])
            assert _relerr(solve(prob["A"], prob["b"]), x) < 1e-8
        assert solve.stats.reuses == 0 and solve.stats.factorizations == 3


@pytest.mark.petsc
def test_petsc_singular_and_nonconvergence(PETSc, elast2d):
    K = elast2d["K"]
    b = np.random.default_rng(0).standard_normal(K.shape[0])
    with la.petsc_direct("t_sing_") as solve:
        with pytest.raises(SolverError, match="singular"):
            solve(K, b)
    Z = sp.csr_array((np.array([1.0, 0.0]), np.array([0, 1]), np.array([0, 1, 2])))
    assert Z.nnz == 2  # explicit zero on the diagonal
    with la.petsc_direct("t_sing2_") as solve:
        with pytest.raises(SolverError, match=r"singular.*ZEROPIVOT"):
            solve(Z, np.ones(2))
    Z.eliminate_zeros()
    with la.petsc_direct("t_sing3_") as solve:
        with pytest.raises(SolverError, match=r"missing diagonal.*singular"):
            solve(Z, np.ones(2))
    with la.petsc_krylov("t_maxit_", max_it=7) as solve:
        with pytest.raises(SolverError, match=r"DIVERGED_\w+ after \d+ iterations, residual"):
            solve(K, b)


@pytest.mark.petsc
@pytest.mark.parametrize("prefix", ["macro", "", "-macro_", None, "a b_"])
def test_petsc_bad_prefix(PETSc, prefix):
    with pytest.raises(ValueError, match="prefix"):
        la.petsc_krylov(prefix)
    with pytest.raises(ValueError, match="prefix"):
        la.petsc_direct(prefix)


@pytest.mark.petsc
def test_petsc_options_and_database_hygiene(PETSc, elast2d, caplog):
    with pytest.raises(ValueError, match="PETSc rejected the options"):
        la.petsc_krylov("t_bad_", options={"ksp_type": "no_such_krylov"})
    with pytest.raises(ValueError, match="without prefix"):
        la.petsc_krylov("t_bad_", options={"-ksp_type": "cg"})
    opts = {"ksp_type": "gmres", "pc_type": "ilu", "ksp_max_it": 500, "pc_gmres_typo": 1}
    with la.petsc_krylov("t_opts_", options=opts, rtol=1e-12) as solve:
        assert solve.ksp.getType() == "gmres" and solve.ksp.getPC().getType() == "ilu"
        rtol, _, _, max_it = solve.ksp.getTolerances()
        assert (rtol, max_it) == (1e-12, 500)  # the dict beats the max_it default
        solve(elast2d["A"], elast2d["b"])
    assert "t_opts_pc_gmres_typo" in caplog.text
    left = [k for k in PETSc.Options().getAll() if k.startswith("t_")]
    assert left == []


@pytest.mark.petsc
def test_petsc_objects_destroyed(PETSc, elast2d):
    solve = la.make_solver("petsc", prefix="t_destroy_", near_nullspace=elast2d["modes"])
    solve(elast2d["A"], elast2d["b"])
    handles = [solve.ksp, solve.mat, solve._x, solve._b, solve._nullspace, *solve._ns_vecs]
    assert all(h.handle != 0 for h in handles)
    solve.destroy()
    assert solve.destroyed and solve.ksp is None and solve.mat is None
    assert all(h.handle == 0 for h in handles)
    solve.destroy()  # idempotent
    with pytest.raises(SolverError, match="destroyed"):
        solve(elast2d["A"], elast2d["b"])
    with la.make_solver("petsc-direct", prefix="t_destroy2_") as direct:
        ksp = direct.ksp
    assert ksp.handle == 0 and direct.destroyed


@pytest.mark.petsc
def test_petsc_start_keeps_python_sigpipe_handling():
    """PETSc's default signal handler turns SIGPIPE (a write to a dead worker's pipe)
    into an abort; after fe2 starts PETSc the write must raise BrokenPipeError."""
    import subprocess

    pytest.importorskip("petsc4py")
    code = (
        "import os\n"
        "from fe2.linalg import petsc_krylov, petsc_available\n"
        "assert petsc_available()\n"
        "r, w = os.pipe(); os.close(r)\n"
        "try:\n"
        "    os.write(w, b'x')\n"
        "except BrokenPipeError:\n"
        "    print('broken pipe raised')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, (res.returncode, res.stderr[-500:])
    assert "broken pipe raised" in res.stdout
