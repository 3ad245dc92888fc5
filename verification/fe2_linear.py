"""FE² with linear micro phases equals single-scale FE with the RVE's effective tensor.

With linear phases the RVE oracle is a linear map ``G -> C_eff : G``; the macro
problem driven by it (:class:`fe2.macro.Problem` with the RVE as oracle, the RVE
re-solved at every macro quadrature point) must give the same displacement /
temperature field and reactions as a one-scale problem whose material is the
constant tensor ``C_eff`` (from :meth:`fe2.micro.RVE.effective_tensor`), to the
linear-solver tolerance. Checked for conductivity and plane-strain elasticity
with each boundary condition on an anisotropic random cell, and (full tier) in 3D.

Two micro paths: the RVE's closed form for linear phases (one factorization,
``C_eff : G``), and the general micro Newton solve at every point, forced by
phases that are linear but not declared so (a power law with exponent 2, J2
plasticity with a yield stress never reached); the latter must agree to the
micro Newton tolerance.
"""

from __future__ import annotations

import numpy as np
import skfem

from fe2.macro import NewtonOptions, Problem
from fe2.materials import J2Plasticity, LinearConductivity, LinearElastic, NonlinearConductivity
from fe2.micro import RVE, cells
from fe2.micro.rve import BOUNDARY_CONDITIONS
from fe2.oracle import OracleBase, Response
from verification.core import Check, StudyResult, Table

TITLE = "FE²: linear micro equals single-scale FE"
TOL = 1e-10
TOL_NEWTON = 1e-8


class ConstantStiffness(OracleBase):
    """Linear small-strain law ``sigma = C : eps`` with a given stiffness ``C (d, d, d, d)``."""

    measure = "strain"

    def __init__(self, C: np.ndarray):
        self.C = np.asarray(C, dtype=float)
        self.dim = self.C.shape[0]

    def evaluate(self, g, x=None, state=None) -> Response:
        """Stress ``C : eps`` ``(d, d, *pts)`` and tangent ``C`` ``(d, d, d, d, *pts)``."""
        pts = self.check_input(g)
        flux = np.einsum("ijkl,kl...->ij...", self.C, np.asarray(g, dtype=float))
        tangent = np.broadcast_to(self.C.reshape(self.C.shape + (1,) * len(pts)),
                                  self.C.shape + pts)
        return Response(flux=flux, tangent=tangent)


def _mesh(n: int, dim: int) -> skfem.Mesh:
    grid = [np.linspace(0.0, 1.0, n + 1)] * dim
    mesh = (skfem.MeshTri if dim == 2 else skfem.MeshTet).init_tensor(*grid)
    return mesh.with_boundaries({"left": lambda x: np.isclose(x[0], 0.0),
                                 "right": lambda x: np.isclose(x[0], 1.0)})


def _solve(mesh, oracle, kind: str):
    p = Problem(mesh, oracle, kind=kind, order=1)
    if kind == "scalar":
        p.dirichlet("left", 0.0).dirichlet("right", 1.0)
        p.body_load(lambda x, t: t * np.sin(3.0 * x[1]) * (1.0 + x[0]))
    else:
        d = mesh.dim()
        p.dirichlet("left", 0.0)
        p.neumann("right", np.eye(d)[0] * 0.3 + np.eye(d)[1] * 0.1)
        p.body_load(lambda x, t: t * np.stack([0 * x[0], -0.2 + 0 * x[0]]
                                              + ([0 * x[0]] if d == 3 else [])))
    sol = p.solve(NewtonOptions(rtol=1e-12, atol=1e-14), reactions=("left",))
    return sol.u, sol.reactions["left"][-1], sol.steps[-1].iterations


def run(quick: bool) -> StudyResult:
    res = StudyResult(
        "fe2_linear", TITLE,
        "Macro unit square (P1 triangles) driven by an RVE of linear phases (random voxel "
        "cell, contrast 10, anisotropic effective tensor) versus the same macro problem with "
        "the constant effective tensor of that RVE. Expected: max |u_FE² - u_1| / max |u_1| "
        f"≤ {TOL:g} and equal reactions (relative ≤ {TOL:g}) for each BC and physics with the "
        "closed-form micro path (one macro Newton iteration); ≤ "
        f"{TOL_NEWTON:g} when every macro point runs the micro Newton solver (phases linear "
        "but not declared so: power law with p = 2, J2 with an unreachable yield stress; at "
        "most two macro iterations: the second only confirms convergence).",
    )
    rng = np.random.default_rng(3)
    img2 = (rng.random((6, 6)) < 0.4).astype(int)
    cases = [(2, img2)]
    if not quick:
        cases.append((3, (rng.random((4, 4, 4)) < 0.4).astype(int)))
    table = Table(["dim", "physics", "micro path", "bc", "macro elements", "rel. field difference",
                   "rel. reaction difference", "Newton iterations", "anisotropy of C_eff"])
    n = 6 if quick else 12
    for dim, img in cases:
        cell = cells.from_image(img, size=1.0)
        mesh = _mesh(n if dim == 2 else 3, dim)
        plane = "strain" if dim == 2 else None
        physics = [
            ("conductivity", "scalar", [LinearConductivity(1.0, dim=dim),
                                        LinearConductivity(10.0, dim=dim)],
             [NonlinearConductivity(1.0, 2.0, dim=dim), NonlinearConductivity(10.0, 2.0, dim=dim)],
             lambda C: LinearConductivity(C)),
            ("elasticity", "small_strain", [LinearElastic(1.0, 0.3, plane=plane),
                                            LinearElastic(10.0, 0.2, plane=plane)],
             [J2Plasticity(1.0, 0.3, 1e6, dim=dim), J2Plasticity(10.0, 0.2, 1e6, dim=dim)],
             ConstantStiffness),
        ]
        for name, kind, phases, newton_phases, single in physics:
            for bc in BOUNDARY_CONDITIONS if dim == 2 or not quick else ("periodic",):
                C = RVE(cell, phases, bc=bc).effective_tensor()
                u1, r1, _ = _solve(mesh, single(C), kind)
                Cm = C.reshape(dim * dim, dim * dim) if C.ndim == 4 else C
                off = float(np.abs(Cm - np.diag(np.diag(Cm))).max() / np.abs(Cm).max())
                paths = [("closed form", phases, TOL, 1)]
                if (not quick and dim == 2) or bc == "periodic":
                    paths.append(("micro Newton", newton_phases, TOL_NEWTON, 2))
                for path, ph, tol, max_it in paths:
                    u2, r2, it = _solve(mesh, RVE(cell, ph, bc=bc), kind)
                    du = float(np.abs(u2 - u1).max() / np.abs(u1).max())
                    dr = float(np.linalg.norm(r2 - r1) / np.linalg.norm(r1))
                    table.add(dim, name, path, bc, mesh.nelements, du, dr, it, off)
                    label = f"{dim}D {name}, {bc}, {path}"
                    res.check(Check.at_most(f"{label}: field difference", du, tol))
                    res.check(Check.at_most(f"{label}: reaction difference", dr, tol))
                    res.check(Check.at_most(f"{label}: macro Newton iterations", it, max_it))
    res.tables.append(("FE² with linear RVE vs single-scale FE with C_eff", table))
    return res
