"""Gas dynamics (fe2.gas): central schemes vs the exact Riemann solution and a smooth wave.

* Sod and Lax shock tubes, Nessyahu–Tadmor (NT, MC limiter) and staggered Lax–Friedrichs
  (LF), ideal gas: L1 density error against :func:`fe2.gas.exact_riemann` (Toro's exact
  solver, sampled at the cell centres) on a grid sequence. For discontinuous solutions the
  L1 rate is below one: shocks and rarefactions give ``h``, the contact is smeared over
  ``(t h)^{1/2}`` cells by a first-order scheme (rate 1/2, reached from above) and over
  about ``h^{2/3}`` by a second-order one.
* Conservation: periodic runs keep mass, momentum and energy to round-off.
* Smooth density wave ``rho = 1 + 0.2 sin 2 pi (x - t)``, ``u = p = 1``, periodic: exact
  cell averages are known in closed form, NT converges at order 2 and LF at order 1.
"""

from __future__ import annotations

import numpy as np

from fe2.gas import IdealGas, conserved, evolve, exact_riemann, shock_tube
from fe2.verify import observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Gas dynamics: shock tubes and a smooth wave (NT, LF vs exact)"

GAMMA = 1.4
PROBLEMS = {  # name: (left, right, t_end); x0 = 0.5 on [0, 1] (Toro, ch. 4 and 6)
    "Sod": ((1.0, 0.0, 1.0), (0.125, 0.0, 0.1), 0.2),
    "Lax": ((0.445, 0.698, 3.528), (0.5, 0.0, 0.571), 0.13),
}
RATE_RANGE = {"nt": (0.5, 1.1), "lf": (0.45, 1.1)}  # discontinuous solutions, L1
SMOOTH_RATE = {"nt": (1.8, 2.3), "lf": (0.9, 1.1)}
LABEL = {"nt": "NT", "lf": "LF"}


def _smooth_wave(n: int, scheme: str, t_end: float = 0.5) -> float:
    """L1 error of the density cell averages of the advected sine wave on n cells."""
    dx = 1.0 / n
    x = dx * (np.arange(n) + 0.5)
    damp = np.sin(np.pi * dx) / (np.pi * dx)  # cell average of sin over a cell of width dx

    def rho_avg(t: float) -> np.ndarray:
        return 1.0 + 0.2 * np.sin(2 * np.pi * (x - t)) * damp

    # U is linear in rho at constant u, p: these are exact cell averages
    U0 = conserved(rho_avg(0.0), np.ones(n), np.ones(n), GAMMA)
    r = evolve(U0, dx, t_end, IdealGas(GAMMA), scheme=scheme, bc="periodic")
    return float(np.abs(r.U[0] - rho_avg(t_end)).mean())


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: grids up to 400 cells (about 2 s), else up to 1600 (about 7 s)."""
    res = StudyResult(
        "gas_shock_tubes", TITLE,
        "Sod and Lax shock tubes with the ideal-gas oracle, Nessyahu–Tadmor (MC limiter) and "
        "staggered Lax–Friedrichs: L1 density error against the exact Riemann solution "
        "(Toro) on a grid sequence, observed rate in [0.5, 1.1] for NT and [0.45, 1.1] for "
        "LF (a first-order scheme smears the contact like (t h)^1/2, so its rate tends to "
        "1/2 from above), NT more accurate than LF on the finest grid. Periodic runs "
        "conserve mass, momentum and energy to 1e-12 (relative). A smooth periodic density "
        "wave converges at order 2 (NT, in [1.8, 2.3]) and 1 (LF, in [0.9, 1.1]).",
    )
    ns = np.array([50, 100, 200, 400] if quick else [100, 200, 400, 800, 1600])
    table = Table(["problem", "scheme", "cells", "L1 density error"])
    series, finest = [], {}
    sod_profiles = None
    for pname, (left, right, t_end) in PROBLEMS.items():
        for scheme in ("nt", "lf"):
            errs = []
            for n in ns:
                r = shock_tube(left, right, int(n), t_end, flux=IdealGas(GAMMA), scheme=scheme)
                rho_ex = exact_riemann(left, right, r.x, r.t, gamma=GAMMA)[0]
                e = float(np.abs(r.rho - rho_ex).mean())
                errs.append(e)
                table.add(pname, LABEL[scheme], int(n), e)
                if pname == "Sod" and n == ns[-2]:
                    sod_profiles = (sod_profiles or {}) | {scheme: r}
            errs = np.array(errs)
            h = 1.0 / ns
            rate = observed_rate(h, errs)
            lo, hi = RATE_RANGE[scheme]
            name = f"{pname}, {LABEL[scheme]}"
            res.check(Check.within(f"{name}: L1 density rate", rate, lo, hi))
            res.check(Check.holds(f"{name}: error decreases under refinement",
                                  bool(np.all(np.diff(errs) < 0)), "monotone decrease",
                                  ", ".join(f"{e:.3g}" for e in errs)))
            finest[(pname, scheme)] = errs[-1]
            series.append(Series(f"{name} (rate {rate:.2f})", h, errs,
                                 "o-" if scheme == "nt" else "s--"))
        res.check(Check.holds(f"{pname}: NT more accurate than LF on the finest grid",
                              finest[(pname, "nt")] < finest[(pname, "lf")], "NT < LF",
                              f"{finest[(pname, 'nt')]:.3g} vs {finest[(pname, 'lf')]:.3g}"))
    res.tables.append(("Shock tubes: L1 density error vs the exact Riemann solution", table))

    # conservation with periodic boundaries (the tube's states wrap around)
    tc = Table(["problem", "scheme", "mass drift", "momentum drift", "energy drift"])
    n_cons = 200 if quick else 800
    worst = 0.0
    for pname, (left, right, t_end) in PROBLEMS.items():
        for scheme in ("nt", "lf"):
            r = shock_tube(left, right, n_cons, t_end, flux=IdealGas(GAMMA), scheme=scheme,
                           bc="periodic")
            scale = max(abs(r.mass[0]), abs(r.momentum[0]), abs(r.energy[0]))
            drift = [float(np.max(np.abs(v - v[0])) / scale)
                     for v in (r.mass, r.momentum, r.energy)]
            tc.add(pname, LABEL[scheme], *drift)
            worst = max(worst, *drift)
            res.check(Check.at_most(f"{pname}, {LABEL[scheme]}, periodic: conservation "
                                    "(max drift / largest total)", max(drift), 1e-12))
    res.tables.append((f"Conservation, periodic, {n_cons} cells (drift relative to the "
                       "largest initial total)", tc))

    # smooth wave: orders 2 and 1
    ms = np.array([64, 128, 256] if quick else [64, 128, 256, 512, 1024])
    ts = Table(["scheme", "cells", "L1 density error"])
    smooth = []
    for scheme in ("nt", "lf"):
        errs = np.array([_smooth_wave(int(m), scheme) for m in ms])
        for m, e in zip(ms, errs, strict=True):
            ts.add(LABEL[scheme], int(m), e)
        rate = observed_rate(1.0 / ms, errs)
        lo, hi = SMOOTH_RATE[scheme]
        res.check(Check.within(f"smooth wave, {LABEL[scheme]}: L1 density order", rate, lo, hi))
        smooth.append(Series(f"smooth wave, {LABEL[scheme]} (rate {rate:.2f})", 1.0 / ms, errs,
                             "o-" if scheme == "nt" else "s--"))
    res.tables.append(("Smooth density wave rho = 1 + 0.2 sin 2π(x − t), u = p = 1, t = 0.5",
                       ts))

    res.plots.append(Plot("shock_tube_errors", "Shock tubes: L1 density error vs h",
                          "h = 1/cells", "L1 error", series,
                          slopes=[(1.0, "slope 1", 0), (0.5, "slope 1/2", 1)]))
    res.plots.append(Plot("smooth_wave_errors", "Smooth wave: L1 density error vs h",
                          "h = 1/cells", "L1 error", smooth,
                          slopes=[(2.0, "slope 2", 0), (1.0, "slope 1", 1)]))
    if sod_profiles is not None:
        left, right, t_end = PROBLEMS["Sod"]
        xf = np.linspace(0.0, 1.0, 1001)
        rex = exact_riemann(left, right, xf, t_end, gamma=GAMMA)[0]
        prof = [Series("exact", xf, rex, "k-")]
        for scheme, r in sod_profiles.items():
            prof.append(Series(f"{LABEL[scheme]}, {r.x.size} cells", r.x, r.rho,
                               "." if scheme == "nt" else "x"))
        res.plots.append(Plot("sod_density", f"Sod density at t = {t_end:g}", "x", "density",
                              prof, xscale="linear", yscale="linear"))
    return res
