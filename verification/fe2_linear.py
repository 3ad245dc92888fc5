"""FE² with laminate RVEs against closed forms computed here, independently of the RVE.

Two references that do not come from the RVE code:

(a) **Linear laminates.** The periodic effective tensor of a laminate is known
    in closed form: conductivity = harmonic mean across the layers and
    arithmetic mean along them; elasticity = the layered formula from traction
    continuity and strain compatibility (:func:`verification.exact_cells.layered_stiffness`,
    fed with isotropic stiffnesses written here from ``E`` and ``nu``). A macro
    problem driven by a laminate RVE at every quadrature point
    (:class:`fe2.macro.Problem` with the RVE as oracle) must give the same field
    and reactions as single-scale FE with that exact tensor, to the solver
    tolerance; both through the RVE's closed-form path for linear phases and
    through its general micro Newton solve (phases linear but not declared so).

(b) **Nonlinear series laminate.** Layers of power-law conductors
    ``q = K_i |g|^(n-1) g`` (:class:`fe2.materials.NonlinearConductivity` with
    ``p = n + 1`` and a negligible regularisation) loaded by a macro gradient
    ``G`` normal to the layers carry the same flux through every layer, so
    ``q = K_eff |G|^(n-1) G`` with ``K_eff = (sum_i f_i K_i^(-1/n))^(-n)``. A macro
    bar with ``u = 0`` on the left and ``u = t G`` on the right has the uniform
    gradient ``(t G, 0)`` at every macro point; the macro flux and the reaction
    at every load step must equal the closed form (this checks the exponent
    too), and the micro Newton solver must have iterated at every point.
"""

from __future__ import annotations

import numpy as np
import skfem

from fe2.homogenization import RVE, cells
from fe2.macro import NewtonOptions, Problem
from fe2.materials import J2Plasticity, LinearConductivity, LinearElastic, NonlinearConductivity
from fe2.oracle import OracleBase, Response
from verification.core import Check, StudyResult, Table
from verification.exact_cells import layered_stiffness

TITLE = "FE²: laminate RVEs against exact laminate tensors and a nonlinear closed form"
TOL = 1e-10
TOL_NEWTON = 1e-8
TOL_NONLINEAR = 1e-8


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


def isotropic_stiffness(E: float, nu: float, d: int) -> np.ndarray:
    """``C_ijkl = lam d_ij d_kl + mu (d_ik d_jl + d_il d_jk)`` ``(d, d, d, d)`` from ``E``, ``nu``.

    3D Lamé constants (``d = 2`` is plane strain), written here, not taken from
    :class:`fe2.materials.LinearElastic`.
    """
    lam = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    mu = E / (2.0 * (1.0 + nu))
    eye = np.eye(d)
    return (lam * np.einsum("ij,kl->ijkl", eye, eye)
            + mu * (np.einsum("ik,jl->ijkl", eye, eye) + np.einsum("il,jk->ijkl", eye, eye)))


def laminate_conductivity(k: list[float], f: list[float], normal: int, d: int) -> np.ndarray:
    """Exact ``(d, d)`` conductivity of isotropic layers: harmonic across, arithmetic along."""
    f = np.asarray(f, float) / np.sum(f)
    k = np.asarray(k, float)
    harm = 1.0 / float(np.sum(f / k))
    arit = float(np.sum(f * k))
    return np.diag([harm if a == normal else arit for a in range(d)])


def series_power_law(K: list[float], f: list[float], n: float) -> float:
    """``K_eff = (sum_i f_i K_i^(-1/n))^(-n)`` of power-law layers in series."""
    f = np.asarray(f, float) / np.sum(f)
    return float(np.sum(f * np.asarray(K, float) ** (-1.0 / n)) ** (-n))


def _mesh(n: int, dim: int) -> skfem.Mesh:
    grid = [np.linspace(0.0, 1.0, n + 1)] * dim
    mesh = (skfem.MeshTri if dim == 2 else skfem.MeshTet).init_tensor(*grid)
    return mesh.with_boundaries({"left": lambda x: np.isclose(x[0], 0.0),
                                 "right": lambda x: np.isclose(x[0], 1.0)})


def _solve(mesh, oracle, kind: str):
    """Macro problem with a non-uniform gradient: body load, Dirichlet left, load right."""
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


def _linear_laminates(res: StudyResult, quick: bool) -> None:
    table = Table(["dim", "physics", "micro path", "layer normal", "macro elements",
                   "rel. field difference", "rel. reaction difference", "macro iterations",
                   "|T_11 - T_22| / max |T| (exact)"])
    f = [0.35, 0.65]
    cases = [(2, 0), (2, 1)] if quick else [(2, 0), (2, 1), (3, 2)]
    for dim, normal in cases:
        cell = cells.laminate(f, normal=normal, dim=dim, resolution=4)
        mesh = _mesh(6 if dim == 2 else 3, dim)
        plane = "strain" if dim == 2 else None
        E, nu = (1.0, 10.0), (0.3, 0.2)
        physics = [
            ("conductivity", "scalar",
             laminate_conductivity([1.0, 10.0], f, normal, dim),
             [LinearConductivity(1.0, dim=dim), LinearConductivity(10.0, dim=dim)],
             [NonlinearConductivity(1.0, 2.0, dim=dim), NonlinearConductivity(10.0, 2.0, dim=dim)],
             LinearConductivity),
            ("elasticity", "small_strain",
             layered_stiffness([isotropic_stiffness(E[i], nu[i], dim) for i in range(2)], f,
                               np.eye(dim)[normal]),
             [LinearElastic(E[i], nu[i], plane=plane) for i in range(2)],
             [J2Plasticity(E[i], nu[i], 1e6, dim=dim) for i in range(2)],
             ConstantStiffness),
        ]
        for name, kind, exact, phases, newton_phases, single in physics:
            u1, r1, _ = _solve(mesh, single(exact), kind)
            first, second = (exact[0, 0], exact[1, 1]) if exact.ndim == 2 else (
                exact[0, 0, 0, 0], exact[1, 1, 1, 1])
            aniso = float(abs(first - second) / np.abs(exact).max())
            for path, ph, tol, max_it in (("closed form", phases, TOL, 1),
                                          ("micro Newton", newton_phases, TOL_NEWTON, 2)):
                u2, r2, it = _solve(mesh, RVE(cell, ph, bc="periodic"), kind)
                du = float(np.abs(u2 - u1).max() / np.abs(u1).max())
                dr = float(np.linalg.norm(r2 - r1) / np.linalg.norm(r1))
                table.add(dim, name, path, f"x{normal + 1}", mesh.nelements, du, dr, it, aniso)
                label = f"{dim}D {name} laminate ⊥x{normal + 1}, {path}"
                res.check(Check.at_most(f"{label}: field vs exact-tensor FE", du, tol))
                res.check(Check.at_most(f"{label}: reaction vs exact-tensor FE", dr, tol))
                res.check(Check.at_most(f"{label}: macro Newton iterations", it, max_it))
    res.tables.append(("(a) FE² with a laminate RVE vs single-scale FE with the exact laminate "
                       "tensor (periodic BC)", table))


def nonlinear_series(quick: bool) -> dict:
    """FE² bar with a power-law series laminate at every point; closed form alongside.

    Returns a dict with the load factors ``t (m,)``, the macro gradient ``G``,
    the exponent ``n``, ``K_eff``, the reactions ``(m,)`` at the left end and
    the flux ``(2, n_el, n_qp)`` and micro iterations ``(n_el, n_qp)`` of the
    last step.
    """
    f = [0.3, 0.5, 0.2]
    K = [1.0, 6.0, 2.5]
    p = 3.0
    n = p - 1.0
    G = 0.8
    cell = cells.laminate(f, normal=0, dim=2, resolution=5)
    rve = RVE(cell, [NonlinearConductivity(k, p, dim=2, reg=1e-9) for k in K], bc="periodic")
    mesh = _mesh(3 if quick else 6, 2)
    prob = Problem(mesh, rve, kind="scalar", order=1)
    prob.dirichlet("left", 0.0).dirichlet("right", G)
    sol = prob.solve(NewtonOptions(steps=2, rtol=1e-12, atol=1e-14), reactions=("left",))
    return {
        "t": sol.load_factors, "G": G, "n": n, "K_eff": series_power_law(K, f, n),
        "reactions": sol.reactions["left"][:, 0],
        "flux": np.asarray(prob.last_response.flux),
        "iterations": np.asarray(prob.last_response.info["iterations"]),
        "step_micro_iterations": [s.micro_iterations for s in sol.steps],
        "points": prob.last_response.flux.shape[1] * prob.last_response.flux.shape[2],
    }


def _nonlinear(res: StudyResult, quick: bool) -> None:
    r = nonlinear_series(quick)
    G, n, K_eff = r["G"], r["n"], r["K_eff"]
    table = Table(["load factor", "macro gradient", "closed-form flux K_eff |G|^n",
                   "FE² reaction (left)", "relative difference", "micro iterations (step)"])
    for t, R, its in zip(r["t"], r["reactions"], r["step_micro_iterations"], strict=True):
        q = K_eff * (t * G) ** n
        rel = abs(-R - q) / q  # left end: outward normal -x, unit height
        table.add(t, t * G, q, R, rel, its)
        res.check(Check.at_most(f"(b) power-law series laminate, t = {t:g}: reaction vs "
                                "closed form", rel, TOL_NONLINEAR))
    q = K_eff * G**n
    flux = r["flux"]
    err = float(max(np.abs(flux[0] - q).max(), np.abs(flux[1]).max()) / q)
    res.check(Check.at_most("(b) macro flux at every point vs (K_eff |G|^n, 0)", err,
                            TOL_NONLINEAR))
    it = r["iterations"]
    res.check(Check.holds("(b) the micro Newton solver iterated at every macro point "
                          "(last macro iteration)", bool(it.min() >= 1),
                          "min iterations ≥ 1", f"min {int(it.min())}, max {int(it.max())}"))
    res.tables.append((f"(b) Power-law layers (n = {n:g}, fractions 0.3/0.5/0.2, K = 1/6/2.5) "
                       f"in series: K_eff = (Σ f_i K_i^(-1/n))^(-n) = {K_eff:.6g}", table))


def run(quick: bool) -> StudyResult:
    res = StudyResult(
        "fe2_linear", TITLE,
        "(a) Macro unit square (P1 triangles, non-uniform gradient from a body load) driven "
        "by a periodic two-phase laminate RVE (fractions 0.35/0.65, contrast 10, layers "
        "normal to x1 or x2: an anisotropic effective tensor) versus single-scale FE with the "
        "exact laminate tensor computed in the study (harmonic/arithmetic means; layered "
        "elasticity formula). Expected: relative field and reaction differences ≤ "
        f"{TOL:g} through the RVE's closed-form path (one macro Newton iteration) and ≤ "
        f"{TOL_NEWTON:g} through the micro Newton path (phases linear but not declared so: "
        "power law with p = 2, J2 with an unreachable yield stress). (b) A macro bar with "
        "a three-layer power-law RVE (q = K_i |g| g, n = 2) loaded normal to the layers in two "
        "steps: macro flux and reaction equal the series closed form "
        f"K_eff |G|^n G, K_eff = (Σ f_i K_i^(-1/n))^(-n), to {TOL_NONLINEAR:g}, and the "
        "micro Newton solver iterates at every point.",
    )
    _linear_laminates(res, quick)
    _nonlinear(res, quick)
    return res
