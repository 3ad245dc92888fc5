"""Shared pieces of the solver backends: errors, statistics, input checks.

numpy and scipy only; no backend imports this module's callers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

SINGULAR_HINT = "matrix is singular: check Dirichlet conditions (rigid-body modes?)"


class SolverError(RuntimeError):
    """A linear solve failed: singular matrix or no convergence.

    The message names what failed and the numbers behind it (iterations,
    residual, PETSc converged reason) so a person can act on it.
    """


@dataclass(frozen=True)
class SolverStats:
    """What a solver callable has done so far (a snapshot; counters only grow).

    Attributes
    ----------
    calls
        Number of ``solve(A, b)`` calls.
    rhs
        Number of right-hand sides solved (a ``(n, k)`` ``b`` counts ``k``).
    factorizations
        Numeric factorizations (direct solvers) or preconditioner set-ups
        (Krylov solvers) performed.
    reuses
        Calls whose matrix had the sparsity pattern of the previous call, so
        that the symbolic work (ordering, permutation map, PETSc ``Mat``/``KSP``)
        was reused. A call with bit-identical values also reuses the
        factorization or preconditioner itself (no new factorization).
    iterations
        Krylov iterations summed over all right-hand sides (0 for direct solvers).
    """

    calls: int = 0
    rhs: int = 0
    factorizations: int = 0
    reuses: int = 0
    iterations: int = 0


class Counters:
    """Mutable counters behind :class:`SolverStats`."""

    __slots__ = ("calls", "rhs", "factorizations", "reuses", "iterations")

    def __init__(self) -> None:
        self.calls = self.rhs = self.factorizations = self.reuses = self.iterations = 0

    def start(self, A, b):
        """Check and count one ``solve(A, b)`` call; returns ``(A, b)`` as CSR and array."""
        A = as_csr(A)
        b = as_rhs(b, A.shape[0])
        self.calls += 1
        self.rhs += 1 if b.ndim == 1 else b.shape[1]
        return A, b

    def snapshot(self) -> SolverStats:
        """The counters as a frozen :class:`SolverStats`."""
        return SolverStats(
            calls=self.calls,
            rhs=self.rhs,
            factorizations=self.factorizations,
            reuses=self.reuses,
            iterations=self.iterations,
        )


def as_csr(A) -> sp.csr_array | sp.csr_matrix:
    """Return ``A`` as a square float64 CSR matrix in canonical format.

    ``A``: scipy sparse ``(n, n)``. A matrix already canonical CSR float64 is
    returned as is (no copy).
    """
    if not sp.issparse(A):
        raise TypeError(f"A must be a scipy sparse matrix, got {type(A).__name__}")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}")
    if A.format != "csr":
        A = A.tocsr()
    if A.dtype != np.float64:
        A = A.astype(np.float64)
    if not A.has_canonical_format:
        A = A.copy()
        A.sum_duplicates()
    return A


def as_rhs(b, n: int) -> np.ndarray:
    """Return ``b`` as a float64 array of shape ``(n,)`` or ``(n, k)``."""
    b = np.asarray(b, dtype=np.float64)
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ValueError(f"b must have shape ({n},) or ({n}, k) to match A, got {b.shape}")
    if not np.all(np.isfinite(b)):
        bad = np.argwhere(~np.isfinite(b))[0]
        raise ValueError(f"b has a non-finite entry at index {tuple(int(i) for i in bad)}")
    return b


class PatternKey:
    """Remembers a CSR pattern (and values) to detect reuse opportunities."""

    __slots__ = ("shape", "indptr", "indices", "data")

    def __init__(self, A, keep_values: bool = True) -> None:
        self.shape = A.shape
        self.indptr = A.indptr.copy()
        self.indices = A.indices.copy()
        self.data = A.data.copy() if keep_values else None

    def same_pattern(self, A) -> bool:
        """``A`` (CSR) has the remembered shape and pattern."""
        return (
            A.shape == self.shape
            and np.array_equal(A.indptr, self.indptr)
            and np.array_equal(A.indices, self.indices)
        )

    def same_values(self, A) -> bool:
        """``A`` (same pattern) has the remembered values."""
        return self.data is not None and np.array_equal(A.data, self.data)

    def update_values(self, A) -> None:
        """Remember the values of ``A`` (same pattern)."""
        if self.data is not None:
            self.data[...] = A.data


def check_residual(A, x: np.ndarray, b: np.ndarray, tol: float | None, what: str) -> None:
    """Raise SolverError when ``||b - A x|| > tol ||b||`` for any column."""
    if not np.all(np.isfinite(x)):
        raise SolverError(f"{SINGULAR_HINT} ({what} produced non-finite values)")
    if tol is None:
        return
    r = np.linalg.norm(np.reshape(b - A @ x, (b.shape[0], -1)), axis=0)
    nb = np.linalg.norm(np.reshape(b, (b.shape[0], -1)), axis=0)
    bad = r > tol * nb
    if np.any(bad):
        j = int(np.argmax(bad))
        rel = r[j] / nb[j]
        raise SolverError(
            f"{SINGULAR_HINT}: {what} gives relative residual "
            f"||b - A x|| / ||b|| = {rel:.3e} > residual_check = {tol:.1e}"
            + (f" for right-hand side {j}" if b.ndim == 2 else "")
            + " (pass residual_check=None to accept it for a very ill-conditioned matrix)"
        )
