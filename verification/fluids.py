"""Complex fluids by seamless HMM (fe2.fluids): MAC projection solver and stress oracles.

* Plane Poiseuille and start-up Couette flow in a periodic channel against their closed
  forms: observed order 2 in space.
* Lid-driven cavity against the centreline tables of Ghia, Ghia & Shin (1982): Re = 100
  (quick), and Re = 100 on three grids, 400 and 1000 (full), with the error of the
  centreline profiles as the grid is refined.
* Start-up of simple shear: Oldroyd-B against its closed form; Hookean dumbbells against
  the same within a few standard errors, the error falling like ``1/sqrt(N)``; FENE
  dumbbells: exact zero-shear viscosity ``eta_p b/(b + 4)`` (2D), shear thinning, and the
  FENE-P closure (an approximation: agreement within 10 % is stated, not exactness).
* Seamless coupling: the start-up of a pressure-driven Oldroyd-B channel (velocity
  overshoot) with the stress from Hookean dumbbell ensembles, never re-initialised,
  against the closure run within the statistical error over seeds; with fast polymers
  the seamless run converges to the time-accurate one as the micro/macro time-scale
  ratio grows.
* Molecular dynamics (SLLOD, Lennard-Jones): shear viscosity against the LJTS correlation
  (Lees–Edwards); in deforming boxes remapped by lattice reduction (any planar velocity
  gradient): rotation gives an isotropic stress, simple shear the Lees–Edwards viscosity,
  planar elongation ``sigma_xx - sigma_yy = 4 eta rate`` (Trouton ratio 4) with the same
  ``eta``; a lid-driven cavity whose stress comes from such boxes matches Navier–Stokes
  with the MD viscosity (centrelines and lid drag within 4 batch-means standard errors).
"""

from __future__ import annotations

import numpy as np

from fe2.fluids import (
    FENEP,
    FENEDumbbells,
    HookeanDumbbells,
    LennardJonesNEMD,
    MACGrid,
    NavierStokes2D,
    Newtonian,
    OldroydB,
    channel,
    lid_driven_cavity,
    start_up_shear,
    time_average,
)
from fe2.fluids import (
    run as run_flow,
)
from fe2.fluids.reference import (
    GHIA_SUSPECT,
    GHIA_U,
    GHIA_V,
    GHIA_X,
    GHIA_Y,
    couette_startup,
    ljts_viscosity,
    oldroyd_b_start_up,
    poiseuille,
)
from fe2.verify import observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Complex fluids: MAC projection, dumbbell stress oracles, seamless coupling"


def _channel_orders(res: StudyResult, quick: bool) -> None:
    ns = [8, 16, 32] if quick else [8, 16, 32, 64]
    table = Table(["flow", "ny", "max error"])
    series = []
    for name, run, exact in (
        ("Poiseuille (steady)",
         lambda n: channel(n, 3.0, gradient=8.0, viscosity=1.0, dt=0.01),
         lambda r: poiseuille(r.grid.yc, 8.0, 1.0)),
        ("start-up Couette, t = 0.05",
         lambda n: channel(n, 0.05, gradient=0.0, viscosity=1.0, wall_speed=(0.0, 1.0),
                           dt=2.5e-4 if n <= 32 else 1.25e-4),
         lambda r: couette_startup(r.grid.yc, r.t, 1.0, 1.0)),
    ):
        errs = []
        for n in ns:
            r = run(n)
            errs.append(float(np.abs(r.u[0] - exact(r)).max()))
            table.add(name, n, errs[-1])
        rate = -observed_rate(np.array(ns, float), np.array(errs))
        res.check(Check.within(f"{name}: order in h", rate, 1.85, 2.15))
        series.append(Series(name, 1.0 / np.array(ns), errs))
    res.tables.append(("Periodic channel, nu = 1, against closed forms", table))
    res.plots.append(Plot("channel_orders", "Channel flows: max error vs h", "h", "max |u - exact|",
                          series, slopes=[(2, "slope 2", 0)]))


def _ghia_errors(re: int, n: int):
    r = lid_driven_cavity(re, n, steady_tol=1e-4 if re == 100 else 2e-4)
    y, u = r.centerline_u()
    x, v = r.centerline_v()
    eu = np.interp(GHIA_Y[::-1], y, u)[::-1] - GHIA_U[re]
    ev = np.interp(GHIA_X[::-1], x, v)[::-1] - GHIA_V[re]
    keep = np.array([(re, "v", i) not in GHIA_SUSPECT for i in range(GHIA_X.size)])
    return r, eu, ev, keep


def _cavity(res: StudyResult, quick: bool) -> None:
    cases = [(100, 32)] if quick else [(100, 16), (100, 32), (100, 64), (400, 64), (1000, 64)]
    table = Table(["Re", "n", "steps", "t", "max |u - Ghia|", "max |v - Ghia| (printed points)",
                   "max |v - Ghia| (suspect point excluded)"])
    profiles = {}
    by_n = {}
    for re, n in cases:
        r, eu, ev, keep = _ghia_errors(re, n)
        mu, mv, mvk = np.abs(eu).max(), np.abs(ev).max(), np.abs(ev[keep]).max()
        table.add(re, n, r.steps, r.t, mu, mv, mvk)
        profiles[(re, n)] = r
        if re == 100:
            by_n[n] = max(mu, mv)
        tol = {100: 0.015, 400: 0.03, 1000: 0.05}[re]
        if n >= 32:
            res.check(Check.at_most(f"Re = {re}, {n}x{n}: max centreline deviation from Ghia",
                                    max(mu, mvk), tol))
            res.check(Check.holds(f"Re = {re}, {n}x{n}: steady state reached", r.converged,
                                  "max |du/dt| below tolerance", f"t = {r.t:.3g}"))
    res.tables.append(("Lid-driven cavity against Ghia, Ghia & Shin (1982), Tables I and II "
                       "(129 x 129 multigrid)", table))
    if len(by_n) > 1:
        ns = sorted(by_n)
        res.check(Check.holds("Re = 100: centreline deviation from Ghia falls under refinement "
                              "(to the table's own accuracy)",
                              by_n[ns[-1]] < by_n[ns[0]], "decreasing from the coarsest grid",
                              ", ".join(f"{n}: {by_n[n]:.4f}" for n in ns)))
    for re in sorted({c[0] for c in cases}):
        ns = [n for (r_, n) in cases if r_ == re]
        series = [Series(f"fe2 {n}x{n}", *profiles[(re, n)].centerline_u()[::-1], "-")
                  for n in ns]
        series.append(Series("Ghia et al. 1982", GHIA_U[re], GHIA_Y, "o"))
        res.plots.append(Plot(f"cavity_u_re{re}", f"Cavity Re = {re}: u on x = 0.5", "u", "y",
                              series, xscale="linear", yscale="linear"))
        series = [Series(f"fe2 {n}x{n}", *profiles[(re, n)].centerline_v(), "-") for n in ns]
        series.append(Series("Ghia et al. 1982", GHIA_X, GHIA_V[re], "o"))
        res.plots.append(Plot(f"cavity_v_re{re}", f"Cavity Re = {re}: v on y = 0.5", "x", "v",
                              series, xscale="linear", yscale="linear"))


def _shear(res: StudyResult, quick: bool) -> None:
    lam, eta_p, rate = 1.0, 1.0, 1.5
    t, txy, n1 = start_up_shear(OldroydB(0.0, eta_p, lam), rate, 4.0, 0.05)
    tx, nx = oldroyd_b_start_up(t, rate, 0.0, eta_p, lam)
    rel = max(np.abs(txy / tx - 1).max(), np.abs(n1[5:] / nx[5:] - 1).max())
    res.check(Check.at_most("Oldroyd-B start-up: max relative error (tau_xy, N1)", float(rel),
                            1e-5))
    N = 4000
    t, hxy, hn1, sxy, sn1 = start_up_shear(HookeanDumbbells(N, lam, eta_p, seed=11), rate, 4.0,
                                           0.05, with_errors=True)
    zx, zn = np.abs((hxy - tx) / sxy).max(), np.abs((hn1 - nx) / sn1).max()
    res.check(Check.at_most(f"Hookean dumbbells (N = {N}): max |z| of tau_xy over the start-up",
                            float(zx), 4.0))
    res.check(Check.at_most(f"Hookean dumbbells (N = {N}): max |z| of N1 over the start-up",
                            float(zn), 4.0))
    res.plots.append(Plot(
        "startup_shear", f"Start-up of shear, Wi = {lam * rate}: Hookean dumbbells (N = {N}) "
        "vs Oldroyd-B", "t / lam", "stress / (eta_p / lam)",
        [Series("tau_xy dumbbells (+- 2 SE)", t[::4], hxy[::4], "o", 2 * sxy[::4]),
         Series("tau_xy Oldroyd-B (closed form)", t, tx, "-"),
         Series("N1 dumbbells (+- 2 SE)", t[::4], hn1[::4], "s", 2 * sn1[::4]),
         Series("N1 Oldroyd-B (closed form)", t, nx, "-")],
        xscale="linear", yscale="linear"))
    # error against N over seeds
    Ns = [250, 1000, 4000] if quick else [250, 1000, 4000, 16000]
    seeds = 40 if quick else 100
    rms, zs = [], []
    table = Table(["N", "seeds", "rms error of tau_xy(t = 2)", "mean standard error",
                   "rms of error / SE"])
    for n_ in Ns:
        e, s = [], []
        for seed in range(seeds):
            t2, a, _, se, _ = start_up_shear(HookeanDumbbells(n_, lam, eta_p, seed=seed), 1.0,
                                             2.0, 0.1, with_errors=True)
            e.append(a[-1] - oldroyd_b_start_up(t2, 1.0, 0.0, eta_p, lam)[0][-1])
            s.append(se[-1])
        e, s = np.array(e), np.array(s)
        rms.append(float(np.sqrt(np.mean(e**2))))
        zs.extend(e / s)
        table.add(n_, seeds, rms[-1], float(np.mean(s)), float(np.sqrt(np.mean((e / s) ** 2))))
    slope = observed_rate(np.array(Ns, float), np.array(rms))
    res.check(Check.within("Hookean dumbbells: rms error exponent in N (expected -1/2)", slope,
                           -0.7, -0.3))
    zr = float(np.sqrt(np.mean(np.square(zs))))
    res.check(Check.within(f"Hookean dumbbells: rms of error / stated SE over {len(zs)} runs "
                           "(1 if the error bars are right)", zr, 0.8, 1.2))
    res.tables.append(("Hookean dumbbells, Wi = 1: error against the Oldroyd-B closed form",
                       table))
    res.plots.append(Plot("hookean_error_vs_n", "Hookean dumbbells: rms error vs ensemble size",
                          "N", "rms error", [Series("rms over seeds", Ns, rms)],
                          slopes=[(-0.5, "slope -1/2")]))


def _fene(res: StudyResult, quick: bool) -> None:
    b, lam, eta_p = 50.0, 1.0, 1.0
    N = 3000 if quick else 10000
    eta0 = eta_p * b / (b + 4.0)
    t, a, _, se, _ = start_up_shear(FENEDumbbells(b, N, lam, eta_p, seed=4, control_variate=True),
                                    0.1, 8.0, 0.1, with_errors=True)
    res.check(Check.at_most("FENE (b = 50), Wi = 0.1, control variate: |eta - eta_p b/(b+4)| / SE",
                            float(abs(a[-1] / 0.1 - eta0) / (se[-1] / 0.1)), 4.0))
    wis = [1.0, 10.0] if quick else [0.3, 1.0, 3.0, 10.0, 30.0]
    table = Table(["Wi", "eta FENE (BD)", "SE", "control variate", "eta FENE-P", "relative diff"])
    ef, ep_, sef = [], [], []
    for wi in wis:
        cv = wi <= 1.0
        dt = 0.05 if wi <= 10 else 0.02
        _, f, _, s, _ = start_up_shear(FENEDumbbells(b, N, lam, eta_p, seed=5, control_variate=cv),
                                       wi, 8.0, dt, with_errors=True)
        _, p, _ = start_up_shear(FENEP(b, 0.0, eta_p, lam), wi, 8.0, dt)
        ef.append(f[-1] / wi)
        sef.append(s[-1] / wi)
        ep_.append(p[-1] / wi)
        table.add(wi, ef[-1], sef[-1], cv, ep_[-1], ef[-1] / ep_[-1] - 1)
        res.check(Check.at_most(f"FENE vs FENE-P closure at Wi = {wi}: relative difference "
                                "(closure approximate)", abs(ef[-1] / ep_[-1] - 1)
                                - 4 * sef[-1] / ep_[-1], 0.10))
    res.check(Check.holds("FENE shear thinning: eta(Wi) decreasing beyond 3 SE",
                          all(ef[i + 1] < ef[i] - 3 * np.hypot(sef[i], sef[i + 1])
                              for i in range(len(wis) - 1) if wis[i] >= 1.0),
                          "eta(Wi_k+1) < eta(Wi_k) - 3 SE for Wi >= 1",
                          ", ".join(f"{e:.3f}" for e in ef)))
    res.tables.append((f"FENE dumbbells (b = {b:g}, N = {N}) vs the FENE-P closure: steady "
                       f"shear viscosity / eta_p (zero-shear exact: {eta0:.4f})", table))
    res.plots.append(Plot("fene_thinning", "FENE dumbbells: shear viscosity vs Wi", "Wi",
                          "eta / eta_p",
                          [Series("FENE (Brownian dynamics, +- 2 SE)", wis, ef, "o",
                                  2 * np.array(sef)),
                           Series("FENE-P closure", wis, ep_, "-")],
                          hlines=[(eta0, "FENE zero-shear b/(b+4)")], yscale="linear"))


def _seamless(res: StudyResult, quick: bool) -> None:
    eta_s, eta_p, lam, G = 0.2, 0.8, 0.5, 8.0
    ny = 16
    N = 1000 if quick else 4000
    seeds = 4 if quick else 8
    kw = dict(gradient=G, nx=3, dt=0.01)
    ob = channel(ny, 2.0, stress=OldroydB(eta_s, eta_p, lam), **kw)
    runs = np.array([channel(ny, 2.0, stress=HookeanDumbbells(N, lam, eta_p, seed=s,
                                                               eta_s=eta_s), **kw).u[0]
                     for s in range(seeds)])
    mean, se = runs.mean(0), runs.std(0, ddof=1) / np.sqrt(seeds)
    z = float(np.abs(mean - ob.u[0]).max() / se.max())
    res.check(Check.at_least("Oldroyd-B channel start-up: centreline overshoot above the steady "
                             "maximum 1 at t = 2", float(ob.u[0].max()), 1.02))
    res.check(Check.at_most(f"seamless Hookean dumbbells (N = {N}, {seeds} seeds) vs Oldroyd-B: "
                            "max |mean - closure| / max SE", z, 4.0))
    y = ob.grid.yc
    res.plots.append(Plot("seamless_channel",
                          "Channel start-up at t = 2 (eta_s 0.2, eta_p 0.8, lam 0.5)", "y", "u",
                          [Series("Oldroyd-B closure", y, ob.u[0], "-"),
                           Series(f"Hookean dumbbells, mean of {seeds} seeds (+- 2 SE)", y, mean,
                                  "o", 2 * se),
                           Series("steady Poiseuille", y, poiseuille(y, G, eta_s + eta_p), ":")],
                          xscale="linear", yscale="linear"))
    if not quick:
        # the same test in a cavity with the regularised lid 16 x^2 (1 - x)^2 (no corner
        # singularity), Re = 1, Wi = lam U / L = 0.5, eta_s = eta_p
        ckw = dict(t_end=2.0, dt=0.005, lid="regularized")
        ob = lid_driven_cavity(1.0, 16, stress=OldroydB(0.5, 0.5, 0.5), **ckw)
        newt = lid_driven_cavity(1.0, 16, **ckw)

        def lines(r):
            return np.concatenate([r.centerline_u()[1], r.centerline_v()[1]])

        runs = np.array([lines(lid_driven_cavity(1.0, 16, stress=HookeanDumbbells(
            1000, 0.5, 0.5, seed=s, eta_s=0.5), **ckw)) for s in range(4)])
        mean, se = runs.mean(0), runs.std(0, ddof=1) / 2.0
        z = float(np.abs(mean - lines(ob)).max() / se.max())
        res.check(Check.at_most("cavity (regularised lid, Wi = 0.5): seamless Hookean dumbbells "
                                "(N = 1000, 4 seeds) vs Oldroyd-B: max |mean - closure| / max SE",
                                z, 4.0))
        res.check(Check.at_least("cavity: elastic effect visible (max centreline difference "
                                 "Oldroyd-B vs Newtonian, in units of the dumbbell SE)",
                                 float(np.abs(lines(newt) - lines(ob)).max() / se.max()), 10.0))
    # time-scale ratio
    lam_f = 2e-3
    ref = channel(ny, 0.3, stress=OldroydB(eta_s, eta_p, lam_f), **kw).u[0]
    Ms = [2, 8, 32] if quick else [1, 2, 4, 8, 16, 32]
    table = Table(["micro steps per macro step M", "time-scale ratio dt / (M dt_micro)",
                   "max |u - u_time-accurate|"])
    errs = []
    for M in Ms:
        u = channel(ny, 0.3, stress=OldroydB(eta_s, eta_p, lam_f, micro_steps=M,
                                             micro_dt=lam_f / 10), **kw).u[0]
        errs.append(float(np.abs(u - ref).max()))
        table.add(M, 0.01 / (M * lam_f / 10), errs[-1])
    res.check(Check.holds("seamless: error falls as the micro time per macro step grows",
                          all(errs[i + 1] < errs[i] for i in range(len(errs) - 1)),
                          "strictly decreasing in M", ", ".join(f"{e:.2e}" for e in errs)))
    res.tables.append(("Seamless coupling, fast polymers (lam = 2e-3, dt = 1e-2): the "
                       "conformation advances M lam/10 per macro step", table))
    res.plots.append(Plot("seamless_ratio", "Seamless coupling: error vs micro steps per macro "
                          "step", "M", "max error",
                          [Series("Oldroyd-B channel, t = 0.3", Ms, errs)]))


def _steady_viscosity(o, rate: float, t_end: float) -> tuple[float, float]:
    t, txy, _ = start_up_shear(o, rate, t_end, 1.0)
    w = txy[len(t) // 4:] / rate  # 1-tau windows, much longer than the stress correlation
    return float(w.mean()), float(w.std(ddof=1) / np.sqrt(w.size))


def _nemd(res: StudyResult, quick: bool) -> tuple[float, float]:
    """Lees–Edwards SLLOD viscosities; returns (eta, SE) at T = 1, rho = 0.8, rate 0.2."""
    table = Table(["T", "rho", "rate", "N", "eta (SLLOD)", "SE", "eta LJTS correlation",
                   "relative difference"])
    points = [(1.0, 0.8, 0.2)] if quick else [(1.0, 0.8, 0.2), (2.0, 0.7, 0.2), (1.5, 0.6, 0.2),
                                               (1.0, 0.8, 0.5), (1.0, 0.8, 1.0)]
    t_end = 60.0 if quick else 100.0
    first = None
    for T, rho, rate in points:
        eta, se = _steady_viscosity(LennardJonesNEMD(rho, T, 108, seed=1), rate, t_end)
        first = first or (eta, se)
        ref = ljts_viscosity(T, rho)
        table.add(T, rho, rate, 108, eta, se, ref, eta / ref - 1)
        if rate <= 0.2:
            res.check(Check.at_most(
                f"SLLOD viscosity at T = {T}, rho = {rho}, rate {rate}: |eta - correlation| "
                "- 4 SE, relative (correlation ~3 %)", (abs(eta - ref) - 4 * se) / ref, 0.03))
    res.tables.append(("Lennard-Jones (rc = 2.5, shifted) shear viscosity by SLLOD + "
                       "Lees–Edwards against the LJTS correlation of Lautenschläger et al. "
                       "(2019); rates 0.5 and 1 show the shear thinning", table))
    if quick:
        return first
    # channel whose stress comes from molecular dynamics vs Navier–Stokes with the correlation
    H, G, rho, T = 40.0, 0.03, 0.8, 1.0
    eta = ljts_viscosity(T, rho)
    grid = MACGrid(1, 8, lx=5.0, ly=H, periodic_x=True)
    seeds = 3
    umax = []
    for seed in range(seeds):
        o = LennardJonesNEMD(rho, T, 108, micro_steps=100, seed=seed, viscosity_estimate=eta)
        with NavierStokes2D(grid, density=rho, stress=o, body_force=(G / rho, 0.0),
                            dt=5.0) as ns:
            umax.append(run_flow(ns, t_end=400.0).u[0][3:5].mean())
    with NavierStokes2D(grid, density=rho, viscosity=eta, body_force=(G / rho, 0.0),
                        dt=5.0) as ns:
        u_ns = run_flow(ns, t_end=400.0).u[0][3:5].mean()
    mean, se = float(np.mean(umax)), float(np.std(umax, ddof=1) / np.sqrt(seeds))
    res.check(Check.at_most(
        f"channel with SLLOD stress (H = 40 sigma, {seeds} seeds, 100 MD steps per macro step "
        "of 5 tau) vs Navier–Stokes with the correlation viscosity: |u_c - u_NS| - 4 SE, "
        "relative (shear thinning at the wall rate ~0.3 allows ~10 %)",
        (abs(mean - u_ns) - 4 * se) / u_ns, 0.10))
    res.tables.append(("Channel driven by -dp/dx = 0.03 with the stress from molecular "
                       "dynamics: centreline velocity at t = 400",
                       _one_row_table(mean, se, u_ns)))
    return first


def _window_stress(o, L, t_end: float, win: float = 1.0):
    """Mean and naive SE of 1-tau window stresses ``(2, 2)`` (first quarter dropped); re-inits."""
    g = np.asarray(L, float).reshape(2, 2, 1)
    st, out, reinit = o.initial_state((1,)), [], 0.0
    for _ in range(int(round(t_end / win))):
        r = o.evaluate(g, state=st, dt=win)
        st = r.state
        out.append(r.flux[..., 0])
        reinit += float(r.info["md_reinit"][0])
    w = np.array(out)[len(out) // 4:]
    return w.mean(axis=0), w.std(axis=0, ddof=1) / np.sqrt(len(w)), reinit


def _nemd_deforming(res: StudyResult, quick: bool, eta_le: float, se_le: float) -> None:
    T, rho = 1.0, 0.8
    table = Table(["flow", "L", "atoms", "time [tau]", "quantity", "SLLOD, deforming box", "SE",
                   "expected", "re-inits"])
    t_rot = 16.0 if quick else 30.0
    m, se, rei = _window_stress(LennardJonesNEMD(rho, T, 108, seed=5, cell="deforming"),
                                [[0.0, 0.5], [-0.5, 0.0]], t_rot)
    for name, val, err in (("tau_xy", m[0, 1], se[0, 1]),
                           ("tau_xx - tau_yy", m[0, 0] - m[1, 1], np.hypot(se[0, 0], se[1, 1]))):
        table.add("rotation", "[[0, 0.5], [-0.5, 0]]", 108, t_rot, name, val, err, 0.0, rei)
        res.check(Check.at_most(f"rotation only (deforming box): |{name}| / SE (isotropic "
                                "stress)", abs(val) / err, 4.0))
    if not quick:
        rate = 0.2
        m, se, rei = _window_stress(LennardJonesNEMD(rho, T, 108, seed=2, cell="deforming"),
                                    [[0.0, rate], [0.0, 0.0]], 60.0)
        eta, eta_se = m[0, 1] / rate, se[0, 1] / rate
        table.add("simple shear", "[[0, 0.2], [0, 0]]", 108, 60.0, "eta", eta, eta_se, eta_le,
                  rei)
        res.check(Check.at_most(
            "simple shear in a deforming, remapped box vs Lees–Edwards: |eta - eta_LE| / "
            "combined SE", abs(eta - eta_le) / np.hypot(eta_se, se_le), 4.0))
        ref = ljts_viscosity(T, rho)
        res.check(Check.at_most(
            "simple shear in a deforming box vs the LJTS correlation: |eta - correlation| - 4 "
            "SE, relative (correlation ~3 %)", (abs(eta - ref) - 4 * eta_se) / ref, 0.03))
        eps = 0.1  # planar elongation at the same strain-rate magnitude (2 eps = 0.2)
        m, se, rei = _window_stress(LennardJonesNEMD(rho, T, 256, seed=3, cell="deforming"),
                                    [[eps, 0.0], [0.0, -eps]], 40.0)
        n1, n1_se = m[0, 0] - m[1, 1], np.hypot(se[0, 0], se[1, 1])
        table.add("planar elongation", "[[0.1, 0], [0, -0.1]]", 256, 40.0,
                  "tau_xx - tau_yy", n1, n1_se, 4 * eta_le * eps, rei)
        res.check(Check.at_most(
            "planar elongation 0.1: |N1 - 4 eta_LE rate| / combined SE (Trouton ratio 4, "
            "Newtonian regime; the box is re-initialised when its short side reaches 2 rc)",
            abs(n1 - 4 * eta_le * eps) / np.hypot(n1_se, 4 * eps * se_le), 4.0))
        res.check(Check.holds("planar elongation re-initialisations counted", rei > 0,
                              "> 0 (a square box cannot follow elongation for ever)",
                              f"{rei:.0f}"))
    res.tables.append(("SLLOD under general planar velocity gradients in a box deforming with "
                       "the flow, remapped by Lagrange–Gauss lattice reduction (Hunt 2016); "
                       "T = 1, rho = 0.8, rc = 2.5; eta_LE from the Lees–Edwards row above",
                       table))


def _md_cavity(res: StudyResult, quick: bool) -> None:
    """A cavity whose stress comes from MD boxes vs Navier–Stokes with the MD viscosity."""
    if quick:
        return  # the quick variant is tests/test_fluids_nemd.py (4 x 4 cells)
    n, Re, tu, dt, t_end, t_from = 6, 2.0, 0.05, 0.05, 3.0, 1.2
    kw = dict(n_particles=108, cutoff=2.0, seed=1)
    eta_md, eta_se = _steady_viscosity(LennardJonesNEMD(0.8, 1.0, **kw), 0.2, 60.0)
    su = 1.0 / (tu * 2.0)
    eta = eta_md * tu * su
    o = LennardJonesNEMD(0.8, 1.0, **kw, cell="deforming", micro_steps=60, time_unit=tu,
                         stress_unit=su, viscosity_estimate=eta, reinit_warmup=40)
    grid = MACGrid(n, n, wall_speed=(0.0, lambda x: 16.0 * x**2 * (1.0 - x) ** 2))
    with NavierStokes2D(grid, density=Re * eta, stress=o, dt=dt) as ns:
        r = run_flow(ns, t_end=t_end, snapshots=int(round(t_end / dt)))
    md = time_average(r, t_from=t_from)
    with NavierStokes2D(grid, density=Re * eta, viscosity=0.0, stress=Newtonian(eta),
                        stabilization=eta, dt=dt) as ns:
        ref = run_flow(ns, t_end=t_end)
    y, u_ref = ref.centerline_u()
    _, v_ref = ref.centerline_v()
    zu = np.abs(md["u"] - u_ref)[1:-1] / md["u_se"][1:-1]
    zv = np.abs(md["v"] - v_ref)[1:-1] / md["v_se"][1:-1]
    tau_ref = float(ref.tau[0, 1, :, -1].mean())
    ztau = abs(md["tau_xy_top"] - tau_ref) / np.hypot(md["tau_xy_top_se"],
                                                      tau_ref * eta_se / eta_md)
    rei = float(r.micro["reinits"].sum())
    res.check(Check.at_most(f"MD cavity ({n}^2 boxes of 108 atoms, Re = {Re}): max |u - u_NS| / "
                            "SE on the vertical centreline", float(zu.max()), 4.0))
    res.check(Check.at_most("MD cavity: max |v - v_NS| / SE on the horizontal centreline",
                            float(zv.max()), 4.0))
    res.check(Check.at_most("MD cavity: |lid drag - NS| / combined SE (measures the viscosity)",
                            float(ztau), 4.0))
    table = Table(["y", "u (MD stress)", "SE", "u (NS, eta_MD)"])
    for k in range(1, len(y) - 1):
        table.add(y[k], md["u"][k], md["u_se"][k], u_ref[k])
    table.add("lid drag", md["tau_xy_top"], md["tau_xy_top_se"], tau_ref)
    res.tables.append((
        f"Lid-driven cavity (regularised lid, {n} x {n} cells, Re = {Re}) whose stress comes "
        f"from SLLOD boxes (108 atoms, rc = 2, deforming cells; 60 MD steps per macro step, "
        f"time unit {tu}), averaged over t in ({t_from}, {t_end}] in 5 batches, against "
        f"Navier–Stokes with the MD viscosity eta_MD = {eta_md:.3f} +- {eta_se:.3f} (simple "
        f"shear, Lees–Edwards, rate 0.2) through the same solver; {rei:.0f} box "
        f"re-initialisations, {float(r.micro['remaps'].sum()):.0f} remaps", table))
    res.plots.append(Plot("md_cavity_u", "Cavity with MD stress: u on x = 0.5", "y", "u",
                          [Series("MD stress (time average)", y, md["u"]),
                           Series("Navier–Stokes, eta_MD", y, u_ref, "-")],
                          xscale="linear", yscale="linear"))


def _one_row_table(mean: float, se: float, ref: float) -> Table:
    t = Table(["u_c (MD stress, mean of seeds)", "SE", "u_c (Navier–Stokes, eta LJTS)",
               "relative difference"])
    t.add(mean, se, ref, mean / ref - 1)
    return t


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: about 20 s, else about 3 minutes."""
    res = StudyResult(
        "fluids", TITLE,
        "The MAC projection solver converges at order 2 in space to the Poiseuille and "
        "start-up Couette closed forms and reproduces the lid-driven cavity centreline tables "
        "of Ghia, Ghia & Shin (1982). Hookean dumbbells match the Oldroyd-B closed-form "
        "start-up of shear within 4 standard errors, with errors falling like N^-1/2; FENE "
        "dumbbells reproduce the exact zero-shear viscosity and shear-thin, close to the FENE-P "
        "closure. Seamless coupling: a channel driven by dumbbell ensembles that are never "
        "re-initialised matches the Oldroyd-B channel within the statistical error, and with "
        "fast polymers the seamless run converges as the time-scale ratio grows. SLLOD "
        "molecular dynamics with Lees–Edwards boundaries reproduces the Lennard-Jones shear "
        "viscosity correlation, and a channel whose stress comes from it matches "
        "Navier–Stokes with that viscosity. In boxes deforming with any planar flow "
        "(remapped by lattice reduction) rotation leaves the stress isotropic, simple shear "
        "gives the Lees–Edwards viscosity and planar elongation a Trouton ratio of 4; a "
        "lid-driven cavity whose stress comes from these boxes matches Navier–Stokes with "
        "the MD viscosity.",
    )
    _channel_orders(res, quick)
    _cavity(res, quick)
    _shear(res, quick)
    _fene(res, quick)
    _seamless(res, quick)
    eta_le, se_le = _nemd(res, quick)
    _nemd_deforming(res, quick, eta_le, se_le)
    _md_cavity(res, quick)
    return res
