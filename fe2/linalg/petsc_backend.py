"""PETSc linear solvers through petsc4py: Krylov (KSP + PC) and native direct LU.

petsc4py is imported only inside the functions of this module, so that
``import fe2.linalg`` works without PETSc.

Options
-------
Every solver has a mandatory options prefix ending in ``"_"`` (``"macro_"``,
``"rve_"``). Its settings are PETSc options under that prefix: the factory's
defaults, overridden by the ``options`` dict (keys without the prefix and
without ``-``: ``{"ksp_type": "gmres", "pc_type": "ilu", "ksp_monitor": None}``),
overridden in turn by any option already in PETSc's global database (the command
line, when the program called ``petsc4py.init(sys.argv)``). The solver puts its
options into the database only while it sets up or solves and takes them out
afterwards, so solvers with different prefixes, or the same prefix, never see
each other's settings. Options PETSc never read are logged as warnings after the
first solve (a misspelt name).

Norms
-----
Convergence is measured on the true (unpreconditioned) residual for CG
(``ksp_norm_type unpreconditioned``) and GMRES (``ksp_pc_side right``), so
``rtol`` means ``||b - A x|| <= rtol ||b||`` for the default solvers.

Reuse
-----
The PETSc ``Mat`` and ``KSP`` live as long as the solver. A matrix with the
sparsity pattern of the previous call updates the values of the same ``Mat``
(PETSc then reuses the symbolic factorization of LU/ILU; GAMG redoes its
set-up unless ``pc_gamg_reuse_interpolation`` is set); bit-identical values skip
the preconditioner set-up altogether. ``destroy()`` (or leaving a ``with``
block) destroys every PETSc object the solver made.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np

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

__all__ = ["PETSC_MISSING", "PetscSolver", "import_petsc", "petsc_direct", "petsc_krylov"]

log = logging.getLogger(__name__)

PETSC_MISSING = (
    "PETSc solvers need petsc4py, which is not installed: run `make install` "
    "or `pip install fe2[petsc]` (prebuilt wheels: pip install --find-links ../shared/wheels)"
)

# PETSc KSP types whose default left preconditioning cannot monitor the true residual;
# they get right preconditioning instead.
_RIGHT_PC = {"gmres", "lgmres", "dgmres", "pgmres", "bcgs", "bcgsl", "ibcgs"}
# KSP types that can monitor the unpreconditioned norm with left preconditioning.
_UNPRECONDITIONED = {"cg", "pipecg", "cr", "pipecr", "minres", "chebyshev", "richardson"}


_SIGNALS_RESTORED = False


def import_petsc():
    """Import and return ``petsc4py.PETSc``; ImportError with install advice if absent.

    PETSc installs C signal handlers at start-up that turn a SIGPIPE (a write to
    the pipe of a dead worker process) into an abort of the whole program. fe2
    starts PETSc with ``-no_signal_handler`` when it is the first to import it,
    and otherwise pops PETSc's handler and restores Python's own handling, so a
    lost worker stays a recoverable error.
    """
    global _SIGNALS_RESTORED
    import sys

    try:
        if "petsc4py.PETSc" not in sys.modules:
            import petsc4py

            petsc4py.init(["-no_signal_handler"])
        from petsc4py import PETSc
    except ImportError as err:
        raise ImportError(PETSC_MISSING) from err
    if not _SIGNALS_RESTORED:
        _SIGNALS_RESTORED = True
        _restore_python_signals(PETSc)
    return PETSc


def _restore_python_signals(PETSc) -> None:
    """Drop PETSc's signal handler (if any) and re-install Python's SIGPIPE/SIGINT."""
    import signal
    import threading

    try:
        PETSc.Sys.popSignalHandler()
    except Exception:  # noqa: BLE001 - no handler pushed (started with -no_signal_handler)
        pass
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGPIPE, signal.SIGINT):
            handler = signal.getsignal(sig)
            if handler is not None:
                signal.signal(sig, handler)


def _petsc_message(err) -> str:
    """The message lines of a ``PETSc.Error`` without its call-stack lines."""
    lines = [ln.removeprefix("[0] ") for ln in str(err).splitlines()[1:]]
    return "; ".join(ln for ln in lines if "() at " not in ln) or str(err)


def _check_prefix(prefix) -> str:
    if not isinstance(prefix, str) or not prefix or not prefix.endswith("_") or " " in prefix:
        raise ValueError(
            f"PETSc options prefix must be a non-empty string ending in '_' "
            f"(e.g. 'macro_', 'rve_'), got {prefix!r}"
        )
    if prefix.startswith("-"):
        raise ValueError(f"PETSc options prefix must not start with '-', got {prefix!r}")
    return prefix


def _option_value(v):
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float | np.integer | np.floating):
        return str(v)
    raise ValueError(f"PETSc option values must be str, bool, int, float or None, got {v!r}")


def _merge_options(defaults: dict, options: dict | None) -> dict:
    merged = dict(defaults)
    for key, value in (options or {}).items():
        if not isinstance(key, str) or not key or key.startswith("-"):
            raise ValueError(
                f"PETSc option names are given without prefix and without '-', "
                f"e.g. 'ksp_type', got {key!r}"
            )
        merged[key] = value
    ksp_type = str(merged.get("ksp_type", ""))
    if ksp_type in _UNPRECONDITIONED and "ksp_pc_side" not in merged:
        merged.setdefault("ksp_norm_type", "unpreconditioned")
    elif ksp_type in _RIGHT_PC and "ksp_norm_type" not in merged:
        merged.setdefault("ksp_pc_side", "right")
    return {k: _option_value(v) for k, v in merged.items()}


class PetscSolver:
    """Callable ``solve(A, b) -> x`` on PETSc KSP; made by :func:`petsc_krylov`.

    Also made by :func:`petsc_direct`. Use as a context manager or call
    :meth:`destroy` when done.
    """

    def __init__(
        self,
        prefix: str,
        options: dict,
        near_nullspace=None,
        block_size: int | None = None,
        spd: bool = False,
        residual_check: float | None = None,
        name: str = "PETSc KSP",
    ):
        PETSc = import_petsc()
        self.prefix = _check_prefix(prefix)
        self.options = dict(options)
        self.spd = bool(spd)
        self.block_size = None if block_size is None else int(block_size)
        self.residual_check = residual_check
        self.name = name
        self._counters = Counters()
        self._key: PatternKey | None = None
        self._csr = None  # (indptr, indices) in PETSc's integer type
        self._mat = self._x = self._b = None
        self._nullspace = None
        self._ns_vecs: list = []
        self._ns_array = None
        self._checked_unused = False
        self._used: set[str] = set()
        self._destroyed = False
        if near_nullspace is not None:
            Z = np.asarray(near_nullspace, dtype=np.float64)
            if Z.ndim == 1:
                Z = Z[:, None]
            if Z.ndim != 2 or not np.all(np.isfinite(Z)):
                raise ValueError(f"near_nullspace must be a finite (n, k) array, got {Z.shape}")
            # PETSc wants orthonormal vectors
            Q, R = np.linalg.qr(Z)
            if np.any(np.abs(np.diag(R)) <= 1e-12 * np.abs(R).max()):
                raise ValueError("near_nullspace vectors are linearly dependent")
            self._ns_array = np.ascontiguousarray(Q)
        self._ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
        self._ksp.setOptionsPrefix(self.prefix)
        try:
            with self._options_in_database():
                self._ksp.setFromOptions()
        except PETSc.Error as err:
            self.destroy()
            raise ValueError(
                f"PETSc rejected the options {self._cli()}: {_petsc_message(err)} "
                "(see the PETSc manual pages of KSPSetFromOptions / PCSetFromOptions)"
            ) from err

    # -- options ---------------------------------------------------------------------------

    def _cli(self) -> str:
        return " ".join(
            f"-{self.prefix}{k}" + ("" if v is None else f" {v}") for k, v in self.options.items()
        )

    @contextmanager
    def _options_in_database(self):
        """Put this solver's options into PETSc's database for the duration of a block."""
        PETSc = import_petsc()
        db = PETSc.Options()
        present = db.getAll()
        added = []
        for key, value in self.options.items():
            name = self.prefix + key
            if name in present:  # the command line wins
                continue
            db.setValue(name, value)
            added.append(name)
        try:
            yield
        finally:
            self._used.update(n for n in added if db.used(n))
            if not self._checked_unused and self._counters.rhs > 0:
                self._checked_unused = True
                unused = [n for n in added if n not in self._used]
                if unused:
                    log.warning(
                        "%s: PETSc never read the option(s) %s: misspelt, or not used by "
                        "the chosen KSP/PC",
                        self.name,
                        ", ".join("-" + n for n in unused),
                    )
            for name in added:
                db.delValue(name)

    # -- PETSc objects ---------------------------------------------------------------------

    @property
    def ksp(self):
        """The PETSc ``KSP`` (None once destroyed)."""
        return self._ksp

    @property
    def mat(self):
        """The PETSc ``Mat`` of the last matrix (None before the first call or once destroyed)."""
        return self._mat

    @property
    def destroyed(self) -> bool:
        """True once :meth:`destroy` has run."""
        return self._destroyed

    @property
    def stats(self) -> SolverStats:
        """Counters so far (see :class:`~fe2.linalg.SolverStats`)."""
        return self._counters.snapshot()

    def destroy(self) -> None:
        """Destroy every PETSc object of this solver (idempotent)."""
        for attr in ("_ksp", "_mat", "_x", "_b", "_nullspace"):
            obj = getattr(self, attr)
            if obj is not None:
                obj.destroy()
                setattr(self, attr, None)
        for v in self._ns_vecs:
            v.destroy()
        self._ns_vecs = []
        self._key = None
        self._csr = None
        self._destroyed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    def _make_nullspace(self):
        PETSc = import_petsc()
        if self._nullspace is None:
            self._ns_vecs = [
                PETSc.Vec().createWithArray(self._ns_array[:, j].copy(), comm=PETSc.COMM_SELF)
                for j in range(self._ns_array.shape[1])
            ]
            self._nullspace = PETSc.NullSpace().create(vectors=self._ns_vecs, comm=PETSc.COMM_SELF)
        return self._nullspace

    def _new_matrix(self, A) -> None:
        PETSc = import_petsc()
        n = A.shape[0]
        bs = self.block_size
        if bs is not None and n % bs:
            raise ValueError(f"block_size {bs} does not divide the matrix size {n}")
        if self._ns_array is not None and self._ns_array.shape[0] != n:
            raise ValueError(
                f"near_nullspace has {self._ns_array.shape[0]} rows but the matrix has {n}: "
                "restrict the modes to the free dofs (modes[I]) of the condensed system"
            )
        if self._mat is not None:
            self._mat.destroy()
            self._x.destroy()
            self._b.destroy()
            self._mat = self._x = self._b = None
            self._ksp.reset()
        indptr = A.indptr.astype(PETSc.IntType)
        indices = A.indices.astype(PETSc.IntType)
        mat = PETSc.Mat().createAIJ(
            size=(n, n), bsize=bs, csr=(indptr, indices, A.data), comm=PETSc.COMM_SELF
        )
        self._mat = mat
        if self.spd:
            mat.setOption(PETSc.Mat.Option.SPD, True)
        if self._ns_array is not None:
            mat.setNearNullSpace(self._make_nullspace())
        self._x, self._b = mat.createVecs()
        self._ksp.setOperators(mat)
        self._csr = (indptr, indices)

    # -- solve -----------------------------------------------------------------------------

    def __call__(self, A, b) -> np.ndarray:
        """Solve ``A x = b``; ``A``: scipy sparse ``(n, n)``, ``b``: ``(n,)`` or ``(n, k)``."""
        if self._destroyed:
            raise SolverError(f"{self.name} ({self.prefix}) was destroyed; make a new solver")
        A = as_csr(A)
        b = as_rhs(b, A.shape[0])
        c = self._counters
        c.calls += 1
        if self._key is not None and self._key.same_pattern(A):
            c.reuses += 1
            if not self._key.same_values(A):
                indptr, indices = self._csr
                self._mat.setValuesCSR(indptr, indices, A.data)
                self._mat.assemble()
                self._key.update_values(A)
                c.factorizations += 1
        else:
            self._key = None
            self._new_matrix(A)
            self._key = PatternKey(A)
            c.factorizations += 1
        cols = b.reshape(b.shape[0], -1)
        x = np.empty_like(cols)
        with self._options_in_database():
            for j in range(cols.shape[1]):
                x[:, j] = self._solve_one(cols[:, j])
        x = x.reshape(b.shape)
        if self.residual_check is not None:
            check_residual(A, x, b, self.residual_check, self.name)
        return x

    def _solve_one(self, b: np.ndarray) -> np.ndarray:
        PETSc = import_petsc()
        ksp = self._ksp
        self._b.array[:] = b
        self._x.set(0.0)
        try:
            ksp.solve(self._b, self._x)
        except PETSc.Error as err:
            what = _petsc_message(err)
            hint = ""
            if "missing diagonal" in what or "zero pivot" in what.lower():
                hint = (
                    " (PETSc's LU/ILU need every diagonal entry stored; an empty row or "
                    f"column means the {SINGULAR_HINT})"
                )
            raise SolverError(
                f"{self.name} ({self.prefix}): PETSc error {err.ierr}: {what}{hint}"
            ) from err
        reason = int(ksp.getConvergedReason())
        its = int(ksp.getIterationNumber())
        self._counters.rhs += 1
        self._counters.iterations += its
        if reason < 0:
            res = float(ksp.getResidualNorm())
            nb = float(np.linalg.norm(b))
            rel = res / nb if nb > 0 else res
            names = {
                getattr(PETSc.KSP.ConvergedReason, k): k
                for k in dir(PETSc.KSP.ConvergedReason)
                if k.isupper()
            }
            msg = (
                f"{self.name} ({self.prefix}: {ksp.getType()} + {ksp.getPC().getType()}) "
                f"failed: {names.get(reason, reason)} after {its} iterations, "
                f"residual norm {res:.3e} (relative {rel:.3e})"
            )
            if reason == PETSc.KSP.ConvergedReason.DIVERGED_PCSETUP_FAILED:
                failed = int(ksp.getPC().getFailedReason())
                pc_names = {
                    getattr(PETSc.PC.FailedReason, k): k
                    for k in dir(PETSc.PC.FailedReason)
                    if k.isupper()
                }
                msg += f"; preconditioner set-up failed: {pc_names.get(failed, failed)}"
                if "ZEROPIVOT" in str(pc_names.get(failed, "")):
                    msg = f"{SINGULAR_HINT}. {msg}"
            elif reason in (
                PETSc.KSP.ConvergedReason.DIVERGED_INDEFINITE_PC,
                PETSc.KSP.ConvergedReason.DIVERGED_INDEFINITE_MAT,
                PETSc.KSP.ConvergedReason.DIVERGED_BREAKDOWN,
                PETSc.KSP.ConvergedReason.DIVERGED_MAX_IT,
                PETSc.KSP.ConvergedReason.DIVERGED_DTOL,
            ):
                msg += (
                    "; if the matrix is singular check Dirichlet conditions (rigid-body "
                    "modes?), if it is not symmetric positive definite use spd=False"
                )
            raise SolverError(msg)
        return self._x.getArray(readonly=True).copy()


def petsc_krylov(
    prefix: str,
    options: dict | None = None,
    ksp_type: str | None = None,
    pc_type: str = "gamg",
    rtol: float = 1e-10,
    atol: float = 1e-50,
    max_it: int = 10000,
    near_nullspace=None,
    *,
    spd: bool = True,
    block_size: int | None = None,
) -> PetscSolver:
    """PETSc Krylov solver (KSP + PC); default CG + GAMG, GMRES + GAMG when not SPD.

    Parameters
    ----------
    prefix
        Mandatory PETSc options prefix ending in ``"_"`` (``"macro_"``).
    options
        PETSc options under the prefix, overriding the defaults made from the
        other arguments; keys without prefix and ``-``, values str/number/bool,
        None for a flag. Example: ``{"ksp_type": "gmres", "pc_type": "ilu"}``.
    ksp_type
        Default ``"cg"`` when ``spd`` else ``"gmres"``.
    pc_type
        Default ``"gamg"`` (smoothed aggregation algebraic multigrid).
    rtol, atol, max_it
        ``ksp_rtol``, ``ksp_atol``, ``ksp_max_it``: stop when the true residual
        ``||b - A x|| <= max(rtol ||b||, atol)``.
    near_nullspace
        ``(n, k)`` vectors the operator nearly annihilates, e.g.
        ``rigid_body_modes(...)[I]`` for elasticity; attached with
        ``Mat.setNearNullSpace`` (orthonormalized first) to make GAMG scale.
    spd
        The matrix is symmetric positive definite (sets ``Mat.Option.SPD``).
    block_size
        Dofs per node for interleaved vector fields (2 or 3 for elasticity when
        whole nodes are constrained); lets GAMG aggregate nodes instead of dofs.

    Returns
    -------
    PetscSolver
        ``solve(A, b) -> x`` with ``.stats``, ``.ksp``, ``.mat``, ``.destroy()``;
        a context manager.

    Raises
    ------
    ValueError
        Bad prefix or options PETSc rejects.
    ImportError
        petsc4py is not installed.
    """
    if ksp_type is None:
        ksp_type = "cg" if spd else "gmres"
    defaults = {
        "ksp_type": ksp_type,
        "pc_type": pc_type,
        "ksp_rtol": rtol,
        "ksp_atol": atol,
        "ksp_max_it": int(max_it),
    }
    return PetscSolver(
        _check_prefix(prefix),
        _merge_options(defaults, options),
        near_nullspace=near_nullspace,
        block_size=block_size,
        spd=spd,
        name="PETSc Krylov",
    )


def petsc_direct(
    prefix: str,
    options: dict | None = None,
    *,
    spd: bool = False,
    residual_check: float | None = 1e-6,
) -> PetscSolver:
    """PETSc sparse direct solver with its native factorization (LU, Cholesky if ``spd``).

    ``KSPPREONLY`` + ``PCLU`` (``pc_factor_mat_solver_type petsc``, PETSc's
    default nested-dissection ordering). A matrix with an unchanged pattern
    reuses the symbolic factorization.

    Parameters
    ----------
    prefix
        Mandatory PETSc options prefix ending in ``"_"``.
    options
        PETSc options overriding the defaults (e.g. ``{"pc_factor_mat_ordering_type": "rcm"}``).
    spd
        Use Cholesky instead of LU.
    residual_check
        Raise :class:`SolverError` when ``||b - A x|| / ||b||`` exceeds this (a
        numerically singular matrix whose pivots escaped PETSc's zero-pivot
        test); None skips it.
    """
    defaults = {
        "ksp_type": "preonly",
        "pc_type": "cholesky" if spd else "lu",
        "pc_factor_mat_solver_type": "petsc",
    }
    return PetscSolver(
        _check_prefix(prefix),
        _merge_options(defaults, options),
        spd=spd,
        residual_check=residual_check,
        name="PETSc direct",
    )
