"""FMM-HMM (fe2.fmm): potentials of oscillating densities against closed forms and sums.

Density ``q(y, y/eps)`` with ``q(y, z) = rho(y) (1 + 0.5 cos 2 pi z1 + 0.3 cos(2 pi (z2 +
z3) + 0.7))``, ``rho`` the unit-mass Gaussian of width ``sigma = 0.08`` in the unit cube;
its exact potential for every ``eps`` is closed form (Faddeeva function), and so is the
potential of the averaged density ``<q> = rho``: ``erf(r / (sqrt 2 sigma)) / r``.

* Kernel: fmm3dpy sums ``c / (4 pi r)`` (2.x); fe2.fmm returns ``sum c / r`` (10 points).
* Direct summation of the resolved density against the exact ``phi_eps``, FMM on the
  resolved density against the direct sum (moderate ``eps``).
* FMM-HMM against the potential of the averaged density (targets outside the support and,
  with the near-field correction, inside it).
* Homogenization error. Writing ``-lap phi = 4 pi q(x, x/eps)`` and ``phi = phi_0 +
  eps phi_1 + eps^2 phi_2 + ...`` with ``lap = lap_x + 2 eps^-1 div_x grad_z + eps^-2
  lap_z``: order ``eps^-2`` gives ``lap_z phi_0 = 0``, order ``eps^-1`` gives ``lap_z phi_1 =
  0``, so ``phi_1`` is constant in ``z`` and absorbed in ``phi_0``; order 1 gives ``-lap_z
  phi_2 = 4 pi (q - <q>)`` (solvable because ``q - <q>`` has zero mean over the cell). The
  error is ``eps^2 phi_2(x, x/eps)``, local: rate 2 inside the support; where the density is
  smooth and zero (outside a Gaussian) it falls faster than any power of ``eps``. A density
  with a jump at the edge of its support breaks this: for the uniform cube with ``1 + 0.5
  sin(2 pi x1 / eps)`` one integration by parts leaves ``0.5 eps (F(0) - F(1)) / (2 pi)``,
  ``F(y1) = integral G(x - y) dy2 dy3`` over a face: rate 1, observed with that constant;
  with ``cos`` the face terms vanish (``1/eps`` an integer) and the rate is 2 again.
* FMM accuracy against its requested precision.
"""

from __future__ import annotations

import numpy as np

from fe2.fmm import (
    ModulatedGaussian,
    OscillatingDensity,
    direct_potential,
    fmm_hmm_potential,
    laplace_sum,
    resolved_potential,
    tensor_gauss,
)
from fe2.verify import observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "FMM-HMM: oscillating densities vs closed forms, direct sums and the eps^2 rate"

G = ModulatedGaussian(center=(0.5, 0.5, 0.5), sigma=0.08)
BOX = [[0.0, 1.0]] * 3


def _sphere(n: int, radius: float, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).normal(size=(3, n))
    return 0.5 + radius * u / np.linalg.norm(u, axis=0)


def _ball(n: int, radius: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(3, n))
    return 0.5 + radius * u / np.linalg.norm(u, axis=0) * rng.random(n) ** (1 / 3)


def _rms(v) -> float:
    return float(np.sqrt(np.mean(np.square(v))))


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: a few seconds of sums, else finer eps sequences (~1 min)."""
    res = StudyResult(
        "fmm", TITLE,
        "A Gaussian density modulated by periodic waves (sigma = 0.08, unit cube), whose "
        "potential is closed form for every eps. Direct summation of a resolved quadrature "
        "matches the exact potential, the FMM on the same sources matches the direct sum, "
        "FMM-HMM (macro midpoint rule, cell-averaged charges, near-field correction) "
        "matches the potential of the averaged density inside and outside the support. "
        "The homogenization error is eps^2 phi_2 (phi_1 = 0 for a zero-mean periodic "
        "fluctuation): rate 2 inside the support, from the closed forms and end to end "
        "for FMM-HMM with both estimators; faster than any power outside a smooth "
        "support; rate 1 at targets outside a uniform cube whose oscillation meets a "
        "face (a jump: boundary layer), with the predicted constant. FMM errors stay below "
        "10x the requested precision.",
    )
    far = _sphere(30 if quick else 100, 0.7, 0)  # outside the cube
    inside = _ball(12 if quick else 40, G.sigma, 1)

    # 1. kernel normalisation
    rng = np.random.default_rng(3)
    s, c, t = rng.random((3, 10)), rng.normal(size=10), rng.random((3, 4)) + 1.5
    ref = np.array([np.sum(c / np.linalg.norm(t[:, [i]] - s, axis=0)) for i in range(4)])
    res.check(Check.at_most("kernel 1/r: direct sum vs numpy loop (10 points, rel.)",
                            float(np.max(np.abs(laplace_sum(s, c, t, "direct") / ref - 1))),
                            1e-12))

    # 2. direct and resolved FMM vs the exact potential, moderate eps
    tab = Table(["1/eps", "method", "sources", "max error vs exact phi_eps",
                 "max |phi_eps - phi_0|"])
    for inv, order in ((4, 6), (8, 4)) if quick else ((4, 6), (8, 4), (16, 4)):
        eps = 1.0 / inv
        d = OscillatingDensity(G.q, eps, BOX)
        exact = G.potential(far, eps)
        scale = float(np.max(np.abs(exact)))
        dr = direct_potential(d, far, order=order)
        e_dir = float(np.max(np.abs(dr.phi - exact)))
        tab.add(inv, "direct", dr.n_sources, e_dir,
                float(np.max(np.abs(exact - G.averaged_potential(far)))))
        res.check(Check.at_most(f"1/eps = {inv}: direct sum of the resolved density vs "
                                "exact phi_eps (rel.)", e_dir / scale, 1e-7))
        if inv == 8:
            fr = resolved_potential(d, far, order=order, fmm_eps=1e-9)
            e_fr = float(np.max(np.abs(fr.phi - dr.phi)))
            tab.add(inv, "fmm-resolved", fr.n_sources, float(np.max(np.abs(fr.phi - exact))),
                    "")
            res.check(Check.at_most("1/eps = 8: FMM on the resolved density vs direct sum "
                                    "(rel.)", e_fr / scale, 1e-8))
    res.tables.append(("Resolved density, targets outside the cube", tab))

    # 3. FMM-HMM vs the closed-form potential of the averaged density
    d = OscillatingDensity(G.q, 1e-3, BOX)
    kw = {"macro_order": 7, "macro_cells": 3, "macro_rule": "midpoint", "fmm_eps": 1e-10}
    for name, x in (("outside", far), ("inside", inside)):
        h = fmm_hmm_potential(d, x, **kw)
        ref0 = G.averaged_potential(x)
        res.check(Check.at_most(f"FMM-HMM vs closed-form potential of <q>, targets {name} "
                                "the support (rel.)",
                                float(np.max(np.abs(h.phi - ref0)) / np.max(ref0)), 1e-6))
    plain = fmm_hmm_potential(d, inside, near_field=False, **kw).phi
    res.check(Check.at_least("inside: the point rule alone (no near-field correction) is "
                             "off (rel.)", float(np.max(np.abs(plain - ref0)) / np.max(ref0)),
                             1e-2))

    # 4. homogenization error vs eps
    invs = np.array([16, 32, 64, 128] if quick else [16, 32, 64, 128, 256])
    eps_arr = 1.0 / invs
    th = Table(["1/eps", "rms (phi_eps - phi_0) inside", "rms (phi_eps - phi_0 - corrector) "
                "/ rms (phi_eps - phi_0)", "FMM-HMM cell: rms error", "FMM-HMM kernel: rms "
                "error"])
    hom, rel, cell, kern = [], [], [], []
    hmm_invs = invs[:3] if quick else invs
    for inv in invs:
        eps = 1.0 / inv
        exact = G.potential(inside, eps)
        e0 = exact - G.averaged_potential(inside)
        hom.append(_rms(e0))
        rel.append(_rms(e0 - G.corrector(inside, eps)) / hom[-1])
        row = [np.nan, np.nan]
        if inv in hmm_invs:
            dk = OscillatingDensity(G.q, eps, BOX)
            row = [_rms(fmm_hmm_potential(dk, inside, estimator=est, samples=n, **kw).phi
                        - exact) for est, n in (("cell", 4), ("kernel", 3))]
            cell.append(row[0])
            kern.append(row[1])
        th.add(int(inv), hom[-1], rel[-1], *row)
    res.tables.append((f"Targets inside the support ({inside.shape[1]} in the ball of radius "
                       "sigma): homogenization error and FMM-HMM error", th))
    r_hom = observed_rate(eps_arr, np.array(hom))
    res.check(Check.within("homogenization error inside the support (exact phi_eps - phi_0): "
                           "rate", r_hom, 1.85, 2.15))
    res.check(Check.at_most("the corrector eps^2 rho sum a cos / (pi |n|^2) is the leading "
                            "term (relative remainder at the smallest eps)", rel[-1], 0.03))
    e_h = 1.0 / hmm_invs
    r_cell = observed_rate(e_h, np.array(cell))
    r_kern = observed_rate(e_h, np.array(kern))
    res.check(Check.within("FMM-HMM (cell estimator) error inside: rate", r_cell, 1.85, 2.15))
    res.check(Check.within("FMM-HMM (kernel estimator, samples of q(y, y/eps) only) error "
                           "inside: rate", r_kern, 1.85, 2.15))
    # outside a smooth support: faster than any power
    out_inv = np.array([4, 6, 8, 10])
    out_err = [float(np.max(np.abs(G.potential(far, 1.0 / i) - G.averaged_potential(far))))
               for i in out_inv]
    slope = observed_rate(1.0 / out_inv[-2:], np.array(out_err[-2:]))
    to = Table(["1/eps", "max |phi_eps - phi_0| outside"])
    for i, e in zip(out_inv, out_err, strict=True):
        to.add(int(i), e)
    res.tables.append(("Targets outside a smooth support: the error falls faster than any "
                       "power", to))
    res.check(Check.at_least("outside the Gaussian: local slope of the homogenization error "
                             "(1/eps = 8 -> 10)", slope, 6.0))

    # 5. a jump at the support: uniform cube, oscillation normal to a face
    tc = np.array([[1.3, 1.5, 1.4, -0.3], [0.5, 0.4, 0.6, 0.5], [0.5, 0.5, 0.3, 0.45]])
    cube_invs = np.array([8, 16, 32] if quick else [4, 8, 16, 32, 64])
    yf, wf = tensor_gauss([[0.0, 1e-9], [0, 1], [0, 1]], 1, (1, 24, 24))
    wf = wf / 1e-9
    face = {x1: laplace_sum(yf + np.array([[x1], [0], [0]]), wf, tc, "direct")
            for x1 in (0.0, 1.0)}
    predicted = 0.5 * (face[0.0] - face[1.0]) / (2 * np.pi)  # error / eps for sin
    tcu = Table(["1/eps", "sin: max error", "sin: error / (eps x predicted constant)",
                 "cos: max error"])
    cube_err = {"sin": [], "cos": []}
    ratio = []
    for inv in cube_invs:
        eps = 1.0 / inv
        y, w = tensor_gauss(BOX, (int(inv), 3, 3), 8)
        for kind, f in (("sin", np.sin), ("cos", np.cos)):
            def q(y, z, f=f):
                return 1.0 + 0.5 * f(2 * np.pi * z[0])
            hmm = fmm_hmm_potential(OscillatingDensity(q, eps, BOX), tc, macro_order=8,
                                    macro_cells=3, fmm_eps=1e-10).phi
            ref = laplace_sum(y, w * q(y, y / eps), tc, "direct")
            cube_err[kind].append(float(np.max(np.abs(hmm - ref))))
            if kind == "sin":
                ratio.append(float(np.max(np.abs((ref - hmm) / (eps * predicted) - 1))))
        tcu.add(int(inv), cube_err["sin"][-1], 1 + ratio[-1], cube_err["cos"][-1])
    res.tables.append(("Uniform cube with 1 + 0.5 sin / cos (2 pi x1 / eps): targets outside "
                       "(reference: resolved Gauss quadrature, direct sum)", tcu))
    r_sin = observed_rate(1.0 / cube_invs, np.array(cube_err["sin"]))
    r_cos = observed_rate(1.0 / cube_invs, np.array(cube_err["cos"]))
    res.check(Check.within("cube, sin modulation (jump at the faces): rate", r_sin, 0.9, 1.1))
    res.check(Check.at_most("cube, sin: error / (eps 0.5 (F(0) - F(1)) / 2 pi) - 1 at the "
                            "smallest eps", ratio[-1], 0.05))
    res.check(Check.within("cube, cos modulation (face terms vanish): rate", r_cos, 1.8, 2.2))

    # 6. FMM accuracy vs its tolerance
    y, w = tensor_gauss(BOX, 2, 8)
    cq = w * G.rho(y)
    tt = _sphere(60, 0.45, 5)
    refd = laplace_sum(y, cq, tt, "direct")
    tols = [1e-3, 1e-6, 1e-9, 1e-12]
    tf = Table(["requested precision", "max relative error vs direct sum"])
    ferr = []
    for tol in tols:
        e = float(np.max(np.abs(laplace_sum(y, cq, tt, "fmm", tol) - refd)) / np.max(refd))
        ferr.append(max(e, 1e-17))
        tf.add(tol, e)
        res.check(Check.at_most(f"FMM error at precision {tol:g} (<= 10x)", e, 10 * tol))
    res.tables.append(("FMM (lfmm3d) vs direct sum (4096 sources, 60 targets among them)", tf))

    res.plots.append(Plot(
        "fmm_homogenization", "Error vs eps", "eps", "error",
        [Series("exact phi_eps - phi_0, inside (rms)", eps_arr, np.array(hom), "o-"),
         Series("FMM-HMM cell, inside (rms)", e_h, np.array(cell), "s-"),
         Series("FMM-HMM kernel, inside (rms)", e_h, np.array(kern), "^-"),
         Series("cube, sin: outside (max)", 1.0 / cube_invs, np.array(cube_err["sin"]), "v--"),
         Series("cube, cos: outside (max)", 1.0 / cube_invs, np.array(cube_err["cos"]), "d--")],
        slopes=[(2.0, "slope 2", 0), (1.0, "slope 1", 3)]))
    res.plots.append(Plot("fmm_tolerance", "FMM error vs requested precision",
                          "requested precision", "max relative error",
                          [Series("lfmm3d", np.array(tols), np.array(ferr), "o-")],
                          slopes=[(1.0, "slope 1", 0)]))
    return res
