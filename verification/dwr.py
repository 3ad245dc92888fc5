"""Solution verification: dual-weighted-residual estimate of a goal-functional error.

For a linear macro problem ``a(u, v) = l(v)`` (conductivity or plane-strain
elasticity, two materials in the two halves of the unit square, homogeneous
Dirichlet data on the whole boundary) and the quantity of interest
``J(u) = int j . u dx`` with a smooth localized weight ``j``, the error of the
P1 solution ``u_h`` satisfies ``J(u) - J(u_h) = R(u_h)(z)`` with the adjoint
``a(v, z) = J(v)`` and the residual ``R(u_h)(v) = l(v) - a(u_h, v)``.

The adjoint is approximated by P2 on the same mesh (``z_2``). Galerkin
orthogonality lets the P1 interpolant ``I_h z_2`` be subtracted, which gives the
element indicators

    eta_K = int_K f . (z_2 - I_h z_2) - q(u_h) : grad(z_2 - I_h z_2) dx,

and the estimate ``eta = sum_K eta_K = R(u_h)(z_2)``. (For a linear problem with
exact data integration this equals ``J(u_2) - J(u_h)``, ``u_2`` the P2 primal on
the same mesh: the higher-order adjoint buys a higher-order reference.) The
effectivity index ``eta / (J_ref - J(u_h))`` is measured against ``J_ref`` from
P2 on a mesh three times finer than the finest one of the study: its QoI
error is ``O(h^4)``, a small fraction of the smallest P1 error measured (checked: the
change of ``J_ref`` from a mesh 2/3 as fine is below 1 % of that error).

Since ``eta = J(u_2) - J(u_h)`` exactly, the effectivity is
``1 - (J_ref - J(u_2)) / (J_ref - J(u_h))``: one minus the ratio of the P2 to the P1 QoI
error on the same mesh, which is small and shrinks like ``h^2`` for smooth data (the
material interface keeps it near 0.5 % for elasticity). The accepted band is
[0.98, 1.02]: observed 0.994–1.000, plus the reference's own uncertainty (< 1 %).
"""

from __future__ import annotations

import numpy as np
import skfem

from fe2.macro import NewtonOptions, Problem
from fe2.materials import LinearConductivity, LinearElastic
from fe2.verify import observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Solution verification: dual-weighted-residual goal-oriented estimate"
BAND = (0.98, 1.02)


def _weight(x: np.ndarray) -> np.ndarray:
    """Smooth localized QoI weight ``(*pts)`` around (0.7, 0.6)."""
    return np.exp(-((x[0] - 0.7) ** 2 + (x[1] - 0.6) ** 2) / 0.02)


def _source(x: np.ndarray) -> np.ndarray:
    return 1.0 + 0.5 * np.sin(2.0 * x[0]) * np.cos(x[1])


def _mesh(n: int) -> skfem.Mesh:
    g = np.linspace(0.0, 1.0, n + 1)
    return skfem.MeshTri.init_tensor(g, g).with_boundaries(
        {"all": lambda x: np.ones(x.shape[1], dtype=bool)}
    ).with_subdomains({"left": lambda x: x[0] < 0.5, "right": lambda x: x[0] > 0.5})


def _physics(name: str):
    """(kind, materials per subdomain, load (x) -> (ncomp, *pts), QoI weight (x) -> same)."""
    if name == "conductivity":
        mats = {"left": LinearConductivity(1.0), "right": LinearConductivity(10.0)}
        return "scalar", mats, lambda x: _source(x)[None], lambda x: _weight(x)[None]
    mats = {"left": LinearElastic(1.0, 0.3, plane="strain"),
            "right": LinearElastic(10.0, 0.2, plane="strain")}
    return ("small_strain", mats,
            lambda x: np.stack([0.3 * _source(x), -_source(x)]),
            lambda x: np.stack([0.5 * _weight(x), _weight(x)]))


def _solve(mesh, kind, mats, load, order):
    # one quadrature (exact for P2 stiffness, degree 4 for the loads) for primal and adjoint,
    # so that R(u_h)(v_h) = 0 holds to round-off in the P2 quadrature of the estimate
    p = Problem(mesh, mats, kind=kind, order=order, intorder=4)
    p.dirichlet("all", 0.0)
    p.body_load(lambda x, t: t * load(x))
    sol = p.solve(NewtonOptions(rtol=1e-12, atol=1e-15))
    return p, sol.u


def _functional(basis: skfem.CellBasis, u: np.ndarray, weight) -> float:
    """``int weight(x) . u_h dx``."""
    uh = basis.interpolate(u)
    x = basis.global_coordinates().value
    w = weight(x)
    val = np.asarray(uh.value)
    val = val[None] if val.ndim == 2 else val
    return float(np.sum(np.einsum("i...,i...->...", w, val) * basis.dx))


def _p1_in_p2(p1: Problem, p2: Problem, u1: np.ndarray) -> np.ndarray:
    """Exact embedding of a P1 field (triangles) into the P2 space of the same mesh."""
    u2 = np.zeros(p2.basis.N)
    facets = p2.mesh.facets
    for c in range(p1.basis.nodal_dofs.shape[0]):
        vert = u1[p1.basis.nodal_dofs[c]]
        u2[p2.basis.nodal_dofs[c]] = vert
        u2[p2.basis.facet_dofs[c]] = 0.5 * (vert[facets[0]] + vert[facets[1]])
    return u2


def _p1_interpolant(p2: Problem, z2: np.ndarray) -> np.ndarray:
    """Nodal P1 interpolant of a P2 field, as a P2 dof vector."""
    zi = np.zeros_like(z2)
    facets = p2.mesh.facets
    for c in range(p2.basis.nodal_dofs.shape[0]):
        vert = z2[p2.basis.nodal_dofs[c]]
        zi[p2.basis.nodal_dofs[c]] = vert
        zi[p2.basis.facet_dofs[c]] = 0.5 * (vert[facets[0]] + vert[facets[1]])
    return zi


def estimate(n: int, name: str) -> dict:
    """Primal P1, adjoint P2, the estimate and its element indicators on an ``n x n`` mesh."""
    kind, mats, load, weight = _physics(name)
    mesh = _mesh(n)
    p1, u1 = _solve(mesh, kind, mats, load, 1)
    p2, z2 = _solve(mesh, kind, mats, weight, 2)
    _, u2 = _solve(mesh, kind, mats, load, 2)
    b2 = p2.basis
    g = p2.op.measure(_p1_in_p2(p1, p2, u1))
    flux = np.empty_like(g)
    for sub, mat in mats.items():
        els = mesh.subdomains[sub]
        flux[..., els, :] = mat.evaluate(g[..., els, :]).flux
    zt = b2.interpolate(z2 - _p1_interpolant(p2, z2))
    x = b2.global_coordinates().value
    f = load(x)
    zval = np.asarray(zt.value)
    zval = zval[None] if zval.ndim == 2 else zval
    zgrad = np.asarray(zt.grad)
    work = np.einsum("i...,i...->...", f, zval)
    if kind == "scalar":
        work = work - np.einsum("i...,i...->...", flux, zgrad)
    else:
        work = work - np.einsum("ij...,ij...->...", flux, zgrad)
    eta_k = np.sum(work * b2.dx, axis=1)
    # global estimate R(u_h)(z_2) without the interpolant (Galerkin orthogonality check)
    fint = p2.op.internal_force(flux)
    fext = skfem.LinearForm(
        lambda v, w: np.einsum("i...,i...->...", w["f"], v if v.ndim > 2 else v[None])
    ).assemble(b2, f=f)
    eta_global = float((fext - fint) @ z2)
    return {
        "n": n,
        "J_h": _functional(p1.basis, u1, weight),
        "J_2": _functional(b2, u2, weight),
        "eta": float(eta_k.sum()),
        "eta_global": eta_global,
        "eta_abs": float(np.abs(eta_k).sum()),
        "eta_k": eta_k,
        "dofs": p1.basis.N,
    }


def reference(n: int, name: str) -> float:
    """``J(u)`` from P2 on an ``n x n`` mesh."""
    kind, mats, load, weight = _physics(name)
    p, u = _solve(_mesh(n), kind, mats, load, 2)
    return _functional(skfem.Basis(p.mesh, p.element, intorder=6), u, weight)


def run(quick: bool) -> StudyResult:
    ns = [8, 16, 32] if quick else [8, 16, 32, 64]
    n_ref = 3 * ns[-1]
    n_chk = 2 * n_ref // 3
    res = StudyResult(
        "dwr", TITLE,
        "Linear macro conductivity and plane-strain elasticity on the unit square (materials "
        "1 | 10 in the two halves, smooth source / body force, u = 0 on the boundary), "
        "QoI J(u) = ∫ j·u with a smooth weight around (0.7, 0.6). Primal P1, adjoint P2 on "
        "the same mesh, DWR estimate η = Σ_K η_K with z₂ - I_h z₂. Expected: effectivity "
        f"η / (J_ref - J(u_h)) in [{BAND[0]:g}, {BAND[1]:g}] on every mesh (J_ref: P2 on "
        f"{n_ref}×{n_ref}, its change from {n_chk}×{n_chk} below 1 % of the smallest error); "
        "η equal to the un-localized R(u_h)(z₂) (Galerkin orthogonality, ≤ 1e-8 relative) and "
        "to J(u₂) - J(u_h) with u₂ the P2 primal on the same mesh (an independent solve; exact "
        "for a linear problem, ≤ 1e-8 relative); QoI error rate 2 ± 0.1 for P1.",
    )
    table = Table(["physics", "n", "P1 dofs", "J(u_h)", "J_ref - J(u_h)", "η", "effectivity",
                   "Σ|η_K| / |error|"])
    eff_series = []
    for name in ("conductivity", "elasticity"):
        J_ref = reference(n_ref, name)
        dJ_ref = abs(J_ref - reference(n_chk, name))
        hs, errs, etas, effs = [], [], [], []
        for n in ns:
            e = estimate(n, name)
            err = J_ref - e["J_h"]
            eff = e["eta"] / err
            hs.append(1.0 / n)
            errs.append(abs(err))
            etas.append(abs(e["eta"]))
            effs.append(eff)
            table.add(name, n, e["dofs"], e["J_h"], err, e["eta"], eff, e["eta_abs"] / abs(err))
            res.check(Check.within(f"{name}, n = {n}: effectivity index", eff, *BAND))
            rel = abs(e["eta"] - e["eta_global"]) / abs(e["eta_global"])
            res.check(Check.at_most(f"{name}, n = {n}: Σ η_K = R(u_h)(z₂)", rel, 1e-8))
            rel2 = abs(e["eta"] - (e["J_2"] - e["J_h"])) / abs(e["eta"])
            res.check(Check.at_most(f"{name}, n = {n}: η = J(u₂) - J(u_h) (P2 primal)", rel2,
                                    1e-8))
        res.check(Check.at_most(f"{name}: |J_ref({n_ref}) - J_ref({n_chk})| / smallest error",
                                dJ_ref / min(errs), 0.01))
        rate = observed_rate(hs, errs)
        res.check(Check.near(f"{name}: QoI error rate (P1)", rate, 2.0, 0.1))
        res.plots.append(Plot(
            f"qoi_{name}", f"{name}: QoI error and DWR estimate", "h", "|J(u) - J(u_h)|",
            [Series("true error (vs fine P2)", hs, errs), Series("DWR estimate |η|", hs, etas,
                                                                  "s--")],
            slopes=[(2.0, "slope 2")],
        ))
        eff_series.append(Series(name, hs, effs))
    res.plots.append(Plot("effectivity", "DWR effectivity index η / (J(u) - J(u_h))", "h",
                          "effectivity", eff_series, yscale="linear", band=BAND,
                          hlines=[(1.0, "ideal")]))
    res.tables.append(("Goal-oriented error estimates", table))
    return res
