"""PETSc solver of the mixed Cahn–Hilliard Newton system, for large meshes.

Each Newton update of :class:`fe2.phasefield.CahnHilliard` solves (reduced unknowns,
``tau = M dt``)::

    [ M     tau K ] [dc ]   [f]
    [ -A    M     ] [dmu] = [g],   A = L M + kappa K + J(c)  (J: the psi'' mass matrix).

This module solves it by FGMRES on the whole block system (petsc4py, ``AIJ`` matrix),
preconditioned by ``PCFIELDSPLIT`` of Schur type (full factorization; PETSc manual,
"Solving block matrices"): the ``c`` block ``M`` by CG + Jacobi, the Schur complement
``S = M + tau A M^-1 K`` preconditioned by a Python ``PC`` applying ``(M + b K)^-1 M (M
+ a K)^-1`` with ``a b = tau kappa`` and ``a + b = max(2 sqrt(tau kappa), tau w)`` (``w``
the mean of ``psi'' + L``): the factorised approximation of Boyanova, Do-Quang and
Neytcheva (2012) and Bosch, Kay, Stoll and Wathen (SIAM J. Sci. Comput. 36 (2014)), its two
shifted Laplacians solved by CG + PETSc's algebraic multigrid (GAMG). Every piece is
scalable in the mesh size; nothing is factorised exactly.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from fe2.linalg import SolverError
from fe2.linalg.petsc_backend import import_petsc

__all__ = ["PetscMixedSolver"]

log = logging.getLogger(__name__)


def _aij(PETSc, A: sp.csr_matrix):
    A = sp.csr_matrix(A)
    A.sort_indices()
    return PETSc.Mat().createAIJ(size=A.shape, csr=(A.indptr.astype(PETSc.IntType),
                                                     A.indices.astype(PETSc.IntType),
                                                     A.data))


class _ShiftedPair:
    """Python ``PC`` context: ``y = (M + b K)^-1 M (M + a K)^-1 x`` by CG + GAMG."""

    def __init__(self, PETSc, Mr, Kr, a, b, rtol):
        self.PETSc = PETSc
        self.M = _aij(PETSc, Mr)
        self.ksps = []
        for s in (a, b):
            A = _aij(PETSc, (Mr + s * Kr).tocsr())
            ksp = PETSc.KSP().create()
            ksp.setOperators(A)
            ksp.setType("cg")
            ksp.getPC().setType("gamg")
            ksp.setTolerances(rtol=rtol, atol=0.0, max_it=200)
            ksp.setUp()
            self.ksps.append((ksp, A))
        self.tmp = self.M.createVecLeft()
        self.tmp2 = self.M.createVecLeft()

    def apply(self, pc, x, y):
        (ka, _), (kb, _) = self.ksps
        ka.solve(x, self.tmp)
        self.M.mult(self.tmp, self.tmp2)
        kb.solve(self.tmp2, y)

    def free(self) -> None:
        """Destroy the inner solvers (PETSc itself calls ``destroy(pc)`` on a context)."""
        for ksp, A in self.ksps:
            ksp.destroy()
            A.destroy()
        for o in (self.M, self.tmp, self.tmp2):
            o.destroy()


class PetscMixedSolver:
    """FGMRES + Schur ``PCFIELDSPLIT`` for the mixed CH Newton system (module docs).

    Parameters
    ----------
    Mr, Kr : sparse (n, n)
        Reduced mass and stiffness matrices.
    kappa : float
    rtol : float
        Relative residual of the outer FGMRES.
    inner_rtol : float
        Relative residual of the inner CG solves.
    """

    def __init__(self, Mr, Kr, kappa: float, rtol: float = 1e-9, inner_rtol: float = 1e-3):
        self.PETSc = import_petsc()
        self.Mr, self.Kr, self.kappa = Mr.tocsr(), Kr.tocsr(), float(kappa)
        self.rtol, self.inner_rtol = float(rtol), float(inner_rtol)
        self.n = Mr.shape[0]
        self._pre, self._key = None, None
        self.iterations: list[int] = []

    def _preconditioner(self, tau: float, w: float):
        key = (tau, max(tau * w, 2.0 * np.sqrt(tau * self.kappa)))
        if self._key is not None and all(abs(np.log(k / k0)) < np.log(2.0)
                                         for k, k0 in zip(key, self._key, strict=True)):
            return self._pre
        if self._pre is not None:
            self._pre.free()
        s = key[1]
        disc = np.sqrt(max(s * s - 4.0 * tau * self.kappa, 0.0))
        a, b = 0.5 * (s + disc), 0.5 * (s - disc)
        self._pre = _ShiftedPair(self.PETSc, self.Mr, self.Kr, a, b, self.inner_rtol)
        self._key = key
        return self._pre

    def solve(self, A: sp.csr_matrix, tau: float, w: float, f: np.ndarray,
              g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(dc, dmu)`` of the block system with ``A (n, n)``, right-hand sides ``f, g``."""
        PETSc, n = self.PETSc, self.n
        J = sp.bmat([[self.Mr, tau * self.Kr], [-A, self.Mr]], format="csr")
        Jm = _aij(PETSc, J)
        ksp = PETSc.KSP().create()
        try:
            ksp.setOperators(Jm)
            ksp.setType("fgmres")
            ksp.setGMRESRestart(100)
            ksp.setTolerances(rtol=self.rtol, atol=0.0, max_it=300)
            pc = ksp.getPC()
            pc.setType("fieldsplit")
            is_c = PETSc.IS().createStride(n, first=0, step=1)
            is_mu = PETSc.IS().createStride(n, first=n, step=1)
            pc.setFieldSplitIS(("c", is_c), ("mu", is_mu))
            pc.setFieldSplitType(PETSc.PC.CompositeType.SCHUR)
            pc.setFieldSplitSchurFactType(PETSc.PC.FieldSplitSchurFactType.FULL)
            pc.setFieldSplitSchurPreType(PETSc.PC.FieldSplitSchurPreType.A11)
            ksp.setUp()
            k_c, k_s = pc.getFieldSplitSubKSP()
            k_c.setType("cg")
            k_c.getPC().setType("jacobi")
            k_c.setTolerances(rtol=1e-12, atol=0.0, max_it=500)
            k_s.setType("preonly")
            spc = k_s.getPC()
            spc.setType("python")
            spc.setPythonContext(self._preconditioner(tau, w))
            x = Jm.createVecRight()
            b = Jm.createVecLeft()
            b.setArray(np.concatenate([f, g]))
            ksp.solve(b, x)
            reason, its = ksp.getConvergedReason(), ksp.getIterationNumber()
            self.iterations.append(its)
            if reason < 0:
                raise SolverError(f"CahnHilliard PETSc: FGMRES + Schur fieldsplit did not "
                                  f"converge (reason {reason}, {its} iterations)")
            out = x.getArray().copy()
            for o in (x, b, is_c, is_mu):
                o.destroy()
        finally:
            ksp.destroy()
            Jm.destroy()
        return out[:n], out[n:]

    def destroy(self) -> None:
        """Free the PETSc objects."""
        if self._pre is not None:
            self._pre.free()
            self._pre, self._key = None, None
