"""Hill–Mandel macro-homogeneity for every boundary condition and every physics.

For each of KUBC, periodic and TUBC and each phase law (linear and nonlinear
conductivity, linear elasticity, J2 plasticity beyond yield, neo-Hookean and
Saint Venant–Kirchhoff at 15 % stretch) the cell is solved once and the volume
averages are recomputed from the micro fields (:func:`fe2.verify.hill_mandel`, on
:func:`fe2.homogenization.averages.hill_mandel`, fe2's one Hill–Mandel computation):
``<q : g> = <q> : <g>`` and ``<g> = G`` must hold to the micro solver tolerance.
"""

from __future__ import annotations

import numpy as np

from fe2.homogenization import RVE, cells
from fe2.homogenization.constraints import KINDS as BOUNDARY_CONDITIONS
from fe2.materials import (
    J2Plasticity,
    LinearConductivity,
    LinearElastic,
    NeoHookean,
    NonlinearConductivity,
    SaintVenantKirchhoff,
)
from fe2.verify import hill_mandel
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Micro: Hill–Mandel condition for every BC and physics"
TOL = 1e-9


def _physics(dim: int) -> list[tuple[str, list, np.ndarray]]:
    """(label, phases, macro input) for a ``dim``-D cell."""
    if dim == 2:
        g = np.array([0.7, -1.3])
        eps = np.array([[0.01, 0.004], [0.004, -0.003]])
        F = np.array([[1.15, 0.1], [-0.05, 0.92]])
        plane = "strain"
    else:
        g = np.array([0.7, -1.3, 0.4])
        eps = np.array([[0.01, 0.004, 0.0], [0.004, -0.003, 0.002], [0.0, 0.002, 0.001]])
        F = np.array([[1.15, 0.1, 0.0], [-0.05, 0.92, 0.03], [0.02, 0.0, 1.05]])
        plane = None
    return [
        ("linear conductivity", [LinearConductivity(1.0, dim=dim),
                                 LinearConductivity(10.0, dim=dim)], g),
        ("nonlinear conductivity", [NonlinearConductivity(1.0, 3.0, dim=dim),
                                    NonlinearConductivity(5.0, 1.5, reg=0.1, dim=dim)], g),
        ("linear elasticity", [LinearElastic(1.0, 0.3, plane=plane),
                               LinearElastic(10.0, 0.2, plane=plane)], eps),
        ("J2 plasticity", [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=dim),
                           LinearElastic(10.0, 0.2, plane=plane)], eps),
        ("neo-Hookean", [NeoHookean(1.0, 0.3, dim=dim), NeoHookean(8.0, 0.4, dim=dim)], F),
        ("Saint Venant–Kirchhoff", [SaintVenantKirchhoff(1.0, 0.3, dim=dim),
                                    SaintVenantKirchhoff(8.0, 0.3, dim=dim)], F),
    ]


def run(quick: bool) -> StudyResult:
    res = StudyResult(
        "hill_mandel", TITLE,
        "Each cell is solved at one macro input G per boundary condition and phase law; the "
        "averages are recomputed from the micro quadrature fields. Expected: relative "
        f"Hill–Mandel residual |<q:g> - <q>:<g>| / (|<q>||<g>|) ≤ {TOL:g}, the average micro "
        "input equals G and the recomputed average flux equals the oracle's (≤ 1e-10). "
        "Cells: a disk inclusion with a curved interface (gmsh, 2D)" +
        ("" if quick else " and a random 3D voxel cell") + ".",
    )
    cell_list = [("2D disk", cells.circular_inclusion(0.3, mesh_size=0.15 if quick else 0.08))]
    if not quick:
        rng = np.random.default_rng(7)
        img = np.kron((rng.random((3, 3, 3)) < 0.4).astype(int), np.ones((2, 2, 2), int))
        cell_list.append(("3D voxels", cells.from_image(img, size=1.0)))
    table = Table(["cell", "physics", "bc", "relative HM residual", "|<g> - G|/|G|",
                   "|<q> - Q|/|Q|"])
    pts: dict[str, tuple[list, list]] = {bc: ([], []) for bc in BOUNDARY_CONDITIONS}
    k = 0
    for cname, cell in cell_list:
        for label, phases, g in _physics(cell.dim):
            for bc in BOUNDARY_CONDITIONS:
                hm = hill_mandel(RVE(cell, phases, bc=bc), g)
                table.add(cname, label, bc, hm.relative, hm.input_error, hm.flux_error)
                res.check(Check.at_most(f"{cname}, {label}, {bc}: relative HM residual",
                                        hm.relative, TOL))
                res.check(Check.at_most(f"{cname}, {label}, {bc}: average input and flux",
                                        max(hm.input_error, hm.flux_error), 1e-10))
                pts[bc][0].append(k)
                pts[bc][1].append(max(hm.relative, 1e-18))
                k += 1
    res.tables.append(("Hill–Mandel residuals recomputed from the micro fields", table))
    res.plots.append(Plot(
        "residuals", "Relative Hill–Mandel residual per case", "case (cell × physics × bc)",
        "relative residual", [Series(bc, x, y, m) for (bc, (x, y)), m in
                              zip(pts.items(), ("o", "s", "^"), strict=True)], xscale="linear",
        hlines=[(TOL, f"tolerance {TOL:g}")],
    ))
    return res
