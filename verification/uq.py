"""UQ (fe2.uq): random cells, MC/QMC rates, surrogates, Sobol indices, multi-fidelity.

* Monte Carlo over random two-phase voxel cells (level cuts of periodic Gaussian fields,
  exact volume fraction 0.3, conductivities 1 and 10): every realization's ``tr K / 2`` and
  the Monte Carlo mean lie within the Hashin–Shtrikman bounds (the HS trace bounds with
  Jensen's inequality hold for each anisotropic realization); the mean is isotropic within
  its standard error.
* Error of the mean against the number of samples N: the spread of disjoint batch means
  of random cells falls like N^(-1/2) (fitted slope), and the plug-in standard error
  ``s / sqrt(N)`` matches it. On a smooth parameter-to-tensor map (the exact tensor of a
  laminate in the quick tier, a voxel RVE of fixed geometry with a random inclusion
  conductivity in the full tier) scrambled Sobol points converge faster than Monte Carlo.
* Propagation through a surrogate: a GP of ``tr K / 2`` versus (volume fraction, inclusion
  conductivity) fitted on a Sobol design of random-cell solves, checked against direct
  solves at held-out points, then 2^14 Monte Carlo samples of the heat flux through a
  two-layer bar; the surrogate's mean flux agrees with a direct Monte Carlo of the bar
  within its confidence interval.
* Sobol indices by :func:`scipy.stats.sobol_indices`: Ishigami (a = 7, b = 0.1) against
  the closed form, then the homogenized conductivity against (volume fraction, inclusion
  conductivity, correlation length) through the surrogate.
* Multi-fidelity (Kennedy–O'Hagan): the Forrester pair (rho = 2 exactly) with 11 coarse
  and 4 fine points against the closed form; coarse (8^2 / 16^2 composite voxels) and fine
  (32^2 / 64^2) voxel cells of one random field: the two-level model with few fine solves
  beats a single-level GP on the same fine solves at held-out fine points.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from fe2.homogenization import hashin_shtrikman
from fe2.surrogate import GaussianProcess
from fe2.uq import (
    RandomConductivityCell,
    TensorSurrogate,
    TwoLevelGP,
    convergence_study,
    evaluate_model,
    layered_bar_flux,
    monte_carlo,
    sample_inputs,
    sobol_indices,
)
from fe2.uq.reference import (
    FORRESTER_RHO,
    forrester_high,
    forrester_low,
    ishigami,
    ishigami_indices,
)
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "UQ: random cells within HS, MC/QMC rates, surrogate propagation, Sobol, multi-fidelity"

KS = (1.0, 10.0)
VF = 0.3


def _laminate(p, seed=0):
    """Exact tensor of a 50/50 laminate of conductivities a and b."""
    return np.diag([2.0 / (1.0 / p["a"] + 1.0 / p["b"]), 0.5 * (p["a"] + p["b"])])


def _mc_cells(res: StudyResult, quick: bool) -> None:
    n, resol = (64, 16) if quick else (256, 32)
    cell = RandomConductivityCell(resol, KS, fixed={"volume_fraction": VF,
                                                    "correlation_length": 0.06})
    st = monte_carlo(cell, {}, n, seed=0)
    hs = hashin_shtrikman(KS, [1 - VF, VF], dim=2)
    t = np.trace(st.samples[0], axis1=1, axis2=2) / 2
    se_t = float(np.std(t, ddof=1) / np.sqrt(n))
    lo, hi = st.interval(0.95)
    tab = Table(["component", "mean", "standard error", "95 % CI low", "95 % CI high",
                 "std of one cell"])
    for (i, j), name in (((0, 0), "K_xx"), ((1, 1), "K_yy"), ((0, 1), "K_xy")):
        tab.add(name, st.mean[i, j], st.std_error[i, j], lo[i, j], hi[i, j], st.std[i, j])
    tab.add("tr K / 2", float(t.mean()), se_t, np.nan, np.nan, float(np.std(t, ddof=1)))
    tab.add("HS bounds", hs.lower, np.nan, np.nan, hs.upper, np.nan)
    res.tables.append((f"Monte Carlo over {n} random {resol}^2 cells (volume fraction {VF}, "
                       f"k = 1 / 10, correlation length 0.06)", tab))
    res.check(Check.holds("every realization: HS lower <= tr K / 2 <= HS upper",
                          bool(np.all((t >= hs.lower) & (t <= hs.upper))),
                          f"all {n} in [{hs.lower:.4g}, {hs.upper:.4g}]",
                          f"min {t.min():.4g}, max {t.max():.4g}"))
    res.check(Check.within("MC mean of tr K / 2 within HS bounds (3 standard errors inside)",
                           float(t.mean()), hs.lower + 3 * se_t, hs.upper - 3 * se_t))
    res.check(Check.at_most("mean is isotropic: |K_xx - K_yy| / its standard error",
                            float(abs(st.mean[0, 0] - st.mean[1, 1])
                                  / np.hypot(st.std_error[0, 0], st.std_error[1, 1])), 4.0))


def _rates(res: StudyResult, quick: bool) -> None:
    resol = 8 if quick else 16
    cell = RandomConductivityCell(resol, KS, fixed={"volume_fraction": VF,
                                                    "correlation_length": 0.12})
    ns = [2, 4, 8, 16, 32] if quick else [2, 4, 8, 16, 32, 64, 128]
    R = 8 if quick else 16
    c = convergence_study(cell, {}, ns, replicates=R, seed=0)
    rows = c.rows()
    tab = Table(["N", "observed error (batch means)", "plug-in s / sqrt(N)"])
    for r in rows:
        tab.add(*r)
    rate = c.rate()
    res.tables.append((f"Random {resol}^2 cells: error of the N-sample mean of K (Frobenius "
                       f"norm), {R * max(ns)} samples in disjoint batches; fitted slope "
                       f"{rate:.3f}", tab))
    res.check(Check.near("MC error ~ N^s: fitted slope s", rate, -0.5, 0.12 if quick else 0.08))
    ratio = np.array([r[2] / r[1] for r in rows[2:]])
    res.check(Check.within("plug-in standard error / observed error (N >= 8)",
                           float(np.max(np.abs(ratio - 1))) + 1.0, 0.0, 1.35))
    series = [Series("MC, random cells (observed)", ns, [r[1] for r in rows], "o-"),
              Series("MC, plug-in s/sqrt(N)", ns, [r[2] for r in rows], "x:")]

    # QMC vs MC on a smooth map
    if quick:
        model, inputs, label = _laminate, {"a": stats.uniform(1, 4), "b": stats.uniform(5, 10)}, \
            "laminate tensor (closed form)"
        nq = [8, 16, 32, 64, 128]
    else:
        model = RandomConductivityCell(16, KS, fixed={"volume_fraction": VF},
                                       microstructure_seed=0)
        inputs = {"inclusion_conductivity": stats.loguniform(2.0, 20.0)}
        label = "16^2 voxel RVE, fixed geometry, k_incl ~ logU(2, 20)"
        nq = [4, 8, 16, 32, 64]
    Rq = 16 if quick else 8
    tq = Table(["N", "MC error", "Sobol error", "Halton error"])
    conv = {m: convergence_study(model, inputs, nq, method=m, replicates=Rq, seed=1)
            for m in ("mc", "sobol", "halton")}
    for k, N in enumerate(nq):
        tq.add(N, *(conv[m].rows()[k][1] for m in ("mc", "sobol", "halton")))
    rates = {m: conv[m].rate() for m in conv}
    res.tables.append((f"Smooth map ({label}): error of the mean over {Rq} independent "
                       f"(scrambled) estimates; slopes MC {rates['mc']:.2f}, Sobol "
                       f"{rates['sobol']:.2f}, Halton {rates['halton']:.2f}", tq))
    res.check(Check.near("smooth map, MC slope", rates["mc"], -0.5, 0.2))
    res.check(Check.at_most("smooth map, scrambled Sobol slope (faster than -1/2)",
                            rates["sobol"], -0.9))
    res.check(Check.at_most(f"smooth map, Sobol / MC error at N = {nq[-1]}",
                            conv["sobol"].rows()[-1][1] / conv["mc"].rows()[-1][1], 0.1))
    series += [Series(f"MC, {label}", nq, [r[1] for r in conv["mc"].rows()], "s-"),
               Series(f"Sobol, {label}", nq, [r[1] for r in conv["sobol"].rows()], "d-"),
               Series(f"Halton, {label}", nq, [r[1] for r in conv["halton"].rows()], "^-")]
    res.plots.append(Plot("uq_standard_error", "Error of the mean vs number of samples",
                          "N", "error of the mean (Frobenius norm)", series,
                          slopes=[(-0.5, "slope -1/2", 0)]))


def _propagation(res: StudyResult, quick: bool) -> None:
    resol = 16 if quick else 32
    cell = RandomConductivityCell(resol, (1.0, 1.0), fixed={"correlation_length": 0.06})
    inputs = {"volume_fraction": stats.uniform(0.1, 0.25),
              "inclusion_conductivity": stats.loguniform(2.0, 10.0)}
    nd = 24 if quick else 64
    s = TensorSurrogate.fit(cell, inputs, nd, seed=0, components="isotropic")
    v = s.validate(cell, inputs, 10 if quick else 30, seed=5, realizations=2 if quick else 4)
    tv = Table(["design solves", "held-out points", "relative RMS error", "relative max error",
                "95 % coverage", "fitted noise std"])
    tv.add(nd, v.n, v.relative_rms, v.relative_max, v.coverage, float(v.noise_std[0]))
    res.tables.append((f"GP of tr K / 2 vs (volume fraction, k_incl) on {resol}^2 random cells "
                       f"against direct solves (mean of realizations) at held-out points", tv))
    res.check(Check.at_most("surrogate vs held-out direct solves: relative RMS error",
                            v.relative_rms, 0.05))

    # QoI: heat flux through a bar of two layers (0.6, 0.4), independent random layers
    both = {**{f"{k} 1": d for k, d in inputs.items()},
            **{f"{k} 2": d for k, d in inputs.items()}}
    X = sample_inputs(both, 2**14, "sobol", seed=2)
    k = np.stack([s.predict(X[:, :2])[0][:, 0, 0], s.predict(X[:, 2:])[0][:, 0, 0]])
    q = layered_bar_flux(k, [0.6, 0.4])
    nmc = 24 if quick else 96

    def bar(p, seed):
        ss = np.random.SeedSequence(seed).generate_state(2)
        k1 = cell({"volume_fraction": p["volume_fraction 1"],
                   "inclusion_conductivity": p["inclusion_conductivity 1"]}, int(ss[0]))
        k2 = cell({"volume_fraction": p["volume_fraction 2"],
                   "inclusion_conductivity": p["inclusion_conductivity 2"]}, int(ss[1]))
        # a layer spans many cells: its K is the ensemble mean, estimated by tr K / 2
        kk = np.array([[np.trace(k1) / 2], [np.trace(k2) / 2]])
        return layered_bar_flux(kk, [0.6, 0.4])

    direct = monte_carlo(bar, both, nmc, seed=3)
    tq = Table(["estimate", "samples", "cell solves", "mean flux", "standard error",
                "std of flux"])
    tq.add("surrogate + QMC", len(q), nd, float(q.mean()), np.nan, float(q.std(ddof=1)))
    tq.add("direct MC", nmc, 2 * nmc, float(direct.mean[0]), float(direct.std_error[0]),
           float(direct.std[0]))
    res.tables.append(("Heat flux through a two-layer bar (thickness 0.6 / 0.4, dT = 1), "
                       "random volume fraction and inclusion conductivity per layer", tq))
    res.check(Check.at_most("bar flux: |surrogate mean - direct MC mean| / direct standard "
                            "error", float(abs(q.mean() - direct.mean[0])
                                           / direct.std_error[0]), 3.0))

    # Sobol indices: Ishigami against the closed form, then the homogenized conductivity
    box = stats.uniform(-np.pi, 2 * np.pi)
    r = sobol_indices(ishigami, {"x1": box, "x2": box, "x3": box},
                      n=2**11 if quick else 2**14, seed=0)
    s1, st = ishigami_indices()
    ti = Table(["input", "S1", "S1 exact", "ST", "ST exact"])
    for j in range(3):
        ti.add(f"x{j + 1}", r.first_order[0, j], s1[j], r.total_order[0, j], st[j])
    res.tables.append((f"Ishigami (a = 7, b = 0.1), Saltelli estimator, n = {r.n}", ti))
    err = float(max(np.abs(r.first_order[0] - s1).max(), np.abs(r.total_order[0] - st).max()))
    res.check(Check.at_most("Ishigami: max |S - exact| (first and total)", err,
                            0.02 if quick else 0.01))
    inputs3 = {**inputs, "correlation_length": stats.uniform(0.03, 0.05)}
    cell3 = RandomConductivityCell(resol, (1.0, 1.0))
    s3 = TensorSurrogate.fit(cell3, inputs3, nd + 8, seed=0, components="isotropic")
    r3 = sobol_indices(lambda Z: s3.predict(Z)[0][:, 0, 0], inputs3,
                       n=2**10 if quick else 2**13, seed=0, confidence=0.95,
                       n_resamples=49 if quick else 199)
    th = Table(["input", "S1", "S1 95 % CI", "ST", "ST 95 % CI"])
    for j, name in enumerate(r3.names):
        th.add(name, r3.first_order[0, j],
               f"[{r3.first_order_ci[0, 0, j]:.3f}, {r3.first_order_ci[1, 0, j]:.3f}]",
               r3.total_order[0, j],
               f"[{r3.total_order_ci[0, 0, j]:.3f}, {r3.total_order_ci[1, 0, j]:.3f}]")
    res.tables.append((f"Sobol indices of the homogenized conductivity tr K / 2 (GP of "
                       f"{nd + 8} random {resol}^2 cells); volume fraction U(0.1, 0.35), "
                       f"k_incl logU(2, 10), correlation length U(0.03, 0.08)", th))
    res.check(Check.at_most("homogenized K: sum of first-order indices",
                            float(r3.first_order.sum()), 1.02))


def _multifidelity(res: StudyResult, quick: bool) -> None:
    xc, xf, xt = np.linspace(0, 1, 11), np.array([0.0, 0.4, 0.6, 1.0]), np.linspace(0, 1, 401)
    m = TwoLevelGP().fit(xc, forrester_low(xc), xf, forrester_high(xf))
    mean, _ = m.predict(xt)
    ex = forrester_high(xt)
    e2 = float(np.abs(mean[:, 0] - ex).max() / np.ptp(ex))
    g = GaussianProcess().fit(xf[:, None], forrester_high(xf)[:, None])
    e1 = float(np.abs(g.predict(xt[:, None]).mean[:, 0] - ex).max() / np.ptp(ex))
    tf = Table(["model", "rho", "max error / range of f_high"])
    tf.add("two-level (11 coarse + 4 fine)", float(m.rho[0]), e2)
    tf.add("single-level GP (4 fine)", np.nan, e1)
    res.tables.append(("Forrester pair: f_high = 2 f_low - 20 x", tf))
    res.check(Check.near("Forrester: fitted rho", float(m.rho[0]), FORRESTER_RHO, 0.1))
    res.check(Check.at_most("Forrester: two-level max error / range", e2, 0.05))

    fine_res = 32 if quick else 64
    inputs = {"volume_fraction": stats.uniform(0.15, 0.3),
              "inclusion_conductivity": stats.loguniform(2.0, 20.0)}
    names = list(inputs)
    fine = RandomConductivityCell(fine_res, field_resolution=fine_res, microstructure_seed=3)
    coarse_res = 8 if quick else 16
    # composite voxels: each coarse voxel gets the HS lower bound of its block's fraction
    coarse = RandomConductivityCell(coarse_res, field_resolution=fine_res,
                                    microstructure_seed=3, coarsening="mixed", method="sparse")

    def diag(Y):
        return Y.reshape(len(Y), -1)[:, [0, 3]]

    nc = 64 if quick else 128
    Xc = sample_inputs(inputs, nc, "sobol", seed=0)
    Yc = diag(evaluate_model(coarse, names, Xc))
    Xt = sample_inputs(inputs, 20 if quick else 40, "mc", seed=1)
    Yt = diag(evaluate_model(fine, names, Xt))
    nfs = [4, 8] if quick else [4, 8, 16]
    Yf_all = diag(evaluate_model(fine, names, Xc[:max(nfs)]))

    def rel(Y):
        return float(np.linalg.norm(Y - Yt) / np.linalg.norm(Yt))

    ec = rel(GaussianProcess().fit(Xc, Yc).predict(Xt).mean)
    tm = Table(["fine solves", "two-level error", "single-level error", "coarse-only error",
                "rho (K_xx, K_yy)"])
    errs = []
    for nf in nfs:
        two = TwoLevelGP().fit(Xc, Yc, Xc[:nf], Yf_all[:nf])
        e_two = rel(two.predict(Xt)[0])
        e_one = rel(GaussianProcess().fit(Xc[:nf], Yf_all[:nf]).predict(Xt).mean)
        errs.append((e_two, e_one))
        tm.add(nf, e_two, e_one, ec, ", ".join(f"{r:.3f}" for r in two.rho))
    res.tables.append((f"Voxel cells of one random field: {nc} coarse {coarse_res}^2 solves "
                       f"(composite voxels) + few fine "
                       f"{fine_res}^2 solves (nested design), relative RMS error of (K_xx, "
                       f"K_yy) at {len(Xt)} held-out fine points", tm))
    res.check(Check.at_most(f"voxel cells, {nfs[0]} fine solves: two-level / single-level "
                            "error", errs[0][0] / errs[0][1], 0.5))
    res.check(Check.at_most(f"voxel cells, {nfs[0]} fine solves: two-level / coarse-only "
                            "error", errs[0][0] / ec, 1.0))


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: small cells and few samples (seconds)."""
    res = StudyResult(
        "uq", TITLE,
        "Monte Carlo and randomized quasi-Monte Carlo over random two-phase voxel cells "
        "(fe2.uq): realizations and their mean within the Hashin–Shtrikman bounds, error of "
        "the mean falling like N^(-1/2) (batch means, fitted slope) and faster for scrambled "
        "Sobol points on a smooth map; a GP surrogate of the homogenized conductivity versus "
        "microstructure parameters checked against held-out direct solves and pushed through "
        "a layered-bar heat flux (against a direct Monte Carlo); Sobol indices (SciPy's "
        "Saltelli estimator) against the Ishigami closed form and for the homogenized "
        "conductivity; a two-level Kennedy–O'Hagan model against the Forrester pair and on "
        "coarse/fine voxel cells against a single-level GP.",
    )
    _mc_cells(res, quick)
    _rates(res, quick)
    _propagation(res, quick)
    _multifidelity(res, quick)
    return res
