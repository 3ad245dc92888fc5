"""Linear-solver factories: SciPy (default, embedded) and PETSc (lazy import).

A solver is a callable ``solve(A, b) -> x`` made by a factory, in scikit-fem's
``solver_*`` style, so it plugs into ``skfem.solve(*skfem.condense(...), solver=...)``.
``A`` is a scipy sparse ``(n, n)`` matrix, ``b`` is ``(n,)`` or ``(n, k)`` (``k``
right-hand sides), ``x`` has the shape of ``b``. Every solver has ``.stats``
(:class:`SolverStats`) and raises :class:`SolverError` when it fails.

==================  ======================================  =====================
name                factory                                 for
==================  ======================================  =====================
``"scipy"``         :func:`scipy_direct` (SuperLU)          default, small/medium
``"cg"``            :func:`scipy_cg` (Jacobi/ILU PCG)       SPD, no PETSc
``"petsc"``         :func:`petsc_krylov` (CG/GMRES + GAMG)  large systems
``"petsc-direct"``  :func:`petsc_direct` (PETSc LU)         reference
``"cholesky"``      :func:`cholesky_direct` (CHOLMOD)       SPD, small/medium
==================  ======================================  =====================

:class:`FactorKrylov` is the micro solver: CHOLMOD or SuperLU factors reused as
a GMRES preconditioner across a sequence of same-pattern matrices.

PETSc solvers hold PETSc objects: use them as context managers or call ``destroy()``.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> solve = make_solver("scipy")
>>> solve(sp.csr_array(np.diag([2.0, 4.0])), np.array([1.0, 1.0]))
array([0.5 , 0.25])
"""

from __future__ import annotations

import inspect

from fe2.linalg.base import SolverError, SolverStats
from fe2.linalg.cholmod import (
    CholeskyFactor,
    NotPositiveDefinite,
    SparseCholesky,
    cholesky_direct,
    cholmod_available,
)
from fe2.linalg.factor_krylov import FactorKrylov, FactorKrylovStats
from fe2.linalg.modes import rigid_body_modes
from fe2.linalg.petsc_backend import PETSC_MISSING, petsc_direct, petsc_krylov
from fe2.linalg.scipy_backend import Factorization, factorize, scipy_cg, scipy_direct

__all__ = [
    "CholeskyFactor",
    "FactorKrylov",
    "FactorKrylovStats",
    "Factorization",
    "NotPositiveDefinite",
    "SparseCholesky",
    "SolverError",
    "SolverStats",
    "cholesky_direct",
    "cholmod_available",
    "factorize",
    "make_solver",
    "petsc_available",
    "petsc_direct",
    "petsc_krylov",
    "rigid_body_modes",
    "scipy_cg",
    "scipy_direct",
]

_FACTORIES = {
    "scipy": scipy_direct,
    "direct": scipy_direct,
    "cg": scipy_cg,
    "petsc": petsc_krylov,
    "petsc-direct": petsc_direct,
    "cholesky": cholesky_direct,
}
_NEEDS_PETSC = {"petsc", "petsc-direct"}


def petsc_available() -> bool:
    """True when ``petsc4py`` (and the PETSc library under it) can be imported."""
    from .petsc_backend import import_petsc

    try:
        import_petsc()
    except (ImportError, OSError):
        return False
    return True


def make_solver(name: str, **options):
    """Make a linear solver by name, with the factory's keyword options.

    Parameters
    ----------
    name
        ``"scipy"`` or ``"direct"`` (:func:`scipy_direct`), ``"cg"``
        (:func:`scipy_cg`), ``"petsc"`` (:func:`petsc_krylov`, needs
        ``prefix=``), ``"petsc-direct"`` (:func:`petsc_direct`, needs ``prefix=``),
        ``"cholesky"`` (:func:`fe2.linalg.cholmod.cholesky_direct`, CHOLMOD sparse
        Cholesky for symmetric positive definite systems).
    **options
        Keyword arguments of that factory.

    Raises
    ------
    ValueError
        Unknown name or option (the message lists the valid ones).
    ImportError
        A PETSc solver was asked for and petsc4py is not installed.

    Examples
    --------
    >>> make_solver("cg", rtol=1e-8).rtol
    1e-08
    >>> make_solver("umfpack")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown solver 'umfpack'; valid names: 'scipy', 'direct', 'cg', 'petsc', ...
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        valid = ", ".join(repr(k) for k in _FACTORIES)
        raise ValueError(f"unknown solver {name!r}; valid names: {valid}")
    params = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for solver {name!r} "
            f"({factory.__name__}); valid options: {', '.join(params)}"
        )
    missing = [
        p.name
        for p in params.values()
        if p.default is inspect.Parameter.empty and p.name not in options
    ]
    if missing:
        raise ValueError(
            f"solver {name!r} needs option(s) {', '.join(missing)}"
            + (" (a PETSc options prefix ending in '_', e.g. prefix='macro_')"
               if "prefix" in missing else "")
        )
    if name in _NEEDS_PETSC and not petsc_available():
        raise ImportError(f"solver {name!r}: {PETSC_MISSING}")
    return factory(**options)
