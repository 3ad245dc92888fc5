"""SciPy linear solvers: SuperLU direct (with reuse of the ordering) and CG.

Factories return callables ``solve(A, b) -> x`` in scikit-fem's ``solver_*``
style; ``A`` is a scipy sparse ``(n, n)`` matrix, ``b`` is ``(n,)`` or ``(n, k)``
(``k`` right-hand sides) and ``x`` has the shape of ``b``.

What ``scipy_direct(reuse=True)`` reuses
-----------------------------------------
SuperLU (``scipy.sparse.linalg.splu``) has no "same pattern" refactorization in
SciPy's interface, so the reuse is done from outside:

* first call (or a new sparsity pattern): ``splu`` with the fill-reducing column
  ordering (``permc_spec``, COLAMD by default). The final column permutation
  ``perm_c`` (COLAMD plus SuperLU's elimination-tree postorder) is kept, together
  with a gather map ``A.data -> (P^T A P).data`` in CSC layout;
* a later call with the same ``indptr``/``indices``: the matrix is permuted
  symmetrically with that map (one gather, no CSR->CSC conversion, no ordering)
  and factorized with ``permc_spec="NATURAL"``; the fill is identical;
* a later call with bit-identical values: the factorization itself is reused.

Measured (bench/macro_solvers.py, bench/RESULTS.md): the pattern reuse makes a
call about 1.2x faster for 2D Poisson with 2.6e5 DOFs (the ordering is a visible
part of the cost) and only 1.0-1.1x faster for 3D elasticity, where the numeric
factorization dominates. A call with an unchanged matrix costs only the
triangular solves.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg, spilu, splu

from fe2.linalg.base import (
    SINGULAR_HINT,
    Counters,
    PatternKey,
    SolverError,
    SolverStats,
    as_csr,
    as_rhs,
    check_residual,
)

__all__ = ["Factorization", "ScipyCG", "ScipyDirect", "factorize", "scipy_cg", "scipy_direct"]

log = logging.getLogger(__name__)

PermcSpec = Literal["COLAMD", "MMD_AT_PLUS_A", "MMD_ATA", "NATURAL"]
Preconditioner = Literal["jacobi", "ilu"] | None


def _splu(Acsc, permc_spec: str):
    try:
        return splu(Acsc, permc_spec=permc_spec)
    except RuntimeError as err:  # SuperLU: "Factor is exactly singular"
        raise SolverError(f"{SINGULAR_HINT} (SuperLU: {err})") from err


class Factorization:
    """LU factors of a sparse matrix (SuperLU), ready for many right-hand sides.

    Made by :func:`factorize` or by a :func:`scipy_direct` solver.

    Attributes
    ----------
    shape
        ``(n, n)``.
    nnz
        Nonzeros in the factors ``L + U``.
    """

    def __init__(self, A, lu, q: np.ndarray | None = None, residual_check: float | None = 1e-6):
        self._A = A
        self._lu = lu
        self._q = q  # symmetric permutation: factors are of A[q][:, q]
        self.residual_check = residual_check
        self.shape = A.shape
        self.nnz = int(lu.nnz)

    def solve(self, b) -> np.ndarray:
        """Solve ``A x = b``; ``b``: ``(n,)`` or ``(n, k)``, returns ``x`` of that shape."""
        b = as_rhs(b, self.shape[0])
        if self._q is None:
            x = self._lu.solve(b)
        else:
            x = np.empty_like(b)
            x[self._q] = self._lu.solve(b[self._q])
        check_residual(self._A, x, b, self.residual_check, "the LU solve")
        return x


def factorize(
    A, permc_spec: PermcSpec = "COLAMD", residual_check: float | None = 1e-6
) -> Factorization:
    """Factorize ``A`` once (SuperLU) for many later ``.solve(b)`` calls.

    Parameters
    ----------
    A
        scipy sparse ``(n, n)``.
    permc_spec
        SuperLU fill-reducing column ordering.
    residual_check
        ``solve`` raises :class:`SolverError` when the relative residual
        ``||b - A x|| / ||b||`` exceeds this (a numerically singular matrix);
        None skips the check (saves one mat-vec per solve).

    Raises
    ------
    SolverError
        The matrix is exactly singular.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> lu = factorize(sp.diags([2.0, 4.0]).tocsr())
    >>> lu.solve(np.array([2.0, 2.0]))
    array([1. , 0.5])
    """
    A = as_csr(A)
    return Factorization(A, _splu(A.tocsc(), permc_spec), None, residual_check)


class ScipyDirect:
    """Callable ``solve(A, b) -> x`` with SuperLU; made by :func:`scipy_direct`."""

    def __init__(
        self,
        reuse: bool = True,
        permc_spec: PermcSpec = "COLAMD",
        residual_check: float | None = 1e-6,
    ):
        self.reuse = bool(reuse)
        self.permc_spec = permc_spec
        self.residual_check = residual_check
        self._counters = Counters()
        self._key: PatternKey | None = None
        self._factorization: Factorization | None = None
        # symmetric permutation and CSC gather map of the remembered pattern
        self._q: np.ndarray | None = None
        self._gather: np.ndarray | None = None
        self._p_indices: np.ndarray | None = None
        self._p_indptr: np.ndarray | None = None

    @property
    def stats(self) -> SolverStats:
        """Counters so far (see :class:`SolverStats`)."""
        return self._counters.snapshot()

    @property
    def factorization(self) -> Factorization | None:
        """The factorization of the last matrix (None before the first call)."""
        return self._factorization

    def __call__(self, A, b) -> np.ndarray:
        """Solve ``A x = b``; ``A``: sparse ``(n, n)``, ``b``: ``(n,)`` or ``(n, k)``."""
        c = self._counters
        A, b = c.start(A, b)
        if not self.reuse:
            self._factorization = Factorization(
                A, _splu(A.tocsc(), self.permc_spec), None, self.residual_check
            )
            c.factorizations += 1
        elif self._key is not None and self._key.same_pattern(A):
            c.reuses += 1
            if self._key.same_values(A):
                log.debug("scipy_direct: same matrix, reusing the factorization")
                self._factorization._A = A
            else:
                log.debug("scipy_direct: same pattern, reusing the ordering")
                Ap = sp.csc_array(
                    (A.data[self._gather], self._p_indices, self._p_indptr), shape=A.shape
                )
                lu = _splu(Ap, "NATURAL")
                self._factorization = Factorization(A, lu, self._q, self.residual_check)
                self._key.update_values(A)
                c.factorizations += 1
        else:
            self._analyse_and_factorize(A)
            c.factorizations += 1
        return self._factorization.solve(b)

    def _analyse_and_factorize(self, A) -> None:
        self._key = None  # stays None if the factorization fails
        lu = _splu(A.tocsc(), self.permc_spec)
        self._factorization = Factorization(A, lu, None, self.residual_check)
        # SuperLU factors Pr A Pc = L U with (A Pc)[:, j] = A[:, q[j]], q = argsort(perm_c):
        # factorizing A[q][:, q] with NATURAL ordering gives the same fill.
        q = np.argsort(lu.perm_c).astype(np.int64)
        n, nnz = A.shape[0], A.nnz
        T = sp.csr_array((np.arange(1, nnz + 1, dtype=np.int64), A.indices, A.indptr), shape=(n, n))
        P = T[q][:, q].tocsc()
        P.sort_indices()
        self._q = q
        self._gather = P.data - 1
        self._p_indices = P.indices.astype(np.intc)
        self._p_indptr = P.indptr.astype(np.intc)
        self._key = PatternKey(A)


def scipy_direct(
    reuse: bool = True, permc_spec: PermcSpec = "COLAMD", residual_check: float | None = 1e-6
) -> ScipyDirect:
    """Sparse direct solver (SciPy's SuperLU), reusing work between calls.

    Parameters
    ----------
    reuse
        Reuse the ordering when the sparsity pattern (``indptr``, ``indices``)
        is unchanged since the last call, and the whole factorization when the
        values are unchanged too (see the module docstring for what is measured).
    permc_spec
        SuperLU fill-reducing column ordering for a new pattern.
    residual_check
        Raise :class:`SolverError` when ``||b - A x|| / ||b||`` exceeds this
        (catches numerically singular matrices, which SuperLU factors without
        complaint); None skips it.

    Returns
    -------
    ScipyDirect
        ``solve(A, b) -> x`` with ``b``: ``(n,)`` or ``(n, k)`` (all ``k``
        right-hand sides share one factorization), ``.stats`` and
        ``.factorization``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> solve = scipy_direct()
    >>> A = sp.csr_array(np.array([[4.0, 1.0], [1.0, 3.0]]))
    >>> x = solve(A, np.array([1.0, 2.0]))
    >>> x = solve(2 * A, np.array([1.0, 2.0]))
    >>> solve.stats.factorizations, solve.stats.reuses
    (2, 1)
    """
    return ScipyDirect(reuse=reuse, permc_spec=permc_spec, residual_check=residual_check)


class ScipyCG:
    """Callable ``solve(A, b) -> x`` with preconditioned CG; made by :func:`scipy_cg`."""

    def __init__(
        self,
        rtol: float = 1e-10,
        atol: float = 0.0,
        maxiter: int | None = None,
        preconditioner: Preconditioner = "jacobi",
    ):
        if preconditioner not in ("jacobi", "ilu", None):
            raise ValueError(
                f"preconditioner must be 'jacobi', 'ilu' or None, got {preconditioner!r}"
            )
        self.rtol = float(rtol)
        self.atol = float(atol)
        self.maxiter = maxiter
        self.preconditioner = preconditioner
        self._counters = Counters()
        self._key: PatternKey | None = None
        self._M = None

    @property
    def stats(self) -> SolverStats:
        """Counters so far (see :class:`SolverStats`)."""
        return self._counters.snapshot()

    def _build_preconditioner(self, A):
        n = A.shape[0]
        if self.preconditioner is None:
            return None
        if self.preconditioner == "jacobi":
            d = A.diagonal()
            zero = np.flatnonzero(d == 0.0)
            if zero.size:
                raise SolverError(
                    f"{SINGULAR_HINT}: zero diagonal in row {int(zero[0])} "
                    f"({zero.size} such rows); Jacobi preconditioning impossible"
                )
            inv = 1.0 / d
            return LinearOperator((n, n), matvec=lambda v: inv * np.ravel(v), dtype=np.float64)
        try:
            ilu = spilu(A.tocsc(), drop_tol=1e-4, fill_factor=10)
        except RuntimeError as err:
            raise SolverError(f"{SINGULAR_HINT} (incomplete LU: {err})") from err
        return LinearOperator((n, n), matvec=ilu.solve, dtype=np.float64)

    def __call__(self, A, b) -> np.ndarray:
        """Solve ``A x = b``; ``A``: sparse SPD ``(n, n)``, ``b``: ``(n,)`` or ``(n, k)``."""
        A = as_csr(A)
        b = as_rhs(b, A.shape[0])
        c = self._counters
        c.calls += 1
        same = self._key is not None and self._key.same_pattern(A)
        if same:
            c.reuses += 1
        if not (same and self._key.same_values(A)):
            self._key = None
            self._M = self._build_preconditioner(A)
            self._key = PatternKey(A)
            c.factorizations += self.preconditioner is not None
        cols = b.reshape(b.shape[0], -1)
        x = np.empty_like(cols)
        for j in range(cols.shape[1]):
            x[:, j] = self._solve_one(A, cols[:, j])
        return x.reshape(b.shape)

    def _solve_one(self, A, b: np.ndarray) -> np.ndarray:
        c = self._counters
        its = 0

        def count(_xk):
            nonlocal its
            its += 1

        x, info = cg(
            A, b, rtol=self.rtol, atol=self.atol, maxiter=self.maxiter, M=self._M, callback=count
        )
        c.rhs += 1
        c.iterations += its
        if info != 0 or not np.all(np.isfinite(x)):
            nb = np.linalg.norm(b)
            res = np.linalg.norm(b - A @ x) / (nb if nb > 0 else 1.0)
            why = (
                "did not converge"
                if info > 0
                else "broke down (is A symmetric positive definite?)"
            )
            raise SolverError(
                f"scipy CG ({self.preconditioner or 'no'} preconditioner) {why} in {its} "
                f"iterations: relative residual {res:.3e}, rtol {self.rtol:.1e}; "
                f"if A is singular, check Dirichlet conditions (rigid-body modes?)"
            )
        return x


def scipy_cg(
    rtol: float = 1e-10,
    maxiter: int | None = None,
    preconditioner: Preconditioner = "jacobi",
    atol: float = 0.0,
) -> ScipyCG:
    """Preconditioned conjugate gradients (SciPy) for SPD matrices.

    Parameters
    ----------
    rtol, atol
        Stop when ``||b - A x|| <= max(rtol ||b||, atol)``.
    maxiter
        Iteration limit per right-hand side (None: SciPy's ``10 n``).
    preconditioner
        ``"jacobi"`` (diagonal), ``"ilu"`` (``spilu``, drop_tol 1e-4) or None.
        Rebuilt only when the matrix values change.

    Returns
    -------
    ScipyCG
        ``solve(A, b) -> x`` with ``.stats`` (iterations summed over right-hand sides).

    Raises
    ------
    SolverError
        (when called) no convergence, with iterations and residual.
    """
    return ScipyCG(rtol=rtol, atol=atol, maxiter=maxiter, preconditioner=preconditioner)
