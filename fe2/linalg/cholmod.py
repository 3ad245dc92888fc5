"""Sparse Cholesky factorization of symmetric positive definite matrices by CHOLMOD.

CHOLMOD (SuiteSparse, through scikit-sparse) is the direct solver fe2 uses for
symmetric positive definite systems, at the macro level (:func:`cholesky_direct`,
``make_solver("cholesky")``) and in the micro solver
(:class:`fe2.linalg.FactorKrylov`). Its fill-reducing orderings (AMD, and METIS
nested dissection when SuiteSparse has it) and BLAS-3 supernodes beat the numba
supernodal factorization fe2 used before by 2.9x on 3D elasticity and 4.7x on 3D
Poisson (``bench/RESULTS.md``), and it is maintained by others.

:class:`SparseCholesky` analyses a sparsity pattern once (ordering, elimination
tree, supernodes); :meth:`SparseCholesky.factor` makes one numeric factorization
of a matrix with that pattern (a :class:`CholeskyFactor`);
:meth:`CholeskyFactor.solve` solves for ``(n,)`` or ``(n, k)`` right-hand sides.
Only the lower triangle of ``A`` is read; symmetry is the caller's job
(:class:`CholeskyDirect` checks it through the residual).

scikit-sparse is imported lazily, so ``import fe2`` works without it; using this
module without it raises an ``ImportError`` saying how to install it.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> A = sp.csr_array(np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]]))
>>> S = SparseCholesky(A)             # symbolic analysis, once per pattern
>>> F = S.factor(A)                   # numeric factorization, once per matrix
>>> x = F.solve(np.array([1.0, 2.0, 3.0]))
>>> bool(np.allclose(A @ x, [1.0, 2.0, 3.0]))
True
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from fe2.linalg.base import Counters, PatternKey, SolverError, as_csr, check_residual

__all__ = [
    "CHOLMOD_MISSING",
    "CholeskyDirect",
    "CholeskyFactor",
    "NotPositiveDefinite",
    "SparseCholesky",
    "cholesky",
    "cholesky_direct",
    "cholmod_available",
]

CHOLMOD_MISSING = (
    "CHOLMOD is not available: install scikit-sparse 0.4.16 (`make install` does it; by hand: "
    "apt-get install libsuitesparse-dev, then pip install scikit-sparse==0.4.16)"
)


def _cholmod():
    """The ``sksparse.cholmod`` module (imported on first use)."""
    try:
        from sksparse import cholmod
    except ImportError as err:  # also a missing libcholmod.so.3
        raise ImportError(f"{CHOLMOD_MISSING} ({err})") from err
    return cholmod


def cholmod_available() -> bool:
    """True when scikit-sparse's CHOLMOD bindings (and libcholmod) can be imported."""
    try:
        _cholmod()
    except ImportError:
        return False
    return True


class NotPositiveDefinite(ValueError):
    """The Cholesky factorization met a pivot that is not positive.

    Attributes
    ----------
    column
        The column of ``A`` (original numbering) where CHOLMOD stopped: the first
        column of the supernode whose pivot failed, or the column of a non-finite
        diagonal entry.
    """

    def __init__(self, column: int, detail: str = ""):
        self.column = int(column)
        super().__init__(
            f"matrix is not positive definite (at column {self.column}{detail})"
        )


def _csc(A) -> sp.csc_matrix:
    """``A`` as a square float64 canonical CSC matrix (CHOLMOD reads it without a copy).

    The checks and errors are those of :func:`fe2.linalg.base.as_csr`.
    """
    return sp.csc_matrix(as_csr(A))


def _too_big(n: int, err: Exception) -> MemoryError:
    return MemoryError(
        f"sparse Cholesky (CHOLMOD): the factor of this {n:,} x {n:,} matrix does not fit in "
        f"memory ({err}); use an iterative solver for systems this large (macro: "
        "make_solver('petsc', prefix='macro_'); RVEs: RVE(..., solver=lambda: "
        "fe2.linalg.petsc_krylov('micro_')))"
    )


class SparseCholesky:
    """Symbolic analysis of a symmetric sparsity pattern, reused for many factorizations.

    Parameters
    ----------
    A
        scipy sparse ``(n, n)`` matrix (any format; both triangles or the lower one
        stored). Only its pattern is used.
    ordering
        CHOLMOD's ordering method: ``"default"`` (AMD, then METIS if it gives less
        fill), ``"amd"``, ``"metis"``, ``"nesdis"``, ``"natural"``, ``"best"``.
    mode
        ``"supernodal"`` (default): ``L L^T`` by dense BLAS-3 blocks, the fast choice
        for large and 3D matrices; Debian's CHOLMOD runs parts of it in OpenMP
        threads, so a process that has factorized this way must not ``fork`` a
        worker that factorizes again (GNU OpenMP hangs there; fe2's process
        executors use ``forkserver``). ``"simplicial"``: ``L D L^T`` column by
        column, no threads, faster for small 2D matrices (the RVE micro systems).

    Attributes
    ----------
    n
        Order of the matrix.
    perm
        The fill-reducing ordering ``(n,)`` (int64): ``A[perm][:, perm] = L L^T``.
    """

    def __init__(self, A, ordering: str = "default", mode: str = "supernodal"):
        cholmod = _cholmod()
        if mode not in ("supernodal", "simplicial"):
            raise ValueError(f"mode must be 'supernodal' or 'simplicial', got {mode!r}")
        A = _csc(A)
        self.n = A.shape[0]
        self._key = PatternKey(A, keep_values=False)
        self.ordering = ordering
        self.mode = mode
        if self.n == 0:
            self._factor = None
            self.perm = np.zeros(0, np.int64)
            return
        try:
            self._factor = cholmod.analyze(A, mode=mode, ordering_method=ordering)
        except (cholmod.CholmodOutOfMemoryError, cholmod.CholmodTooLargeError) as err:
            raise _too_big(self.n, err) from err
        self.perm = np.asarray(self._factor.P(), dtype=np.int64)

    def factor(self, A) -> CholeskyFactor:
        """Numeric factorization of ``A`` (the analysed pattern, new values).

        Parameters
        ----------
        A
            scipy sparse ``(n, n)`` with the analysed pattern; only its lower
            triangle is read (``A`` is assumed symmetric).

        Returns
        -------
        CholeskyFactor
            Independent of later calls.

        Raises
        ------
        ValueError
            Not square, wrong size or another pattern.
        NotPositiveDefinite
            A pivot ``<= 0`` or a non-finite entry; names the column.
        """
        cholmod = _cholmod()
        A = _csc(A)
        if not self._key.same_pattern(A):
            raise ValueError("A does not have the analysed sparsity pattern")
        if self.n == 0:
            return CholeskyFactor(self, None)
        if not np.all(np.isfinite(A.data)):
            bad = int(np.argmax(~np.isfinite(A.data)))
            col = int(np.searchsorted(A.indptr, bad, side="right") - 1)
            raise NotPositiveDefinite(col, f": non-finite entry {A.data[bad]}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", cholmod.CholmodWarning)
                F = self._factor.cholesky(A)
        except cholmod.CholmodNotPositiveDefiniteError as err:
            raise NotPositiveDefinite(int(self.perm[err.column])) from err
        except (cholmod.CholmodOutOfMemoryError, cholmod.CholmodTooLargeError) as err:
            raise _too_big(self.n, err) from err
        if self.mode == "simplicial":  # L D L^T: positive definite iff every pivot D_jj > 0
            D = F.D()
            bad = ~(D > 0)
            if np.any(bad):
                j = int(np.argmax(bad))
                raise NotPositiveDefinite(int(self.perm[j]), f": pivot {D[j]:.6g}")
        return CholeskyFactor(self, F)


class CholeskyFactor:
    """Numeric Cholesky factor (from :meth:`SparseCholesky.factor`).

    Attributes
    ----------
    symbolic
        The :class:`SparseCholesky` analysis it was made with.
    """

    def __init__(self, symbolic: SparseCholesky, factor):
        self.symbolic = symbolic
        self._factor = factor

    @property
    def nnz_L(self) -> int:
        """Stored nonzeros of the factor ``L`` (diagonal included)."""
        return 0 if self._factor is None else int(self._factor.L().nnz)

    def solve(self, b) -> np.ndarray:
        """Solve ``A x = b``.

        Parameters
        ----------
        b
            ``(n,)`` or ``(n, k)`` (``k`` right-hand sides, solved together).

        Returns
        -------
        numpy.ndarray
            ``x``, float64 (complex if ``b`` is), of the shape of ``b``.
        """
        n = self.symbolic.n
        b = np.asarray(b)
        if b.ndim not in (1, 2) or b.shape[0] != n:
            raise ValueError(f"b must have shape ({n},) or ({n}, k), got {b.shape}")
        if np.iscomplexobj(b):
            return self.solve(b.real) + 1j * self.solve(b.imag)
        if n == 0:
            return np.zeros(b.shape)
        x = self._factor.solve_A(np.asarray(b, dtype=np.float64))
        return np.asarray(x).reshape(b.shape)


def cholesky(A, ordering: str = "default") -> CholeskyFactor:
    """Analyse and factorize ``A`` in one go: ``SparseCholesky(A, ordering).factor(A)``.

    ``A``: scipy sparse ``(n, n)``, symmetric positive definite (lower triangle
    read). Keep a :class:`SparseCholesky` to factorize several matrices with the
    same pattern.
    """
    return SparseCholesky(A, ordering).factor(A)


# ---------------------------------------------------------------------------- solver callable


class CholeskyDirect:
    """Callable ``solve(A, b) -> x`` by CHOLMOD; made by :func:`cholesky_direct`."""

    def __init__(self, residual_check: float | None = 1e-6):
        _cholmod()  # fail at construction, not at the first solve
        self.residual_check = residual_check
        self._counters = Counters()
        self._key = None  # PatternKey of the analysed pattern and the factorized values
        self._symbolic: SparseCholesky | None = None
        self._factor: CholeskyFactor | None = None

    @property
    def stats(self):
        """Counters so far (:class:`fe2.linalg.SolverStats`)."""
        return self._counters.snapshot()

    def __call__(self, A, b) -> np.ndarray:
        """Solve ``A x = b``; ``A``: sparse ``(n, n)`` SPD, ``b``: ``(n,)`` or ``(n, k)``."""
        c = self._counters
        A, b = c.start(A, b)
        if self._key is not None and self._key.same_pattern(A):
            c.reuses += 1
        else:
            self._key = None  # stays None if the analysis fails
            self._symbolic = SparseCholesky(A)
            self._key = PatternKey(A)
            self._factor = None
        if self._factor is None or not self._key.same_values(A):
            self._factor = None
            try:
                self._factor = self._symbolic.factor(A)
            except NotPositiveDefinite as err:
                raise SolverError(
                    f"the 'cholesky' solver needs a symmetric positive definite matrix: {err}; "
                    "use the 'scipy' (LU) solver for indefinite or non-symmetric systems"
                ) from err
            self._key.update_values(A)
            c.factorizations += 1
        x = self._factor.solve(b)
        try:
            check_residual(A, x, b, self.residual_check, "the Cholesky solve")
        except SolverError as err:
            raise SolverError(
                f"{err}; the 'cholesky' solver reads the lower triangle only: is the matrix "
                "symmetric?"
            ) from err
        return x


def cholesky_direct(residual_check: float | None = 1e-6) -> CholeskyDirect:
    """CHOLMOD sparse Cholesky direct solver for symmetric positive definite systems.

    The pattern is analysed once (ordering, supernodes) and reused while it is
    unchanged; a matrix with unchanged values reuses the factors.

    Parameters
    ----------
    residual_check
        Raise :class:`fe2.linalg.SolverError` when ``||b - A x|| / ||b||`` exceeds
        this (a non-symmetric or nearly singular matrix); None skips it.

    Returns
    -------
    CholeskyDirect
        ``solve(A, b) -> x`` with ``b``: ``(n,)`` or ``(n, k)``, and ``.stats``.
        A matrix that is not positive definite raises ``SolverError`` naming the
        column.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> solve = cholesky_direct()
    >>> A = sp.csr_array(np.array([[4.0, 1.0], [1.0, 3.0]]))
    >>> x = solve(A, np.array([1.0, 2.0]))
    >>> x = solve(2 * A, np.array([1.0, 2.0]))
    >>> solve.stats.factorizations, solve.stats.reuses
    (2, 1)
    """
    return CholeskyDirect(residual_check=residual_check)
