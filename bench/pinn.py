"""PINN vs finite elements for the periodic scalar cell problem (issue 17, item 5).

Effective conductivity of two two-phase unit cells, k = 1 (matrix) and 10:

* a laminate, layers normal to y_1 at fractions 1/2: exact K = diag(20/11, 5.5)
  (harmonic and arithmetic means);
* a centred circular inclusion of volume fraction 0.3 (k = 10 inside), i.e. a square array
  of cylinders: reference from Rayleigh's multipole series as truncated by Perrins,
  McKenzie & McPhedran (Proc. R. Soc. Lond. A 369, 207, 1979), cross-checked by fe2's
  periodic RVE with quadratic elements on a gmsh mesh of size 1/128 (the polygonal mesh
  misses a fraction ~ h^2 / (6 r^2) of the disk); Hashin-Shtrikman bounds as a sanity check.

fe2 side: ``RVE(cell, [LinearConductivity(1), LinearConductivity(10)])`` with periodic
fluctuations, P1/P2 (triangles) or Q1 (laminate), seconds of meshing + solve.
PINN side: :func:`fe2.surrogate.pinn_conductivity` (deep Ritz, periodic Fourier features,
Adam on fresh stratified samples), seconds of training + evaluation. Every number is
measured in this run (wall-clock, one thread: torch.set_num_threads(1),
OPENBLAS_NUM_THREADS=1 on a shared machine).

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/pinn.py [--quick]

Needs the ``torch`` extra (``pip install "fe2[torch]"``) and gmsh.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch

from fe2.homogenization import RVE, cells, hashin_shtrikman
from fe2.materials import LinearConductivity
from fe2.surrogate import pinn_conductivity

K0, K1 = 1.0, 10.0
VF = 0.3
R = math.sqrt(VF / math.pi)
EXACT_LAMINATE = (1.0 / (0.5 / K0 + 0.5 / K1), 0.5 * (K0 + K1))


def laminate_k(y):
    return np.where(y[0] < 0.5, K0, K1)


def inclusion_k(y):
    return np.where((y[0] - 0.5) ** 2 + (y[1] - 0.5) ** 2 < R**2, K1, K0)


def rayleigh_square_array(f: float, sigma: float) -> float:
    """K / k_matrix of a square array of cylinders (fraction f, contrast sigma), PMM 1979."""
    t = (1.0 + sigma) / (1.0 - sigma)
    return 1.0 - 2.0 * f / (t + f - 0.305827 * f**4 * t / (t * t - 1.402958 * f**8)
                            - 0.013362 * f**8 / t)


def fe(cell_factory, order):
    t0 = time.perf_counter()
    cell = cell_factory()
    rve = RVE(cell, [LinearConductivity(K0, dim=2), LinearConductivity(K1, dim=2)],
              order=order)
    K = rve.effective_tensor()
    return np.asarray(K), time.perf_counter() - t0, rve


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, torch {torch.__version__}, OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    pinn_runs = [(16, (16, 16), 1, 600), (32, (16, 16), 1, 1000)]
    if not args.quick:
        pinn_runs += [(32, (32, 32), 1, 3000), (32, (32, 32), 3, 3000)]

    # ---------------------------------------------------------------- laminate
    print(f"\n## Laminate k = {K0:g} | {K1:g}, fractions 1/2: exact K_11 = "
          f"{EXACT_LAMINATE[0]:.6f} (harmonic), K_22 = {EXACT_LAMINATE[1]:.6f} (arithmetic)")
    print("| method | setting | K_11 | K_22 | rel. error K_11 | rel. error K_22 | seconds |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for res in (4, 32):
        K, sec, rve = fe(lambda res=res: cells.laminate([0.5, 0.5], resolution=res), 1)
        rows.append(("fe2 RVE (Q1, periodic)", f"{res}x{res} elements, "
                     f"{rve.cell.mesh.p.shape[1]} nodes", K, sec))
    for ng, hid, harm, it in pinn_runs:
        r = pinn_conductivity(laminate_k, 2, n_grid=ng, hidden=hid, harmonics=harm,
                              iterations=it)
        rows.append(("PINN (deep Ritz)", f"{ng}^2 pts/iter, hidden {hid}, {harm} harmonic(s), "
                     f"{it} Adam", r.k_eff, r.seconds))
    for name, setting, K, sec in rows:
        e = [abs(K[i, i] - EXACT_LAMINATE[i]) / EXACT_LAMINATE[i] for i in (0, 1)]
        print(f"| {name} | {setting} | {K[0, 0]:.5f} | {K[1, 1]:.5f} | {e[0]:.1e} | "
              f"{e[1]:.1e} | {sec:.2f} |", flush=True)

    # --------------------------------------------------------------- inclusion
    href = 1.0 / (64 if args.quick else 128)
    kref = K0 * rayleigh_square_array(VF, K1 / K0)
    Kfine, secfine, rve = fe(lambda: cells.circular_inclusion(VF, mesh_size=href), 2)
    kfine = 0.5 * (Kfine[0, 0] + Kfine[1, 1])
    hs = hashin_shtrikman([K0, K1], [1 - VF, VF], dim=2)
    print(f"\n## Circular inclusion vf = {VF}, k = {K1:g} in {K0:g}: reference K = {kref:.6f} "
          f"(Rayleigh / Perrins-McKenzie-McPhedran 1979); fe2 RVE P2, gmsh h = "
          f"1/{round(1 / href)} ({rve.cell.mesh.p.shape[1]} vertices, {secfine:.1f} s): "
          f"{kfine:.6f} (rel. diff. {abs(kfine - kref) / kref:.1e}, K_11 - K_22 = "
          f"{Kfine[0, 0] - Kfine[1, 1]:.1e}); Hashin-Shtrikman [{hs.lower:.4f}, "
          f"{hs.upper:.4f}]")
    print("| method | setting | K_11 | K_22 | rel. error (mean of K_11, K_22) | seconds |")
    print("|---|---|---|---|---|---|")
    rows = []
    for h, order in ((1 / 8, 1), (1 / 16, 1), (1 / 32, 1), (1 / 16, 2), (1 / 32, 2)):
        K, sec, rve = fe(lambda h=h: cells.circular_inclusion(VF, mesh_size=h), order)
        rows.append((f"fe2 RVE (P{order}, periodic)", f"gmsh h = 1/{round(1 / h)}, "
                     f"{rve.cell.mesh.t.shape[1]} triangles", K, sec))
    for ng, hid, harm, it in pinn_runs:
        r = pinn_conductivity(inclusion_k, 2, n_grid=ng, hidden=hid, harmonics=harm,
                              iterations=it)
        rows.append(("PINN (deep Ritz)", f"{ng}^2 pts/iter, hidden {hid}, {harm} harmonic(s), "
                     f"{it} Adam", r.k_eff, r.seconds))
    for name, setting, K, sec in rows:
        e = abs(0.5 * (K[0, 0] + K[1, 1]) - kref) / kref
        print(f"| {name} | {setting} | {K[0, 0]:.5f} | {K[1, 1]:.5f} | {e:.1e} | {sec:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
