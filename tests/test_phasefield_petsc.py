"""PETSc path of the mixed Cahn–Hilliard solver (FGMRES + Schur fieldsplit + GAMG)."""

from __future__ import annotations

import numpy as np
import pytest
import skfem

from fe2.linalg import petsc_available
from fe2.phasefield import CahnHilliard

pytestmark = pytest.mark.skipif(not petsc_available(), reason="petsc4py not installed")


@pytest.mark.parametrize("bc", ["periodic", "no-flux"])
def test_petsc_fieldsplit_agrees_with_the_scipy_direct_solve(bc):
    # the same convex-splitting steps: whole mixed system by SuperLU vs PETSc FGMRES with
    # the Schur-complement fieldsplit; mass kept to round-off by both
    mesh = skfem.MeshQuad.init_tensor(np.linspace(0, 24, 13), np.linspace(0, 24, 13))
    x0 = lambda x: 0.5 + 0.05 * np.cos(0.5 * x[0]) * np.sin(0.3 * x[1])  # noqa: E731
    a = CahnHilliard(mesh, 2.0, 5.0, bc=bc, solver="scipy").solve(x0, 20.0, dt=0.5,
                                                                   adaptive=False)
    ch = CahnHilliard(mesh, 2.0, 5.0, bc=bc, solver="petsc")
    b = ch.solve(x0, 20.0, dt=0.5, adaptive=False)
    assert np.abs(a.field - b.field).max() < 1e-8
    assert np.abs(b.mass - b.mass[0]).max() <= 1e-13 * b.mass[0]
    assert b.energy_increases() == 0
    assert max(ch.petsc_solver.iterations) <= 30  # the preconditioner works: few FGMRES steps
    ch.petsc_solver.destroy()
