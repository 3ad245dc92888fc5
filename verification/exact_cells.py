"""Exact effective tensors: laminates (any BC-free closed form) and the 2D checkerboard.

* Laminates, periodic BC: conductivity = harmonic mean across the layers and
  arithmetic mean along them; elasticity = the layered (Backus-type) formula from
  traction continuity and strain compatibility, written here independently.
  Interfaces are mesh lines, so the finite elements reproduce them to round-off.
* 2D checkerboard of conductivities 1 and c: Keller–Dykhne ``K = sqrt(c) I``;
  the error of the voxel FE approximation decays like ``h^(2 alpha)`` with the
  corner-singularity exponent ``alpha = (2/pi) arccos((c - 1)/(c + 1))``.
"""

from __future__ import annotations

import math

import numpy as np

from fe2.homogenization import RVE, cells
from fe2.materials import LinearConductivity, LinearElastic
from fe2.verify import observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Micro: laminate and checkerboard exact values"


def layered_stiffness(Cs: list[np.ndarray], fractions: list[float], n: np.ndarray) -> np.ndarray:
    """Exact effective stiffness ``(d, d, d, d)`` of a laminate with unit normal ``n``.

    In layer p the strain is ``E + sym(a_p ⊗ n)``; continuity of the traction
    ``t = σ n`` and ``<a> = 0`` give ``a_p = N_p^-1 (t - (C_p:E) n)`` with the
    acoustic tensors ``N_p,ik = C_p,ijkl n_j n_l`` and
    ``t = <N^-1>^-1 <N^-1 (C:E) n>``.
    """
    d = Cs[0].shape[0]
    Ninv = [np.linalg.inv(np.einsum("ijkl,j,l->ik", C, n, n)) for C in Cs]
    mean_Ninv = sum(f * x for f, x in zip(fractions, Ninv, strict=True))
    out = np.zeros((d,) * 4)
    for k in range(d):
        for l in range(d):
            E = np.zeros((d, d))
            E[k, l] += 0.5
            E[l, k] += 0.5
            CEn = [np.einsum("ijkl,kl,j->i", C, E, n) for C in Cs]
            t = np.linalg.solve(
                mean_Ninv, sum(f * x @ c for f, x, c in zip(fractions, Ninv, CEn, strict=True))
            )
            for f, C, x, c in zip(fractions, Cs, Ninv, CEn, strict=True):
                a = x @ (t - c)
                out[:, :, k, l] += f * (np.einsum("ijkl,kl->ij", C, E)
                                        + np.einsum("ijkl,k,l->ij", C, a, n))
    return out


def run(quick: bool) -> StudyResult:
    res = StudyResult(
        "exact_cells", TITLE,
        "Laminates under periodic BC against the arithmetic/harmonic means (conductivity) "
        "and the layered formula (elasticity, 2D plane strain and 3D, P1 and P2): expected "
        "relative error ≤ 1e-9. Periodic 2D checkerboard (k = 1, 10) against Keller–Dykhne "
        "√10, error decaying at the corner-singularity rate 2α (±0.05) and isotropy of the "
        "computed tensor.",
    )
    t = Table(["cell", "physics", "order", "relative error"])
    fr = [0.3, 0.7]
    k = [1.0, 8.0]
    for dim, normal, order in [(2, 0, 1), (2, 1, 2), (3, 2, 1)]:
        cell = cells.laminate(fr, normal=normal, dim=dim, resolution=3)
        K = RVE(cell, [LinearConductivity(v, dim=dim) for v in k], order=order).effective_tensor()
        harm = 1.0 / (fr[0] / k[0] + fr[1] / k[1])
        arit = fr[0] * k[0] + fr[1] * k[1]
        ref = np.diag([harm if a == normal else arit for a in range(dim)])
        err = float(np.abs(K - ref).max() / arit)
        label = f"{dim}D laminate, normal x{normal + 1}"
        t.add(label, "conductivity", order, err)
        res.check(Check.at_most(f"{label}, P{order}: conductivity = means", err, 1e-9))
    cases = [(2, 1, 1), (2, 0, 2), (3, 0, 1)] if quick else [(2, 1, 1), (2, 0, 2), (3, 0, 1),
                                                              (3, 2, 1), (3, 1, 2)]
    for dim, normal, order in cases:
        plane = "strain" if dim == 2 else None
        mats = [LinearElastic(2.0, 0.2, plane=plane), LinearElastic(30.0, 0.35, plane=plane)]
        f = [0.6, 0.4]
        cell = cells.laminate(f, normal=normal, dim=dim, resolution=2,
                              size=(1.0, 2.0, 0.5)[:dim])
        C = RVE(cell, mats, order=order).effective_tensor()
        ref = layered_stiffness([m.stiffness() for m in mats], f, np.eye(dim)[normal])
        err = float(np.abs(C - ref).max() / np.abs(ref).max())
        label = f"{dim}D laminate, normal x{normal + 1}"
        t.add(label, "elasticity", order, err)
        res.check(Check.at_most(f"{label}, P{order}: stiffness = layered formula", err, 1e-9))
    res.tables.append(("Laminates (periodic BC)", t))

    c = 10.0
    exact = math.sqrt(c)
    alpha = 2.0 / math.pi * math.acos((c - 1.0) / (c + 1.0))
    ns = np.array([8, 16, 32, 64] if quick else [16, 32, 64, 128, 256])
    tc = Table(["voxels per square", "K11", "K11/√c - 1", "anisotropy |K - K11 I|/K11"])
    errs = []
    aniso = 0.0
    for n in ns:
        K = RVE(cells.checkerboard(int(n)), [LinearConductivity(1.0),
                                             LinearConductivity(c)]).effective_tensor()
        e = K[0, 0] / exact - 1.0
        a = float(np.abs(K - K[0, 0] * np.eye(2)).max() / K[0, 0])
        aniso = max(aniso, a)
        errs.append(e)
        tc.add(int(n), K[0, 0], e, a)
    errs = np.array(errs)
    rate = observed_rate(1.0 / ns[1:], errs[1:])
    res.tables.append((f"Checkerboard, c = {c:g}, exact √c = {exact:.6f}, 2α = {2 * alpha:.4f}",
                       tc))
    res.check(Check.holds("checkerboard: FE error > 0 (conforming FE is stiffer)",
                          bool(np.all(errs > 0)), "all > 0", f"min {errs.min():.3e}"))
    res.check(Check.near("checkerboard: error rate (finest meshes)", rate, 2 * alpha, 0.05))
    res.check(Check.at_most("checkerboard: relative error on the finest mesh", float(errs[-1]),
                            0.02 if quick else 0.007))
    res.check(Check.at_most("checkerboard: anisotropy of K", aniso, 1e-9))
    res.plots.append(Plot("checkerboard", "Checkerboard K11/√c - 1 vs voxel size",
                          "h (voxel / square edge)", "relative error",
                          [Series("periodic FE", 1.0 / ns, errs)],
                          slopes=[(2 * alpha, f"slope 2α = {2 * alpha:.3f}")]))
    return res
