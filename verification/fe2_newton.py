"""FE² macro Newton with a nonlinear RVE converges quadratically.

The RVE returns the consistent homogenized tangent (static condensation of the
converged micro stiffness), so the macro Newton iteration driven by it converges
quadratically: the observed order ``log(r_{k+1}/r_k) / log(r_k/r_{k-1})`` tends
to 2 and ``r_{k+1} / r_k^2`` stays bounded, until the residual reaches the
accuracy of the micro solves (micro tolerance 1e-12 relative).

* finite strain: neo-Hookean phases (contrast 8), macro bar stretched by 20 %;
* small strain (full tier): J2 plasticity matrix with elastic inclusions, loaded
  well beyond yield.
"""

from __future__ import annotations

import numpy as np
import skfem

from fe2.homogenization import RVE, cells
from fe2.macro import NewtonOptions, Problem
from fe2.materials import J2Plasticity, LinearElastic, NeoHookean
from fe2.verify import newton_orders
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "FE²: quadratic macro Newton convergence with a nonlinear RVE"


def _mesh(n: int) -> skfem.Mesh:
    g = np.linspace(0.0, 1.0, n + 1)
    return skfem.MeshTri.init_tensor(g, g).with_boundaries(
        {"left": lambda x: np.isclose(x[0], 0.0), "right": lambda x: np.isclose(x[0], 1.0)})


def _case(name, kind, phases, stretch, n, steps):
    img = np.kron(cells.checkerboard(1, squares=4).image, np.ones((2, 2), int))
    img[2:4, 2:6] = 1  # break the symmetry: anisotropic cell
    rve = RVE(cells.from_image(img, size=1.0), phases, bc="periodic", rtol=1e-12)
    p = Problem(_mesh(n), rve, kind=kind, order=1)
    p.dirichlet("left", 0.0)
    p.dirichlet("right", lambda x, t: np.stack([t * stretch + 0 * x[0], 0.1 * t * stretch
                                                * x[1]]))
    sol = p.solve(NewtonOptions(rtol=1e-11, atol=1e-14, steps=steps, max_iter=15))
    return sol.steps, p.quadrature_data()


def run(quick: bool) -> StudyResult:
    res = StudyResult(
        "fe2_newton", TITLE,
        "Macro unit square (P1 triangles) with the left edge fixed and the right edge "
        "displaced, every quadrature point answered by a periodic RVE (voxel cell, micro "
        "Newton tolerance 1e-12). Expected, for each load step: observed Newton order ≥ 1.8 "
        "from the last three residuals above the round-off floor (1e-12 × the largest "
        "residual of the load path), and r_{k+1} / r_k^2 bounded (reported).",
    )
    cases = [("neo-Hookean, finite strain", "finite_strain",
              [NeoHookean(1.0, 0.3, dim=2), NeoHookean(8.0, 0.4, dim=2)], 0.2, 3, 2)]
    if not quick:
        cases.append(("J2 matrix + elastic inclusions, small strain", "small_strain",
                      [J2Plasticity(1.0, 0.3, 0.002, H_iso=0.05, dim=2),
                       LinearElastic(10.0, 0.2, plane="strain")], 0.01, 4, 1))
    table = Table(["case", "load step", "residuals", "observed orders", "max r_{k+1}/r_k^2"])
    series = []
    for name, kind, phases, stretch, n, steps in cases:
        records, q = _case(name, kind, phases, stretch, n, steps)
        scale = max(max(rec.residuals) for rec in records)
        for s, rec in enumerate(records):
            r = np.asarray(rec.residuals)
            # from the load step's first (predictor) residual on; the cached residual of the
            # previous converged step, if any, is round-off small and is dropped
            r = r[int(np.argmax(r > 1e-8 * r.max())):]
            kept = r[r > 1e-12 * scale]  # above the round-off floor of the load scale
            orders = newton_orders(kept, floor=0.0)
            ratio = float(np.max(kept[1:] / kept[:-1] ** 2)) if kept.size > 1 else np.nan
            table.add(name if s == 0 else "", s + 1, ", ".join(f"{x:.2e}" for x in r),
                      ", ".join(f"{x:.2f}" for x in orders), ratio)
            res.check(Check.at_least(f"{name}, step {s + 1}: observed Newton order",
                                     float(orders[-1]) if orders.size else float("nan"), 1.8))
            series.append(Series(f"{name}, step {s + 1}", np.arange(r.size), r / r[0]))
        if "state_alpha" in q:
            plastic = float(np.mean(q["state_alpha"].max(axis=tuple(range(q["state_alpha"].ndim
                                                                           - 2))) > 0))
            res.check(Check.at_least(f"{name}: fraction of macro points with micro plasticity",
                                     plastic, 0.5))
    res.tables.append(("Macro Newton residual histories", table))
    res.plots.append(Plot("newton", "Macro Newton residuals (FE² with nonlinear RVE)",
                          "iteration k", "|r_k| / |r_0|", series, xscale="linear"))
    return res
