"""Factor-then-Krylov solver for sequences of same-pattern systems (the micro solver).

A micro (RVE, FE-HMM box) solve meets many matrices with one sparsity pattern and
slowly changing values: the Newton matrices of one solve and its condensation.
:class:`FactorKrylov` factorizes a matrix once and solves the next ones by GMRES
(``scipy.sparse.linalg.gmres``) preconditioned with those factors, factorizing
again only when GMRES would need too many iterations. Symmetric positive definite
matrices are factorized by CHOLMOD (:mod:`fe2.linalg.cholmod`), the rest
(TUBC multipliers, non-symmetric tangents, cells past an instability) by SuperLU
with the same ordering.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> A = sp.csr_matrix(sp.diags([-1.0, 2.5, -1.0], [-1, 0, 1], shape=(50, 50)))
>>> solve = FactorKrylov()
>>> x = solve(A, np.ones(50))                # factorized (CHOLMOD)
>>> y = solve(1.01 * A, np.ones(50))         # GMRES with the factors of A, no factorization
>>> solve.stats.factorizations, solve.stats.cholesky, solve.stats.krylov
(1, 1, 1)
>>> bool(np.allclose(1.01 * A @ y, 1.0))
True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["FactorKrylov", "FactorKrylovStats"]

log = logging.getLogger(__name__)

# A factorization whose solve leaves a relative residual above this is redone by
# SuperLU with partial pivoting.
_FALLBACK_RESIDUAL = 1e-8
# |A - A^T| <= _SYMMETRY * max|A|: symmetric, try the Cholesky factorization
_SYMMETRY = 1e-12
# CHOLMOD's simplicial L D L^T with its nested-dissection ordering (no threads, so
# fork-safe) up to this order, its supernodal L L^T (BLAS-3, OpenMP) above. On the
# 5,010-dof periodic cell of bench/rve.py part B: simplicial + nesdis 13.5 ms, simplicial
# + AMD 22.5 ms, supernodal + nesdis 15.6 ms, supernodal + AMD 18-20 ms per factorization.
_SIMPLICIAL_MAX = 20_000
_WARNED: list[bool] = []  # the missing-CHOLMOD warning is logged once per process


@dataclass
class FactorKrylovStats:
    """Counters of :class:`FactorKrylov` (they only grow).

    ``orderings``: pattern analyses (once per sparsity pattern); ``factorizations``:
    numeric factorizations, of which ``cholesky`` by CHOLMOD and the rest by SuperLU;
    ``reuses``: solves with unchanged values that reused the factors; ``krylov``:
    solves done by preconditioned GMRES without a factorization, with
    ``krylov_iterations`` iterations in all; ``fallbacks``: solves redone by SuperLU
    with partial pivoting.
    """

    factorizations: int = 0
    reuses: int = 0
    fallbacks: int = 0
    orderings: int = 0
    krylov: int = 0
    krylov_iterations: int = 0
    cholesky: int = 0


def _mmd_ordering(A: sp.csr_matrix) -> np.ndarray:
    """SuperLU's multiple minimum degree ordering of ``A^T + A`` (pattern only), ``(n,)``.

    SuperLU factors ``Pr M Pc = L U`` with the column ordering ``perm_c`` computed
    before the numeric work; it is asked for on a diagonally dominant matrix ``M``
    with the pattern of ``A`` through ``spilu`` with everything dropped (the same
    ordering code as ``splu``, without a complete factorization). ``q =
    argsort(perm_c)`` orders ``A[q][:, q]``.
    """
    n = A.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    M = sp.csr_matrix((np.full(A.nnz, -1.0), A.indices, A.indptr), shape=A.shape)
    M.data[A.indices == np.repeat(np.arange(n), np.diff(A.indptr))] = 0.0
    deg = np.maximum(np.diff(A.indptr), np.bincount(A.indices, minlength=n))
    M = (M + sp.diags(deg + 1.0)).tocsc()
    lu = spla.spilu(M, drop_tol=1e300, fill_factor=1.0, permc_spec="MMD_AT_PLUS_A",
                    diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    return np.argsort(lu.perm_c).astype(np.int64)


class _GiveUp(Exception):
    """Raised from the GMRES callback to stop a solve predicted to be too slow."""


class FactorKrylov:
    """Direct solver with factor reuse: CHOLMOD or SuperLU factors, then GMRES on them.

    The first matrix of a pattern is analysed: a symmetric pattern with its whole
    diagonal gets CHOLMOD's symbolic analysis, whose fill-reducing ordering ``q``
    SuperLU uses too; any other pattern gets SuperLU's minimum-degree ordering of
    ``A^T + A``. A symmetric matrix (``|A - A^T| <= 1e-12 max|A|``) is factorized by
    CHOLMOD; a non-symmetric or not positive definite one by SuperLU on
    ``A[q][:, q]`` in its symmetric mode (diagonal pivots preferred unless smaller
    than ``diag_pivot_thresh`` times the column maximum). Every factorization thus
    depends only on the matrix's values, not on the matrices before it. The same
    values reuse the factors; a solve whose relative residual exceeds ``1e-8`` is
    redone by SuperLU with partial pivoting.

    A matrix with the same pattern but new values is solved by GMRES
    (``scipy.sparse.linalg.gmres`` on ``A M``, right-preconditioned by the current
    factors ``M``, so that its residual is the true one; relative tolerance ``rtol``
    from the caller or ``krylov_rtol``), and factorized only when GMRES needs more
    than ``max_krylov`` iterations, or when the convergence rate of its first
    iterations predicts so (a callback stops it early). :meth:`reset` makes the next
    new matrix be factorized: callers reset at the start of every independent solve,
    so that an answer does not depend on what was solved before.

    Parameters
    ----------
    diag_pivot_thresh : float
        SuperLU's threshold for preferring the diagonal pivot.
    max_krylov : int
        GMRES iterations per call (all right-hand sides together) before falling
        back to a factorization; 0: a factorization for every new matrix.
    krylov_rtol : float
        Relative residual of the GMRES solves (and the lower bound of a caller's
        ``rtol``).
    cholesky : bool
        Factorize symmetric matrices by CHOLMOD (default); ``False``: SuperLU always.

    Notes
    -----
    Called as ``solve(A, b, rtol=None)`` with ``A`` scipy sparse ``(n, n)`` and ``b``
    ``(n,)`` or ``(n, k)``; returns ``x`` of the shape of ``b``. ``inexact = True``
    tells callers that it accepts ``rtol``.
    """

    inexact = True

    def __init__(
        self, diag_pivot_thresh: float = 1e-3, max_krylov: int = 20, krylov_rtol: float = 1e-12,
        cholesky: bool = True,
    ):
        if int(max_krylov) < 0:
            raise ValueError(f"max_krylov must be >= 0, got {max_krylov}")
        if not krylov_rtol > 0:
            raise ValueError(f"krylov_rtol must be > 0, got {krylov_rtol}")
        self.diag_pivot_thresh = float(diag_pivot_thresh)
        self.max_krylov = int(max_krylov)
        self.krylov_rtol = float(krylov_rtol)
        self.cholesky = bool(cholesky)
        self.stats = FactorKrylovStats()
        self._fresh = True  # factorize the next matrix with new values
        self._lu = None  # SuperLU factors of A[q][:, q], or
        self._chol = None  # CHOLMOD factors (fe2.linalg.cholmod.CholeskyFactor)
        self._symbolic = None  # CHOLMOD analysis of the pattern (None: SuperLU only)
        self._tmap: np.ndarray | None = None  # A.data[tmap] = data of A^T (same pattern)
        self._pattern: tuple[np.ndarray, np.ndarray] | None = None
        self._data: np.ndarray | None = None
        self._q: np.ndarray | None = None
        self._gather: np.ndarray | None = None
        self._pindices: np.ndarray | None = None
        self._pindptr: np.ndarray | None = None

    def reset(self) -> None:
        """Factorize the next matrix with new values (start of an independent solve)."""
        self._fresh = True

    # ------------------------------------------------------------------ factorization

    def _splu(self, A, spec: str, **options):
        return spla.splu(A, permc_spec=spec, diag_pivot_thresh=self.diag_pivot_thresh,
                         options={"SymmetricMode": True}, **options)

    def _analyse(self, A: sp.csr_matrix) -> None:
        """Analyse a new pattern: ordering, gather map to ``A[q][:, q]``, transpose map."""
        self.stats.orderings += 1
        n = A.shape[0]
        T = sp.csr_matrix((np.arange(1, A.nnz + 1, dtype=float), A.indices, A.indptr),
                          shape=A.shape)
        Tt = T.T.tocsr()
        Tt.sort_indices()
        self._tmap = self._symbolic = None
        symmetric = np.array_equal(Tt.indptr, A.indptr) and np.array_equal(Tt.indices, A.indices)
        if symmetric:
            self._tmap = Tt.data.astype(np.int64) - 1
            rows = np.repeat(np.arange(n), np.diff(A.indptr))
            full_diagonal = np.count_nonzero(rows == A.indices) == n
            if self.cholesky and full_diagonal and n > 0:
                from fe2.linalg.cholmod import CHOLMOD_MISSING, SparseCholesky, cholmod_available

                if cholmod_available():
                    if n <= _SIMPLICIAL_MAX:
                        self._symbolic = SparseCholesky(A, ordering="nesdis", mode="simplicial")
                    else:
                        self._symbolic = SparseCholesky(A, mode="supernodal")
                elif not _WARNED:
                    _WARNED.append(True)
                    log.warning("%s; the micro solver factorizes with SuperLU", CHOLMOD_MISSING)
        if self._symbolic is not None:
            q = self._symbolic.perm
        else:
            q = _mmd_ordering(A)
        P = T[q][:, q].tocsc()
        P.sort_indices()
        self._q = q
        self._gather = P.data.astype(np.int64) - 1
        self._pindices, self._pindptr = P.indices, P.indptr
        self._pattern = (A.indptr.copy(), A.indices.copy())
        self._data = None

    def _factorize(self, A: sp.csr_matrix) -> None:
        """CHOLMOD factors of a symmetric positive definite ``A``, else SuperLU's."""
        self.stats.factorizations += 1
        self._chol = self._lu = None
        d = A.data
        if self._symbolic is not None and np.abs(d - d[self._tmap]).max(initial=0.0) <= (
            _SYMMETRY * np.abs(d).max(initial=0.0)
        ):
            from fe2.linalg.cholmod import NotPositiveDefinite

            try:
                self._chol = self._symbolic.factor(A)
                self.stats.cholesky += 1
                return
            except NotPositiveDefinite as err:
                log.debug("FactorKrylov: %s; factorizing with SuperLU", err)
        Ap = sp.csc_matrix((d[self._gather], self._pindices, self._pindptr), shape=A.shape)
        self._lu = self._splu(Ap, "NATURAL")  # factors of A[q][:, q]

    def _apply(self, b: np.ndarray) -> np.ndarray:
        """Solve with the current factors, ``b (n,)`` or ``(n, k)``."""
        if self._chol is not None:
            return self._chol.solve(b)
        x = np.empty_like(b)
        x[self._q] = self._lu.solve(np.ascontiguousarray(b[self._q]))
        return x

    # ------------------------------------------------------------------ Krylov

    def _gmres(self, A, r: np.ndarray, tol: float, maxit: int, share: int):
        """``A d = r`` by GMRES on ``A M`` (right preconditioning); ``(d or None, iterations)``.

        Stops when the true residual is ``<= tol``, or gives up (None) after ``maxit``
        iterations or when the mean reduction of the first ones predicts more than
        ``maxit / share``.
        """
        if maxit < 1:
            return None, 0
        AM = spla.LinearOperator(A.shape, matvec=lambda v: A @ self._apply(v), dtype=float)
        beta = float(np.linalg.norm(r))
        its = [0]

        def watch(rel: float) -> None:  # rel = |r_k| / |r_0| after each inner iteration
            its[0] += 1
            k = its[0]
            if k >= 2 and rel > tol / beta:
                rate = rel ** (1.0 / k)
                if rate >= 1.0 or np.log(tol / beta) / np.log(rate) * share > maxit:
                    raise _GiveUp

        try:
            y, info = spla.gmres(AM, r, rtol=tol / beta, atol=0.0, restart=maxit, maxiter=1,
                                 callback=watch, callback_type="pr_norm")
        except _GiveUp:
            return None, its[0]
        if info != 0:
            return None, its[0]
        return self._apply(y), its[0]

    def _krylov(self, A: sp.csr_matrix, b: np.ndarray, rtol: float) -> np.ndarray | None:
        """GMRES with the current factors as preconditioner; None if it does not converge."""
        B = b.reshape(b.shape[0], -1)
        X = np.asarray(self._apply(np.ascontiguousarray(B)))  # one block solve
        R = B - A @ X
        nb = np.linalg.norm(B, axis=0)
        left = self.max_krylov  # iteration budget of this call, all columns together
        for j in range(B.shape[1]):
            tol = rtol * nb[j]
            if nb[j] == 0.0:
                X[:, j] = 0.0
                continue
            if np.linalg.norm(R[:, j]) <= tol:
                continue
            # the columns still to come are assumed to need as many iterations as this one
            dx, its = self._gmres(A, R[:, j], 0.5 * tol, left, B.shape[1] - j)
            self.stats.krylov_iterations += its
            left -= its
            if dx is None:
                self._fresh = True
                return None
            X[:, j] += dx
        r = np.linalg.norm(B - A @ X, axis=0)
        if np.any(r > rtol * nb) or not np.all(np.isfinite(X)):
            return None
        if 2 * (self.max_krylov - left) > self.max_krylov:
            self._fresh = True  # the factors have aged: refresh them with the next matrix
        return X.reshape(b.shape)

    # ------------------------------------------------------------------ call

    def __call__(self, A, b: np.ndarray, rtol: float | None = None) -> np.ndarray:
        """Solve ``A x = b``.

        ``rtol``: relative residual accepted from a GMRES solve (default and lower
        bound ``krylov_rtol``); a factorization solves to round-off anyway.
        """
        A = sp.csr_matrix(A, dtype=np.float64)
        if not A.has_canonical_format:  # sorted, no duplicates: one pattern, one analysis
            A = A.copy()
            A.sum_duplicates()
        b = np.asarray(b, dtype=float)
        same = (
            self._pattern is not None
            and np.array_equal(self._pattern[0], A.indptr)
            and np.array_equal(self._pattern[1], A.indices)
        )
        factored = self._lu is not None or self._chol is not None
        if same and not self._fresh and self.max_krylov > 0 and factored and not (
            np.array_equal(self._data, A.data)
        ):
            tol = self.krylov_rtol if rtol is None else max(float(rtol), self.krylov_rtol)
            x = self._krylov(A, b, tol)
            if x is not None:
                self.stats.krylov += 1
                return x
        if not same:
            self._analyse(A)
        if same and np.array_equal(self._data, A.data):
            self.stats.reuses += 1
        else:
            self._factorize(A)
        self._data = A.data.copy()
        self._fresh = False
        x = self._apply(b)
        r = np.linalg.norm(np.reshape(b - A @ x, (b.shape[0], -1)), axis=0)
        nb = np.linalg.norm(np.reshape(b, (b.shape[0], -1)), axis=0)
        if np.any(r > _FALLBACK_RESIDUAL * nb) or not np.all(np.isfinite(x)):
            self.stats.fallbacks += 1
            log.debug("FactorKrylov: residual %.2e, refactorizing with partial pivoting", r.max())
            x = spla.splu(A.tocsc()).solve(b)
            self._pattern = None  # the next call starts afresh
        return x
