"""Statistical volume elements: ensemble mean and variance of apparent properties vs size.

Cells are random checkerboards: ``L^d`` voxels of edge 1, each of phase 1 with
probability 1/2 independently (correlation length one voxel), every voxel
meshed by ``sub^d`` elements. The apparent conductivity (mean eigenvalue of the
periodic apparent tensor) is computed for an ensemble of cells per size ``L``.

* Variance: the apparent property is an average over ``~L^d`` weakly
  correlated regions, so ``Var ~ L^-d``: the fitted exponent is ``-d``.
* Mean against a converged large-cell value: the periodic apparent property of
  a cell much larger than the SVEs (2D: ``L = 128``; 3D: ``L = 24``), averaged over
  a few such cells with the same discretization, is the effective value up to its
  own standard error; the SVE ensemble mean at the largest ``L`` must agree with
  it within three combined standard errors (the same voxel-discretization bias
  enters both, so the check is as tight as the statistics allow).
* Mean (2D): for a statistically isotropic, phase-symmetric two-phase medium in
  2D the effective conductivity is exactly ``sqrt(k1 k2)`` (Keller–Dykhne
  duality). The large-cell value must lie above it (conforming elements
  over-estimate: no more than three standard errors below) and within the
  voxel-discretization bias of the conforming elements at the voxel corners
  (measured about 3 % at ``sub = 2`` and 1.5 % at ``sub = 4``; allowed 4 % / 2 %).
* Mean (3D, full tier): also between the Hashin–Shtrikman bounds.
"""

from __future__ import annotations

import math

import numpy as np

from fe2.homogenization import RVE, cells, hashin_shtrikman
from fe2.materials import LinearConductivity
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Micro: statistical volume elements (mean and variance vs size)"


def random_checkerboard(L: int, rng: np.random.Generator, dim: int = 2, sub: int = 2,
                        p: float = 0.5) -> cells.Cell:
    """Random voxel cell: ``L^dim`` unit voxels, phase 1 with probability ``p``.

    Each voxel is split into ``sub^dim`` elements; the box has edge ``L``.
    """
    img = (rng.random((L,) * dim) < p).astype(int)
    img = np.kron(img, np.ones((sub,) * dim, dtype=int))
    return cells.from_image(img, size=float(L))


def _ensemble(L: int, n: int, seed: int, dim: int, sub: int, mats: list) -> np.ndarray:
    rng = np.random.default_rng([seed, L, dim])
    out = np.empty(n)
    for s in range(n):
        K = RVE(random_checkerboard(L, rng, dim, sub), mats).effective_tensor()
        out[s] = np.trace(K) / dim
    return out


def _large_cells(L: int, n: int, seed: int, dim: int, sub: int, mats: list
                 ) -> tuple[float, float]:
    """Mean apparent conductivity of ``n`` cells of size ``L`` and its standard error."""
    k = _ensemble(L, n, seed, dim, sub, mats)
    return float(k.mean()), float(k.std(ddof=1) / math.sqrt(n))


def _agree(res: StudyResult, label: str, m: float, se: float, ref: float, se_ref: float) -> None:
    """Check ``|m - ref| <= 3 sqrt(se^2 + se_ref^2)``."""
    tol = 3.0 * math.hypot(se, se_ref)
    res.check(Check.at_most(f"{label}: |SVE mean - large-cell mean| (3 combined standard "
                            "errors)", abs(m - ref), tol))


def run(quick: bool) -> StudyResult:
    c = 5.0
    mats2 = [LinearConductivity(1.0, dim=2), LinearConductivity(c, dim=2)]
    sub = 2 if quick else 4
    Ls = [4, 8, 16, 32]
    n = 40 if quick else 100
    L_big, n_big = 128, 8
    res = StudyResult(
        "sve", TITLE,
        f"Random checkerboards (phase probability 1/2, conductivities 1 and {c:g}, "
        f"{sub}×{sub} elements per voxel), periodic BC, {n} cells per size L. Expected: "
        "Var(k_app) ~ L^-d with fitted exponent -2 ± 0.4 in 2D (sizes L ≥ 8); the 2D ensemble "
        f"mean at the largest L within three combined standard errors of the mean of {n_big} "
        f"large cells (L = {L_big}, same discretization); that large-cell mean above the "
        "Keller–Dykhne value √k1k2 (less three standard errors) and within the "
        "voxel-discretization bias of it (4 % at 2×2, 2 % at 4×4 elements per voxel)"
        + ("" if quick else "; 3D (2×2×2 elements per voxel, L = 3, 6, 12, 30 cells each): "
           "exponent -3 ± 0.5, the ensemble mean at L = 12 within three combined standard "
           "errors of the mean of 4 cells with L = 24, and inside the Hashin–Shtrikman "
           "bounds") + ".",
    )
    table = Table(["d", "L", "cells", "mean k_app", "std k_app", "Var", "mean/exact - 1"])
    exact = math.sqrt(c)
    means, variances, stderr = [], [], []
    for L in Ls:
        k = _ensemble(L, n, 11, 2, sub, mats2)
        means.append(k.mean())
        variances.append(k.var(ddof=1))
        stderr.append(k.std(ddof=1) / math.sqrt(n))
        table.add(2, L, n, k.mean(), k.std(ddof=1), k.var(ddof=1), k.mean() / exact - 1)
    Ls_a = np.array(Ls, float)
    fit = Ls_a >= 8
    expo = float(np.polyfit(np.log(Ls_a[fit]), np.log(np.array(variances)[fit]), 1)[0])
    res.check(Check.near("2D: fitted exponent of Var ~ L^q", expo, -2.0, 0.4))
    k_big, se_big = _large_cells(L_big, n_big, 17, 2, sub, mats2)
    table.add(2, L_big, n_big, k_big, se_big * math.sqrt(n_big), "", k_big / exact - 1)
    _agree(res, f"2D, L = {Ls[-1]} vs L = {L_big}", means[-1], stderr[-1], k_big, se_big)
    tol = 0.04 if sub == 2 else 0.02
    res.check(Check.within(f"2D: large-cell mean / √k1k2 - 1 (L = {L_big}; discretization "
                           "bias, upwards)", k_big / exact - 1, -3 * se_big / exact, tol))
    plots_var = [Series("2D: Var(k_app)", Ls, variances)]
    mean_series = [Series("2D ensemble mean", Ls, means, "o-", yerr=stderr)]
    hlines = [(exact, "√k1k2 (exact, 2D)"), (k_big, f"2D large cells (L = {L_big})")]
    if not quick:
        mats3 = [LinearConductivity(1.0, dim=3), LinearConductivity(c, dim=3)]
        L3, n3 = [3, 6, 12], 30
        v3, m3 = [], []
        for L in L3:
            k = _ensemble(L, n3, 13, 3, 2, mats3)
            m3.append(k.mean())
            v3.append(k.var(ddof=1))
            table.add(3, L, n3, k.mean(), k.std(ddof=1), k.var(ddof=1), "")
        expo3 = float(np.polyfit(np.log(L3), np.log(v3), 1)[0])
        res.check(Check.near("3D: fitted exponent of Var ~ L^q", expo3, -3.0, 0.5))
        k3_big, se3_big = _large_cells(24, 4, 19, 3, 2, mats3)
        table.add(3, 24, 4, k3_big, se3_big * 2.0, "", "")
        _agree(res, f"3D, L = {L3[-1]} vs L = 24", m3[-1], math.sqrt(v3[-1] / n3), k3_big,
               se3_big)
        hs = hashin_shtrikman([1.0, c], [0.5, 0.5], dim=3)
        res.check(Check.within(f"3D: ensemble mean at L = {L3[-1]} inside HS bounds", m3[-1],
                               hs.lower, hs.upper))
        plots_var.append(Series("3D: Var(k_app)", L3, v3, "s-"))
        mean_series.append(Series("3D ensemble mean", L3, m3, "s-"))
        hlines += [(hs.lower, "HS lower (3D)"), (hs.upper, "HS upper (3D)")]
    res.tables.append(("Ensemble statistics of the apparent conductivity (periodic BC)", table))
    res.plots.append(Plot("variance", "Variance of the apparent conductivity vs cell size",
                          "L (voxels per edge)", "Var(k_app)", plots_var,
                          slopes=[(-2.0, "slope -2")] + ([] if quick else [(-3.0, "slope -3")])))
    res.plots.append(Plot("mean", "Ensemble mean of the apparent conductivity", "L",
                          "mean k_app", mean_series, yscale="linear", hlines=hlines))
    return res
