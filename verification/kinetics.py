"""Stochastic kinetics (fe2.kinetics): direct SSA and nested SSA against exact laws.

* Direct SSA: birth–death ``0 -> A -> 0`` (Poisson law at every time) and isomerisation
  ``A <-> B`` (binomial law), mean and variance within 4 standard errors.
* Four-species network S1 <-> S2 (1e5, fast), S2 <-> S3 (1, slow), S3 <-> S4 (1e5, fast).
  Slow variables ``y1 = x1 + x2``, ``y2 = x3 + x4``. Given ``y1`` the fast quasi-
  equilibrium is ``x2 ~ Bin(y1, 1/2)``, so the effective slow process moves one molecule
  from {S1,S2} to {S3,S4} at rate ``E[x2 | y1] = y1/2`` and back at ``y2/2``: each
  molecule flips independently with rate 1/2 each way, and from ``y1(0) = m`` of ``n``,
  ``y1(T) ~ Bin(m, (1 + e^{-T})/2) + Bin(n - m, (1 - e^{-T})/2)``.
* The inner estimator (the averaged rate of S2 -> S3 from a state with ``x2 = 0``): its
  mean is exactly ``(y1/2) (1 - b)``, ``b = (eps/2T_f)(1 - e^{-2 T_f/eps})``, and its error
  obeys E–Liu–Vanden-Eijnden's bound ``1/(1 + T_f/eps) + 1/sqrt(N (1 + T_f/eps))``
  (relative, ``eps = 1e-5``): bias ~ 1/T_f, standard deviation ~ (N T_f)^{-1/2}.
* Isomerisation S1 <-> S2 (1e5, 2e5) -> S3 (1): the slow-scale rate of Cao, Gillespie &
  Petzold, ``c3 c1/(c1 + c2)`` per molecule of S1 + S2, gives ``y(T) ~ Bin(y0, e^{-T/3})``.
* Heat shock (``heat_shock.toml``, the file's fast flags): mean and variance of s32 from
  the nested SSA with its hybrid outer loop (``leap="auto"`` tau-leaps Protein ->
  Unfolded, fast only by its population) against the direct SSA, with the cost of each:
  at T = 0.1 (quick) and T = 0.1 and 10 (full tier), within 4 standard errors.
"""

from __future__ import annotations

import math

import numpy as np

from fe2.kinetics import Reaction, ReactionNetwork, averaged_rates, nested_ssa, ssa
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Stochastic kinetics: direct SSA and nested SSA vs exact laws"
Z = 4.0  # standard errors
EPS = 1e-5
#: inner time of the heat-shock runs: about 0.65 relaxation times of DnaJ + Unfolded <->
#: DnaJ.Unfolded at t = 0 (rate 0.108 x 2e5 + 0.2); s32(T = 10) is 86.3, 93.0, 94.2, 94.9
#: (se 0.2-0.45) at T_f = 3e-6, 1e-5, 3e-5, 1e-4 against 94.1 +- 1.3 direct (bench)
HS_TF = 3e-5


def four_species(fast_rate: float = 1.0 / EPS) -> ReactionNetwork:
    """S1 <-> S2 (fast), S2 <-> S3 (rates 1), S3 <-> S4 (fast)."""
    return ReactionNetwork(
        ["S1", "S2", "S3", "S4"],
        [Reaction(fast_rate, {"S1": 1}, {"S2": 1}, fast=True),
         Reaction(fast_rate, {"S2": 1}, {"S1": 1}, fast=True),
         Reaction(1.0, {"S2": 1}, {"S3": 1}),
         Reaction(1.0, {"S3": 1}, {"S2": 1}),
         Reaction(fast_rate, {"S3": 1}, {"S4": 1}, fast=True),
         Reaction(fast_rate, {"S4": 1}, {"S3": 1}, fast=True)])


def _se_var(sample: np.ndarray, var: float, floor: bool = False) -> float:
    """Standard error of the sample variance from the fourth central moment; with
    ``floor``, at least the Gaussian value ``var sqrt(2/(n-1))`` (the sample ``m4`` of a
    few runs underestimates it)."""
    m4 = float(((sample - sample.mean()) ** 4).mean())
    se = math.sqrt(max(m4 - var**2, 1e-12) / sample.size)
    return max(se, var * math.sqrt(2 / (sample.size - 1))) if floor else se


def _law_checks(res, name, sample, mean, var, table):
    sample = np.asarray(sample, float)
    se_m = math.sqrt(var / sample.size)
    se_v = _se_var(sample, var)
    table.add(name, sample.size, sample.mean(), mean, se_m, sample.var(ddof=1), var, se_v)
    res.check(Check.within(f"{name}: mean", float(sample.mean()), mean - Z * se_m,
                           mean + Z * se_m))
    res.check(Check.within(f"{name}: variance", float(sample.var(ddof=1)), var - Z * se_v,
                           var + Z * se_v))


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: about 25 s, else about 3 minutes (2-core machine under load)."""
    res = StudyResult(
        "kinetics", TITLE,
        "Direct SSA against Poisson and binomial laws; nested SSA (E, Liu & Vanden-Eijnden) "
        "on the four-species network against its exact effective binomial law; the inner "
        "estimator's bias (exact transient) and spread against the error bound "
        "1/(1+T_f/eps) + 1/sqrt(N(1+T_f/eps)); S1<->S2->S3 against the slow-scale rate "
        "(Cao-Gillespie-Petzold); heat shock nested vs direct SSA with costs. Statistical "
        "checks: within 4 standard errors, fixed seeds.",
    )
    laws = Table(["case", "runs", "mean", "exact mean", "se", "variance", "exact var", "se"])

    # ---- direct SSA vs closed forms
    runs = 2000 if quick else 10000
    k, g, T = 20.0, 2.0, 1.5
    bd = ReactionNetwork(["A"], [Reaction(k, {}, {"A": 1}), Reaction(g, {"A": 1}, {})])
    r = ssa(bd, {"A": 0}, T, runs, seed=1)
    lam = k / g * (1 - math.exp(-g * T))
    _law_checks(res, "direct SSA, birth-death, Poisson", r.column("A"), lam, lam, laws)
    c1, c2, n = 1.0, 3.0, 60
    iso = ReactionNetwork(["A", "B"], [Reaction(c1, {"A": 1}, {"B": 1}),
                                       Reaction(c2, {"B": 1}, {"A": 1})])
    r = ssa(iso, {"A": n}, 0.4, runs, seed=2)
    p = (c2 + c1 * math.exp(-(c1 + c2) * 0.4)) / (c1 + c2)
    _law_checks(res, "direct SSA, isomerisation, binomial", r.column("A"), n * p,
                n * p * (1 - p), laws)

    # ---- four species: nested SSA vs the effective binomial law
    net = four_species()
    m, n, T = 30, 40, 1.0
    paa, pba = 0.5 + 0.5 * math.exp(-T), 0.5 - 0.5 * math.exp(-T)
    mean = m * paa + (n - m) * pba
    var = m * paa * (1 - paa) + (n - m) * pba * (1 - pba)
    e2e = Table(["T_f/eps", "N", "runs", "mean y1(T) - exact", "se", "outer events",
                 "inner events", "seconds"])
    runs4 = 1000 if quick else 2000
    settings = [(1, 1), (10, 1)] if quick else [(1, 1), (10, 1), (100, 1)]
    pmf_series = []
    err_e2e = {}
    for tf, N in settings:
        rr = nested_ssa(net, {"S1": m, "S3": n - m}, T, runs4, seed=10 + tf + N,
                        inner_runs=N, inner_time=tf * EPS)
        y1 = (rr.column("S1") + rr.column("S2")).astype(float)
        e2e.add(tf, N, runs4, y1.mean() - mean, math.sqrt(var / runs4),
                int(rr.events.sum()), int(rr.inner_events.sum()), rr.seconds)
        if tf >= 10:
            _law_checks(res, f"nested SSA, four species, T_f = {tf} eps, N = {N}", y1,
                        mean, var, laws)
        err_e2e[(tf, N)] = abs(y1.mean() - mean)
        if tf == 10 and N == 1:
            ks = np.arange(n + 1)
            pmf_series.append(Series("nested SSA (T_f = 10 eps)", ks,
                                     np.bincount(y1.astype(int), minlength=n + 1) / runs4,
                                     "o"))
    se4 = math.sqrt(var / runs4)
    res.check(Check.holds("four species: the bias of a short inner run (T_f = eps: the slow "
                          "jumps leave the carried fast state out of equilibrium) is "
                          "resolved and shrinks at T_f = 10 eps",
                          err_e2e[(1, 1)] > Z * se4 > err_e2e[(10, 1)],
                          f"|err(eps)| > {Z:g} se > |err(10 eps)|, se = {se4:.3g}",
                          f"{err_e2e[(1, 1)]:.3g} vs {err_e2e[(10, 1)]:.3g}"))
    from scipy import stats

    ks = np.arange(n + 1)
    exact_pmf = np.convolve(stats.binom.pmf(np.arange(m + 1), m, paa),
                            stats.binom.pmf(np.arange(n - m + 1), n - m, pba))
    pmf_series.append(Series("exact effective law", ks, exact_pmf, "k-"))
    res.tables.append(("Four species, y1(T = 1) from y1 = 30 of 40: nested SSA vs the "
                       "exact effective law", e2e))

    # ---- the inner estimator vs the error bound
    y = 20
    x = {"S1": y, "S3": y}
    tfs = np.array([1, 3, 10, 30] if quick else [1, 3, 10, 30, 100], dtype=float)
    Ns = [1, 4] if quick else [1, 4, 16]
    reps = 200 if quick else 400
    est = Table(["T_f/eps", "N", "bias/rate", "exact bias/rate", "std/rate", "rms/rate",
                 "bound", "fast events per estimate"])
    err_series, std_at = [], {}
    exact_rate = y / 2
    within_bound = []
    for N in Ns:
        rms_list = []
        for tf in tfs:
            vals, ev = [], 0
            for s in range(reps):
                a, slow, e = averaged_rates(net, x, N, tf * EPS, seed=(N, int(tf), s))
                vals.append(a[0])  # S2 -> S3
                ev += e
            vals = np.array(vals)
            b = (1 / (2 * tf)) * (1 - math.exp(-2 * tf))
            bias = (vals.mean() - exact_rate) / exact_rate
            std = vals.std(ddof=1) / exact_rate
            rms = math.sqrt(((vals - exact_rate) ** 2).mean()) / exact_rate
            bound = 1 / (1 + tf) + 1 / math.sqrt(N * (1 + tf))
            est.add(int(tf), N, bias, -b, std, rms, bound, ev / reps)
            res.check(Check.within(f"estimator T_f = {int(tf)} eps, N = {N}: mean rate vs "
                                   "exact transient", float(vals.mean()),
                                   exact_rate * (1 - b) - Z * vals.std(ddof=1) / math.sqrt(reps),
                                   exact_rate * (1 - b) + Z * vals.std(ddof=1) / math.sqrt(reps)))
            within_bound.append(rms <= bound)
            rms_list.append(rms)
            std_at[(N, tf)] = std
        err_series.append(Series(f"N = {N}: rms relative error", tfs, rms_list, "o-"))
    for N in Ns:
        bnd = [1 / (1 + t) + 1 / math.sqrt(N * (1 + t)) for t in tfs]
        err_series.append(Series(f"N = {N}: bound", tfs, bnd, ":"))
    res.check(Check.holds("estimator: rms relative error <= 1/(1+T_f/eps) + "
                          "1/sqrt(N(1+T_f/eps)) at every (T_f, N)", all(within_bound),
                          "all points", f"{sum(within_bound)}/{len(within_bound)}"))
    big = tfs[tfs >= 10]
    s_tf = _slope(big, [std_at[(1, t)] for t in big])
    res.check(Check.near("estimator: slope of std in T_f (T_f >= 10 eps, N = 1)", s_tf,
                         -0.5, 0.15))
    s_n = _slope(Ns, [std_at[(N, tfs[-1])] for N in Ns])
    # the estimator is a mean of N independent replicas: std ~ N^-1/2 exactly; the slope's
    # own error comes from the sampled stds (relative se 1/sqrt(2 (reps - 1)) each)
    tol_n = Z * math.sqrt(1.0 / (reps - 1)) / math.log(Ns[-1] / Ns[0])
    res.check(Check.near(f"estimator: slope of std in N (T_f = {int(tfs[-1])} eps)", s_n,
                         -0.5, tol_n))
    res.tables.append((f"Inner estimator of the S2 -> S3 rate from x = ({y}, 0, {y}, 0): "
                       f"{reps} estimates per row (relative to the exact rate y1/2)", est))

    # ---- isomerisation S1 <-> S2 -> S3: slow-scale rate
    c1, c2, c3 = 1e5, 2e5, 1.0
    iso3 = ReactionNetwork(["S1", "S2", "S3"], [Reaction(c1, {"S1": 1}, {"S2": 1}),
                                                Reaction(c2, {"S2": 1}, {"S1": 1}),
                                                Reaction(c3, {"S2": 1}, {"S3": 1})])
    y0, T = 50, 2.0
    # T_f = 60 relaxation times 1/(c1 + c2): a slow event takes one S2 from the carried
    # fast state, and the next inner run averages that deficit over T_f (bias ~ 1/60
    # molecule, 0.2 % of the rate; at T_f = 3e-5 it is 1 % and shows at 4000 runs)
    rr = nested_ssa(iso3, {"S1": y0}, T, runs4, seed=3, inner_runs=1, inner_time=2e-4,
                    fast="auto")
    yy = (rr.column("S1") + rr.column("S2")).astype(float)
    ks_rate = c3 * c1 / (c1 + c2)
    p = math.exp(-ks_rate * T)
    _law_checks(res, "nested SSA, S1<->S2->S3, Bin(y0, exp(-T c3 c1/(c1+c2)))", yy,
                y0 * p, y0 * p * (1 - p), laws)
    a = np.array([averaged_rates(iso3, {"S1": 0, "S2": y0}, 4, 1e-3, seed=s, fast="auto")[0][0]
                  for s in range(100)])
    res.check(Check.within("averaged rate of S2 -> S3 at y = 50 vs slow-scale rate "
                           "c3 c1 y/(c1+c2)", float(a.mean()),
                           ks_rate * y0 * (1 - 0.01) - Z * a.std() / 10,
                           ks_rate * y0 * (1 + 0.01) + Z * a.std() / 10))
    res.tables.append(("Laws: observed against exact mean and variance", laws))

    # ---- heat shock: nested (hybrid outer loop) vs direct
    hs = ReactionNetwork.model("heat_shock")
    ht = Table(["T", "method", "runs", "mean s32", "se", "var s32", "se var",
                "events per run", "seconds per run"])
    for T, nd, nn in ([(0.1, 24, 200)] if quick else [(0.1, 48, 400), (10.0, 12, 400)]):
        d = ssa(hs, None, T, nd, seed=5)
        ns = nested_ssa(hs, None, T, nn, seed=6, inner_runs=1, inner_time=HS_TF)
        for label, r, ev in (("direct SSA", d, d.events.mean()),
                             (f"nested SSA, leap = 'auto' (N = 1, T_f = {HS_TF:g})", ns,
                              (ns.events.sum() + ns.inner_events.sum()) / nn)):
            x = r.column("s32").astype(float)
            ht.add(T, label, r.runs, r.mean("s32"), r.stderr("s32"), r.var("s32"),
                   _se_var(x, r.var("s32"), True), ev, r.seconds / r.runs)
        diff = ns.mean("s32") - d.mean("s32")
        se = math.hypot(d.stderr("s32"), ns.stderr("s32"))
        res.check(Check.within(f"heat shock, T = {T:g}: mean s32 nested - direct", diff,
                               -Z * se, Z * se))
        xd, xn = d.column("s32").astype(float), ns.column("s32").astype(float)
        sev = math.hypot(_se_var(xd, d.var("s32"), True), _se_var(xn, ns.var("s32"), True))
        res.check(Check.within(f"heat shock, T = {T:g}: variance of s32 nested - direct",
                               ns.var("s32") - d.var("s32"), -Z * sev, Z * sev))
    res.tables.append(("Heat shock (the file's fast flags; Protein -> Unfolded, fast only by "
                       "its population of 5e6 with a per-molecule rate 0.2, is tau-leaped "
                       "in the outer loop by leap = 'auto'): nested against direct SSA, "
                       "mean and variance of s32 within 4 combined standard errors", ht))

    res.plots.append(Plot("estimator_error", "Inner estimator: rms relative error vs T_f",
                          "T_f / eps", "relative error", err_series,
                          slopes=[(-0.5, "slope -1/2", 0)]))
    res.plots.append(Plot("four_species_law", "Four species: law of y1(T = 1)",
                          "y1", "probability", pmf_series, xscale="linear",
                          yscale="linear"))
    return res
