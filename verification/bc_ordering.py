"""Ordering of apparent tensors: Voigt ≥ KUBC ≥ periodic ≥ TUBC ≥ Reuss, and its convergence.

For every random cell the five tensors must be ordered in the sense of quadratic
forms (:func:`fe2.verify.apparent_ordering`): the minimum principle for KUBC
(kinematically admissible affine fields) and the complementary one for TUBC give
it for any microstructure. As the cell grows the boundary layer where the
conditions differ becomes a vanishing fraction of the volume: the ensemble mean
of the gap ``(KUBC - TUBC) / periodic`` decreases, roughly like ``1/L``.
Also checked on gmsh cells with curved inclusions (1, 4 and 16 random disks).
"""

from __future__ import annotations

import math

import numpy as np

from fe2.homogenization import RVE, cells, isotropic_moduli, reuss_bound, voigt_bound
from fe2.homogenization.rve import BOUNDARY_CONDITIONS
from fe2.materials import LinearConductivity, LinearElastic
from fe2.verify import apparent_ordering
from verification.core import Check, Plot, Series, StudyResult, Table
from verification.sve import random_checkerboard

TITLE = "Micro: KUBC ≥ periodic ≥ TUBC and convergence with RVE size"


def _physics():
    c = 10.0
    cond = [LinearConductivity(1.0), LinearConductivity(c)]
    elas = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(c, 0.3, plane="strain")]
    return [
        ("conductivity", cond, [m.K for m in cond], lambda K: float(np.trace(K)) / 2),
        ("elasticity", elas, [m.stiffness() for m in elas], lambda C: isotropic_moduli(C)[0]),
    ]


def _chain(cell, mats, tensors):
    f = cell.volume_fractions()
    C = {bc: RVE(cell, mats, bc=bc).effective_tensor() for bc in BOUNDARY_CONDITIONS}
    chain = [voigt_bound(tensors, f), C["kubc"], C["periodic"], C["tubc"],
             reuss_bound(tensors, f)]
    return C, apparent_ordering(chain)


def run(quick: bool) -> StudyResult:
    Ls = [4, 8, 16, 32]
    n = 6 if quick else 20
    res = StudyResult(
        "bc_ordering", TITLE,
        f"Random checkerboards (phase probability 1/2, contrast 10, 2×2 elements per voxel), "
        f"{n} cells per size L, conductivity and plane-strain elasticity. Expected: Voigt ≥ "
        "KUBC ≥ periodic ≥ TUBC ≥ Reuss for every cell (minimum eigenvalue of each difference "
        "≥ -1e-10 relative); the ensemble-mean gap (KUBC - TUBC)/periodic of the isotropic "
        "scalar (mean conductivity eigenvalue; bulk modulus) decreases monotonically with L "
        "with a fitted exponent ≈ -1 (a boundary layer of one voxel; accepted [-1.1, -0.75], "
        "sizes L ≥ 8; observed -0.86 to -0.92). Random gmsh disk "
        "cells (1, 4, 16 inclusions at 30 %) obey the same ordering and the same trend.",
    )
    table = Table(["physics", "L", "mean KUBC", "mean periodic", "mean TUBC", "gap",
                   "min ordering margin"])
    plots = []
    for name, mats, tensors, scalar in _physics():
        gaps, means = [], {bc: [] for bc in BOUNDARY_CONDITIONS}
        worst, violations = np.inf, 0
        for L in Ls:
            rng = np.random.default_rng([21, L])
            vals = {bc: [] for bc in BOUNDARY_CONDITIONS}
            margin = np.inf
            for _ in range(n):
                C, order = _chain(random_checkerboard(L, rng), mats, tensors)
                margin = min(margin, float(order.gaps.min()))
                violations += 0 if order.holds else 1
                for bc in BOUNDARY_CONDITIONS:
                    vals[bc].append(scalar(C[bc]))
            worst = min(worst, margin)
            m = {bc: float(np.mean(v)) for bc, v in vals.items()}
            for bc in BOUNDARY_CONDITIONS:
                means[bc].append(m[bc])
            gaps.append((m["kubc"] - m["tubc"]) / m["periodic"])
            table.add(name, L, m["kubc"], m["periodic"], m["tubc"], gaps[-1], margin)
        res.check(Check.holds(f"{name}: Voigt ≥ KUBC ≥ periodic ≥ TUBC ≥ Reuss, every cell",
                              violations == 0, "0 violations",
                              f"{violations} violations (min margin {worst:.2e})"))
        La = np.array(Ls, float)
        g = np.array(gaps)
        res.check(Check.holds(f"{name}: mean gap decreases with L", bool(np.all(np.diff(g) < 0)),
                              "strictly decreasing", ", ".join(f"{x:.3f}" for x in g)))
        expo = float(np.polyfit(np.log(La[La >= 8]), np.log(g[La >= 8]), 1)[0])
        res.check(Check.within(f"{name}: fitted exponent of the gap vs L", expo, -1.1, -0.75))
        plots.append(Plot(f"gap_{name}", f"{name}: (KUBC - TUBC)/periodic, ensemble mean",
                          "L", "relative gap", [Series(name, Ls, gaps)],
                          slopes=[(-1.0, "slope -1")]))
        plots.append(Plot(f"means_{name}", f"{name}: ensemble means of the apparent scalar",
                          "L", "apparent value",
                          [Series(bc, Ls, means[bc]) for bc in BOUNDARY_CONDITIONS],
                          yscale="linear"))
    res.tables.append(("Random checkerboards: ensemble means per BC", table))

    # curved inclusions (gmsh), 1, 4, 16 disks at 30 %
    tg = Table(["inclusions", "physics", "KUBC", "periodic", "TUBC", "gap", "ordering holds"])
    counts = [1, 4] if quick else [1, 4, 16]
    for name, mats, tensors, scalar in _physics():
        gaps = []
        for k in counts:
            cell = cells.random_inclusions(0.3, k, seed=5, mesh_size=0.1 / math.sqrt(k))
            C, order = _chain(cell, mats, tensors)
            v = {bc: scalar(C[bc]) for bc in BOUNDARY_CONDITIONS}
            gaps.append((v["kubc"] - v["tubc"]) / v["periodic"])
            tg.add(k, name, v["kubc"], v["periodic"], v["tubc"], gaps[-1], order.holds)
            res.check(Check.holds(f"{name}, {k} disks: ordering", order.holds, "holds",
                                  f"min margin {order.gaps.min():.2e}"))
        res.check(Check.holds(f"{name}, disks: gap decreases with the number of inclusions",
                              bool(np.all(np.diff(gaps) < 0)), "strictly decreasing",
                              ", ".join(f"{x:.3f}" for x in gaps)))
    res.tables.append(("Random disk cells (gmsh, curved interfaces)", tg))
    res.plots.extend(plots)
    return res
