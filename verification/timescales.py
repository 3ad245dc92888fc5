"""Coarse time steppers (fe2.timescales): projective integration, seamless HMM, patch dynamics.

* Projective forward Euler on ``y' = lambda y``: the observed one-step factor equals
  ``[(M+1) rho - M] rho^k`` (``rho = 1 + h lambda``) and is at most one in two separate
  regions, around ``rho = 0`` (fast) and ``rho = 1`` (slow). Orders 1 (projective Euler)
  and 2 (projective Adams–Bashforth 2, Heun inner steps) in the outer step on a stiff
  linear system (matrix exponential). Michaelis–Menten with ``eps = 0.05`` (steps chosen
  from the spectral gap) against SciPy Radau at ``rtol = 1e-12``, with the cost.
* Seamless HMM: ``x' = 1 + y, y' = -z/eps, z' = y/eps`` with ``eps`` boosted to ``eps'``
  (averaged equation ``X' = 1``, error ``O(eps')``); ``x' = -x + y, y' = (x - 2y)/eps``
  (observed decay rate = slow eigenvalue of the ``eps'`` system, closed form); ``x' = -x +
  y^2`` with an Ornstein–Uhlenbeck ``y`` (mean of ``x(T)`` = averaged solution with the
  Euler–Maruyama stationary variance, within 4 standard errors); HMM with
  re-initialisation on the same problems (cost and error).
* Patch dynamics for ``u_t = (a(x/eps) u_x)_x``, ``a(y) = 1/(2 + sin 2 pi y)`` (harmonic
  mean 1/2): against the homogenized closed form and the discrete homogenized scheme,
  error versus ``eps`` and patch size.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from fe2.timescales import (
    CoarseStepper,
    SDEModel,
    choose_steps,
    estimate_spectrum,
    harmonic_mean,
    hmm,
    patch_dynamics,
    projective_ab2,
    projective_euler,
    projective_integrate,
    seamless,
)
from fe2.verify import observed_rate
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Time scales: projective integration, seamless HMM, patch dynamics"
EPS = 1e-4  # true fast scale of the seamless problems


# ------------------------------------------------------------------ projective
def _amplification(res: StudyResult, quick: bool) -> None:
    k, M = 1, 10
    lam_h = np.linspace(-2.1, 0.05, 88 if quick else 400)
    obs = np.array([projective_euler(CoarseStepper(lambda t, y, z=z: z * y, dt=1.0), [1.0],
                                     (0.0, k + 1.0 + M), k, M).U[-1, 0] for z in lam_h])
    rho = 1 + lam_h
    formula = ((M + 1) * rho - M) * rho ** k
    res.check(Check.at_most("projective Euler factor = [(M+1) rho - M] rho^k (max abs diff)",
                            float(np.abs(obs - formula).max()), 1e-12))
    stable = np.abs(obs) <= 1
    # connected stable intervals along the real lambda h axis
    edges = np.flatnonzero(np.diff(stable.astype(int)))
    runs = np.split(np.arange(lam_h.size), edges + 1)
    regions = [(lam_h[r[0]], lam_h[r[-1]]) for r in runs if stable[r[0]]]
    fast = [r for r in regions if r[0] <= -1 <= r[1]]
    z0 = lam_h[lam_h < 0].max()  # grid point closest to lambda h = 0 from below
    slow = [r for r in regions if r[0] <= z0 <= r[1] and r[0] > -0.5]
    res.check(Check.holds("two separate stable regions (around rho = 0 and rho = 1)",
                          len(regions) == 2 and len(fast) == 1 and len(slow) == 1,
                          "2: one containing lambda h = -1, one at lambda h -> 0-",
                          "; ".join(f"[{a:.3f}, {b:.3f}]" for a, b in regions)))
    res.plots.append(Plot("amplification", f"Projective Euler |sigma|, k={k}, M={M}",
                          "lambda h", "|sigma|",
                          [Series("observed", lam_h, np.maximum(np.abs(obs), 1e-16), "o"),
                           Series("[(M+1) rho - M] rho^k", lam_h,
                                  np.maximum(np.abs(formula), 1e-16), "-")],
                          xscale="linear", yscale="log", hlines=[(1.0, "|sigma| = 1")]))


def _orders(res: StudyResult, quick: bool) -> None:
    eps, h, k = 1e-3, 1e-3, 8
    A = np.array([[-1.0, 0.0], [1.0 / eps, -1.0 / eps]])
    y0 = np.array([1.0, 0.0])
    Ms = [160, 320, 640] if quick else [40, 80, 160, 320, 640]
    series, table = [], Table(["scheme", "M", "Dt", "relative error at T"])
    for scheme, lo, hi in (("euler", 0.9, 1.3), ("ab2", 1.8, 2.6)):
        errs, dts = [], []
        for M in Ms:
            Dt = (k + 1 + M) * h
            T = Dt * round(2.0 / Dt)
            tr = projective_integrate(CoarseStepper(lambda t, y: A @ y, dt=h, method="heun"),
                                      y0, (0.0, T), k, M, scheme)
            ex = expm(A * T) @ y0
            errs.append(abs(tr.U[-1, 0] - ex[0]) / abs(ex[0]))
            dts.append(Dt)
            table.add(scheme, M, Dt, errs[-1])
        rate = observed_rate(np.array(dts[-2:]), np.array(errs[-2:]))
        res.check(Check.within(f"projective {scheme} (Heun inner): order in Dt", rate, lo, hi))
        series.append(Series(f"projective {scheme}", dts, errs))
    res.tables.append(("Stiff linear system (eigenvalues -1, -1000), h = 1e-3, k = 8", table))
    res.plots.append(Plot("projective_orders", "Projective integration: error vs outer step",
                          "Dt", "relative error", series, slopes=[(1, "slope 1", 0),
                                                                  (2, "slope 2", 1)]))


def _mm(t, y, eps=0.05, kappa=1.0, lam=0.5):
    s, c = y
    return np.array([-s + (s + kappa - lam) * c, (s - (s + kappa) * c) / eps])


def _michaelis_menten(res: StudyResult, quick: bool) -> None:
    T = 5.0
    ref = solve_ivp(_mm, (0, T), [1.0, 0.0], method="Radau", rtol=1e-12, atol=1e-13,
                    dense_output=True)
    rk = solve_ivp(_mm, (0, T), [1.0, 0.0], method="RK45", rtol=1e-6, atol=1e-9)
    probe = CoarseStepper(_mm, dt=1e-3)
    lam = np.r_[estimate_spectrum(probe, [1.0, 0.0]), estimate_spectrum(probe, [0.0, 0.0])]
    table = Table(["method", "h", "k", "M", "Dt", "max error at T", "rhs evaluations",
                   "evaluations of resolved stepping with h", "cost ratio resolved / PI"])
    errs, trajs = {}, {}
    for acc in ((0.4,) if quick else (0.2, 0.4, 0.8)):
        for name, fun, meth in (("PFE", projective_euler, "euler"),
                                ("PAB2", projective_ab2, "euler"),
                                ("PAB2 (Heun)", projective_ab2, "heun")):
            c = choose_steps(lam, accuracy=acc, method=meth)
            cs = CoarseStepper(_mm, dt=c.h, method=meth)
            tr = fun(cs, [1.0, 0.0], (0, T), c.k, c.M)
            e = float(np.abs(tr.U[-1] - ref.sol(T)).max())
            per = {"euler": 1, "heun": 2}[meth]
            resolved = per * int(np.ceil(T / c.h))
            table.add(f"{name}, accuracy {acc}", c.h, c.k, c.M, c.Dt, e, cs.model.evaluations,
                      resolved, resolved / cs.model.evaluations)
            if acc == 0.4:
                errs[name] = e
                trajs[name] = tr
    table.add("RK45 rtol 1e-6 (SciPy)", "-", "-", "-", "-",
              float(np.abs(rk.y[:, -1] - ref.sol(T)).max()), rk.nfev, "-", "-")
    res.tables.append(("Michaelis–Menten, eps = 0.05, T = 5, against Radau (rtol 1e-12); "
                       "steps from the spectral gap", table))
    res.check(Check.at_most("Michaelis–Menten: projective Euler max error", errs["PFE"], 0.03))
    res.check(Check.at_most("Michaelis–Menten: PAB2 error / PFE error", errs["PAB2"] /
                            errs["PFE"], 1 / 3))
    res.check(Check.at_most("Michaelis–Menten: PAB2 (Heun) error / PAB2 error",
                            errs["PAB2 (Heun)"] / errs["PAB2"], 1 / 3))
    tt = np.linspace(0, T, 200)
    res.plots.append(Plot("michaelis_menten", "Michaelis–Menten substrate s(t), eps = 0.05",
                          "t", "s",
                          [Series(n, tr.t, tr.U[:, 0], "o") for n, tr in trajs.items()]
                          + [Series("Radau rtol 1e-12", tt, ref.sol(tt)[0], "-")],
                          xscale="linear", yscale="linear"))


# ------------------------------------------------------------------ seamless
def _rotation(s, y, X):
    return np.array([-y[1], y[0]]) / EPS


def _one_plus_y(t, X, y):
    return 1.0 + y[0:1]


def _seamless_rotation(res: StudyResult, quick: bool, cmp: Table) -> None:
    dt, M = EPS * 2 * np.pi / 32, 8
    eps_p = np.array([0.1, 0.05, 0.025] if quick else [0.1, 0.05, 0.025, 0.0125, 0.00625])
    errs = []
    for ep in eps_p:
        tr = seamless(_one_plus_y, _rotation, [0.0], [1.0, 0.0], (0.0, 1.0),
                      ep * dt / EPS * M, M, dt)
        errs.append(float(np.abs(tr.U[:, 0] - tr.t).max()))
        cmp.add("rotation", f"seamless eps'={ep:g}", tr.micro_steps, errs[-1], "-")
    rate = observed_rate(eps_p, np.array(errs))
    res.check(Check.within("seamless rotation example: order in eps'", rate, 0.9, 1.1))
    for n_avg, kernel in ((16, "uniform"), (32, "uniform"), (64, "cosine")):
        tr = hmm(_one_plus_y, _rotation, [0.0], lambda X, rng: np.array([1.0, 0.0]),
                 (0.0, 1.0), 0.1, dt, 0, n_avg, kernel=kernel)
        cmp.add("rotation", f"HMM re-init, Dt=0.1, {kernel} kernel over {n_avg / 32:g} "
                "period(s)", tr.micro_steps, float(np.abs(tr.U[:, 0] - tr.t).max()), "-")
    res.plots.append(Plot("seamless_rotation", "Seamless HMM: x' = 1 + y, fast rotation",
                          "eps'", "max |x - (x0 + t)|", [Series("seamless", eps_p, errs)],
                          slopes=[(1, "slope 1")]))


def _slow_rate(ep):
    return (-(ep + 2) + np.sqrt((ep + 2) ** 2 - 4 * ep)) / (2 * ep)


def _seamless_linear(res: StudyResult, quick: bool, cmp: Table) -> None:
    dt, M, T = EPS / 40, 10, 4.0
    table = Table(["eps'", "observed rate", "lambda(eps') closed form", "relative difference",
                   "averaged rate"])
    eps_p = [0.4, 0.1] if quick else [0.4, 0.2, 0.1, 0.05]
    worst = 0.0
    for ep in eps_p:
        tr = seamless(lambda t, X, y: -X + y, lambda s, y, X: (X - 2 * y) / EPS,
                      [1.0], [0.0], (0.0, T), ep * dt / EPS * M, M, dt)
        sel = tr.t >= 1.0
        rate = float(np.polyfit(tr.t[sel], np.log(tr.U[sel, 0]), 1)[0])
        ex = _slow_rate(ep)
        worst = max(worst, abs(rate / ex - 1))
        table.add(ep, rate, ex, rate / ex - 1, -0.5)
        cmp.add("linear", f"seamless eps'={ep:g}", tr.micro_steps,
                float(abs(tr.U[-1, 0] - np.exp(-T / 2))), "-")
    res.tables.append(("Seamless HMM, x' = -x + y, y' = (x - 2y)/eps: decay rate on t in "
                       "[1, 4]", table))
    res.check(Check.at_most("linear slow–fast: |observed rate / lambda(eps') - 1|", worst,
                            0.006))
    for n_relax in (40, 200):
        tr = hmm(lambda t, X, y: -X + y, lambda s, y, X: (X - 2 * y) / EPS, [1.0],
                 lambda X, rng: np.zeros(1), (0.0, T), 0.1, dt, n_relax, 40)
        cmp.add("linear", f"HMM re-init y=0, Dt=0.1, relax {n_relax}", tr.micro_steps,
                float(abs(tr.U[-1, 0] - np.exp(-T / 2))), "-")


def _seamless_sde(res: StudyResult, quick: bool, cmp: Table) -> None:
    s, T, x0 = 1.0, 1.0, 2.0
    runs = 2000 if quick else 20000
    dt = EPS / 20
    var_y = s ** 2 / (1 - dt / EPS / 2)  # Euler–Maruyama stationary variance
    exact = x0 * np.exp(-T) + var_y * (1 - np.exp(-T))
    model = SDEModel(lambda t, y, X: -y / EPS, np.sqrt(2 / EPS) * s)
    rng = np.random.default_rng(11)
    table = Table(["eps'", "runs", "mean x(T)", "exact", "z = (mean - exact) / SE",
                   "Var x(T) / (s^4 eps' (1 - e^-2T))"])
    worst = 0.0
    for ep in ((0.05,) if quick else (0.1, 0.05, 0.025)):
        M = 10
        y0 = rng.normal(0.0, np.sqrt(var_y), (1, runs))
        tr = seamless(lambda t, X, y: -X + y[0] ** 2, model, np.full(runs, x0), y0, (0.0, T),
                      ep * dt / EPS * M, M, dt, seed=rng)
        xT = tr.U[-1]
        se = xT.std(ddof=1) / np.sqrt(runs)
        z = (xT.mean() - exact) / se
        worst = max(worst, abs(z))
        table.add(ep, runs, float(xT.mean()), exact, float(z),
                  float(xT.var(ddof=1) / (s ** 4 * ep * (1 - np.exp(-2 * T)))))
        cmp.add("OU SDE", f"seamless eps'={ep:g} ({runs} runs)", tr.micro_steps * runs,
                float(abs(xT.mean() - exact)), float(se))
    res.tables.append(("Seamless HMM, x' = -x + y^2, y Ornstein–Uhlenbeck: ensemble mean of "
                       "x(T) against the averaged solution", table))
    res.check(Check.at_most("OU SDE: |mean x(T) - averaged| in standard errors", worst, 4.0))
    for n_avg in (20, 200):
        r = 200
        tr = hmm(lambda t, X, y: -X + y[0] ** 2, model, np.full(r, x0),
                 lambda X, g: g.normal(0.0, np.sqrt(var_y), (1, X.size)), (0.0, T), 0.05, dt,
                 0, n_avg, kernel="uniform", seed=12)
        xT = tr.U[-1]
        cmp.add("OU SDE", f"HMM re-init (stationary draw), Dt=0.05, {n_avg} avg ({r} runs)",
                tr.micro_steps * r, float(abs(xT.mean() - exact)),
                float(xT.std(ddof=1) / np.sqrt(r)))


# ------------------------------------------------------------------ patch dynamics
def _patch(res: StudyResult, quick: bool) -> None:
    N, T, Dt = 10, 0.05, 0.0025
    x = (np.arange(N) + 0.5) / N
    U0 = np.sin(2 * np.pi * x)
    mu = 2 * N ** 2 * (1 - np.cos(2 * np.pi / N))
    exact = np.exp(-4 * np.pi ** 2 * 0.5 * T) * U0
    table = Table(["eps", "patch h", "buffer", "micro cells per patch",
                   "error vs discrete homogenized", "error vs homogenized closed form",
                   "micro cell-steps", "cell-steps of a resolved run (same dt)"])

    def run(eps, h, b=0.03):
        def a(z):
            return 1.0 / (2.0 + np.sin(2 * np.pi * z / eps))

        astar = harmonic_mean(a, eps)
        tr = patch_dynamics(a, U0, T, Dt, h, b, eps / 32, eps ** 2 / 20, 20, 20)
        disc = np.prod(1 - np.diff(tr.t) * astar * mu) * U0
        e_disc = float(np.abs(tr.U[-1] - disc).max())
        e_ex = float(np.abs(tr.U[-1] - exact).max())
        table.add(eps, h, b, tr.info["cells_per_patch"], e_disc, e_ex,
                  tr.info["micro_cell_steps"], int(round(32 / eps)) * int(round(T / (eps ** 2
                                                                                  / 20))))
        return e_disc, e_ex, astar

    epss = [0.01, 0.005] if quick else [0.02, 0.01, 0.0075, 0.005, 0.0025]
    e_eps = [run(e, 0.02) for e in epss]
    res.check(Check.within("harmonic mean of 1/(2 + sin 2 pi y)", e_eps[0][2], 0.5 - 1e-12,
                           0.5 + 1e-12))
    res.check(Check.at_most("patch dynamics, smallest eps: error vs discrete homogenized",
                            e_eps[-1][0], 1e-3))
    res.check(Check.holds("patch dynamics error falls as eps shrinks (fixed patch, buffer)",
                          e_eps[-1][0] < e_eps[0][0] / 10, "finest < coarsest / 10",
                          f"{e_eps[0][0]:.3g} -> {e_eps[-1][0]:.3g}"))
    res.check(Check.at_most("patch dynamics, smallest eps: error vs homogenized closed form",
                            e_eps[-1][1], 0.01))
    hs = [0.01, 0.04] if quick else [0.005, 0.01, 0.02, 0.04, 0.06]
    e_h = [run(0.01, h)[0] for h in hs]
    e_1 = e_h[hs.index(0.01)]  # patches of at least one period eps
    res.check(Check.holds("patch dynamics error (eps = 0.01) falls with the patch size",
                          e_h[-1] < e_1 / 2, "h = 0.06 (or 0.04) below h = eps = 0.01 / 2",
                          f"{e_1:.3g} -> {e_h[-1]:.3g}"))
    res.tables.append(("Patch dynamics, u_t = (a(x/eps) u_x)_x, N = 10 patches, Dt = "
                       "0.0025, T = 0.05", table))
    res.plots.append(Plot("patch_eps", "Patch dynamics: error vs eps (h = 0.02, buffer 0.03)",
                          "eps", "max error", [
                              Series("vs discrete homogenized", epss, [e[0] for e in e_eps]),
                              Series("vs homogenized closed form", epss,
                                     [e[1] for e in e_eps])]))
    res.plots.append(Plot("patch_size", "Patch dynamics: error vs patch size (eps = 0.01)",
                          "patch width h", "max error vs discrete homogenized",
                          [Series("eps = 0.01", hs, e_h)]))


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: a few seconds, else about a minute."""
    res = StudyResult(
        "timescales", TITLE,
        "Projective forward Euler reproduces the amplification factor [(M+1) rho - M] rho^k "
        "on y' = lambda y with its two stable regions; projective Euler and Adams–Bashforth "
        "2 converge at orders 1 and 2 in the outer step; on Michaelis–Menten (eps = 0.05) "
        "with steps chosen from the spectral gap they match Radau (rtol 1e-12). Seamless "
        "HMM: error O(eps') on the rotation example, decay rate equal to the slow eigenvalue "
        "of the boosted linear system, ensemble mean of an OU-driven slow variable within 4 "
        "standard errors of the averaged solution; HMM with re-initialisation on the same "
        "problems for cost and error. Patch dynamics converges to the harmonic-mean "
        "homogenized diffusion as eps shrinks and the patch grows.",
    )
    _amplification(res, quick)
    _orders(res, quick)
    _michaelis_menten(res, quick)
    cmp = Table(["problem", "method", "micro steps (x runs)", "error", "standard error"])
    _seamless_rotation(res, quick, cmp)
    _seamless_linear(res, quick, cmp)
    _seamless_sde(res, quick, cmp)
    res.tables.append(("Seamless vs HMM with re-initialisation: cost and error against the "
                       "averaged solution (rotation: X = t; linear: X = exp(-t/2) at T = 4; "
                       "SDE: mean x(1))", cmp))
    _patch(res, quick)
    return res
