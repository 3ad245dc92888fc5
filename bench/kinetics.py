"""Stochastic kinetics: fe2's direct SSA against GillesPy2, and the nested SSA's speed-up.

Parts, all measured in this run:

1. Events per second of :func:`fe2.kinetics.ssa` (numba direct method) and of GillesPy2's
   direct SSA (``SSACSolver``, compiled C++; ``NumPySSASolver`` when the C++ solver cannot
   be built, said in the output) on the same networks and horizons: isomerisation
   ``A <-> B``, birth–death, the four-species network with fast rates 1e5, heat shock.
   GillesPy2 does not report its event count; it simulates the same Markov process, so its
   events per run are taken as fe2's mean events per run. Compilation is excluded.
2. Four species (fast rates 1e5) to T = 1: direct SSA against the nested SSA (N = 1,
   T_f = 10 relaxation times), both against the exact effective law of ``x1 + x2``.
3. Heat shock (``heat_shock.toml``, its fast flags) to ``--t-end``: direct SSA against the
   nested SSA (N = 1, T_f from ``--inner-times``) with its hybrid outer loop
   (``leap="auto"``: ``Protein -> Unfolded`` tau-leaped) and, for contrast, without it
   (``leap=None``, T_f = ``--inner-time``):
   mean and variance of s32 (with standard errors), wall time per run, and the speed-up
   at equal statistical accuracy, ``(t_direct var_direct) / (t_nested var_nested)`` (time
   to reach the same standard error of the mean), with the differences of the means and
   of the variances in standard errors.

Usage::

    python bench/kinetics.py [--runs 20] [--hs-direct-runs 20] [--hs-nested-runs 1000]
                             [--t-end 10] [--inner-time 3e-5]
                             [--inner-times 3e-6,1e-5,3e-5,1e-4] [--numpy]
                             [--four-direct-runs 20] [--four-nested-runs 2000]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
from _common import note

from fe2.kinetics import Reaction, ReactionNetwork, nested_ssa, ssa


def to_gillespy2(net: ReactionNetwork, x0: np.ndarray, t_end: float):
    """The same network as a GillesPy2 model (mass action, volume 1)."""
    import gillespy2

    model = gillespy2.Model(name="bench")
    species = {s: gillespy2.Species(name=_name(s), initial_value=int(v), mode="discrete")
               for s, v in zip(net.species, x0, strict=True)}
    model.add_species(list(species.values()))
    for i, r in enumerate(net.reactions):
        k = gillespy2.Parameter(name=f"k{i}", expression=repr(r.rate))
        model.add_parameter(k)
        model.add_reaction(gillespy2.Reaction(
            name=f"r{i}", rate=k,
            reactants={species[s]: n for s, n in r.reactants.items()},
            products={species[s]: n for s, n in r.products.items()}))
    model.timespan(np.linspace(0.0, t_end, 3))
    return model


def _name(s: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in s)


def gillespy2_seconds(model, runs: int, numpy_only: bool):
    """(solver name, seconds for ``runs`` trajectories, mean final state)."""
    import gillespy2

    # GillesPy2 builds its C++ solver with ``python -m SCons`` run by the base interpreter,
    # which does not see a virtualenv's packages (SCons comes with gillespy2)
    site = os.path.dirname(os.path.dirname(gillespy2.__file__))
    if site not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (site, os.environ.get("PYTHONPATH")) if p)
    solver = None
    name = "NumPySSASolver"
    if not numpy_only:
        try:
            solver = gillespy2.SSACSolver(model=model)
            name = "SSACSolver (C++)"
        except Exception as err:  # noqa: BLE001 - report and fall back
            note(f"GillesPy2 SSACSolver unavailable ({type(err).__name__}: {err}); "
                 "using NumPySSASolver")
    if solver is None:
        solver = gillespy2.NumPySSASolver(model=model)
    model.run(solver=solver, number_of_trajectories=1, seed=1)  # warm-up
    t0 = time.perf_counter()
    res = model.run(solver=solver, number_of_trajectories=runs, seed=2)
    sec = time.perf_counter() - t0
    return name, sec, res


def networks():
    iso = ReactionNetwork(["A", "B"], [Reaction(1.0, {"A": 1}, {"B": 1}),
                                       Reaction(1.0, {"B": 1}, {"A": 1})])
    bd = ReactionNetwork(["A"], [Reaction(1000.0, {}, {"A": 1}), Reaction(1.0, {"A": 1}, {})])
    f = 1e5
    four = ReactionNetwork(["S1", "S2", "S3", "S4"],
                           [Reaction(f, {"S1": 1}, {"S2": 1}), Reaction(f, {"S2": 1}, {"S1": 1}),
                            Reaction(1.0, {"S2": 1}, {"S3": 1}),
                            Reaction(1.0, {"S3": 1}, {"S2": 1}),
                            Reaction(f, {"S3": 1}, {"S4": 1}), Reaction(f, {"S4": 1}, {"S3": 1})])
    hs = ReactionNetwork.model("heat_shock")
    return [("isomerisation A<->B, 1000 molecules", iso, {"A": 1000}, 50.0),
            ("birth-death 0<->A, k = 1000, g = 1", bd, {"A": 1000}, 100.0),
            ("four species, fast rates 1e5, 40 molecules", four, {"S1": 30, "S3": 10}, 0.1),
            ("heat shock (17 reactions)", hs, None, 0.05)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--hs-direct-runs", type=int, default=20)
    ap.add_argument("--hs-nested-runs", type=int, default=1000)
    ap.add_argument("--t-end", type=float, default=10.0)
    ap.add_argument("--four-direct-runs", type=int, default=20)
    ap.add_argument("--four-nested-runs", type=int, default=2000)
    ap.add_argument("--inner-time", type=float, default=3e-5,
                    help="T_f of the leap = None contrast run")
    ap.add_argument("--inner-times", type=lambda v: [float(x) for x in v.split(",")],
                    default=[3e-6, 1e-5, 3e-5, 1e-4],
                    help="comma-separated T_f of the hybrid nested SSA runs")
    ap.add_argument("--numpy", action="store_true", help="GillesPy2's NumPySSASolver only")
    args = ap.parse_args()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}, {when}")

    print("\n| network | T | events/run | fe2 ssa [Mev/s] | GillesPy2 [Mev/s] | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, net, x0, T in networks():
        ssa(net, x0, T / 10, 1, seed=0)  # compile
        r = ssa(net, x0, T, args.runs, seed=1)
        ev = r.events.mean()
        fe2_rate = ev * args.runs / r.seconds
        model = to_gillespy2(net, net.x0(x0), T)
        name, sec, res = gillespy2_seconds(model, args.runs, args.numpy)
        g_rate = ev * args.runs / sec
        # the same process: compare a final mean (within a few standard errors)
        s0 = net.species[0]
        g_final = np.array([tr[_name(s0)][-1] for tr in res])
        print(f"| {label} | {T:g} | {ev:,.0f} | {fe2_rate / 1e6:.2f} | {g_rate / 1e6:.3f} "
              f"({name}) | {fe2_rate / g_rate:.1f}x |")
        note(f"  {s0} at T: fe2 {r.mean(s0):.1f} +- {r.stderr(s0):.1f}, GillesPy2 "
             f"{g_final.mean():.1f} +- {g_final.std(ddof=1) / math.sqrt(g_final.size):.1f}")

    # four species: nested vs direct at equal statistical accuracy, both against the exact
    # effective law of y1 = x1 + x2 (a sum of two binomials; verification/kinetics.py)
    four = networks()[2][1]
    m, n, T4 = 30, 40, 1.0
    paa, pba = 0.5 + 0.5 * math.exp(-T4), 0.5 - 0.5 * math.exp(-T4)
    exact = m * paa + (n - m) * pba
    note(f"four species: direct SSA, {args.four_direct_runs} runs to T = {T4:g} ...")
    d4 = ssa(four, {"S1": m, "S3": n - m}, T4, args.four_direct_runs, seed=21)
    n4 = nested_ssa(four.with_fast([True, True, False, False, True, True]),
                    {"S1": m, "S3": n - m}, T4, args.four_nested_runs, seed=22,
                    inner_runs=1, inner_time=1e-4)
    print(f"\nFour species (fast 1e5) to T = {T4:g}, y1 = x1 + x2 (exact mean {exact:.3f}):")
    print("| method | runs | mean y1 - exact | se | var y1 | events/run | s/run |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in (("direct SSA", d4), ("nested SSA (N = 1, T_f = 1e-4)", n4)):
        y1 = (r.column("S1") + r.column("S2")).astype(float)
        ev = r.events.mean() + (0 if r.inner_events is None else r.inner_events.mean())
        print(f"| {label} | {r.runs} | {y1.mean() - exact:+.3f} | "
              f"{y1.std(ddof=1) / math.sqrt(r.runs):.3f} | {y1.var(ddof=1):.2f} | "
              f"{ev:,.0f} | {r.seconds / r.runs:.3g} |")
    vd = np.var(d4.column("S1") + d4.column("S2"), ddof=1)
    vn = np.var(n4.column("S1") + n4.column("S2"), ddof=1)
    t4d, t4n = d4.seconds / d4.runs, n4.seconds / n4.runs
    print(f"\nper-run speed-up {t4d / t4n:.0f}x; at equal statistical accuracy "
          f"(t var ratio) {(t4d * vd) / (t4n * vn):.0f}x")

    hs = ReactionNetwork.model("heat_shock")
    T = args.t_end
    nested_ssa(hs, None, 0.01, 1, seed=0, inner_runs=1, inner_time=args.inner_time)
    note(f"heat shock: direct SSA, {args.hs_direct_runs} runs to T = {T:g} ...")
    d = ssa(hs, None, T, args.hs_direct_runs, seed=11)
    runs = {f"nested SSA, leap = 'auto', T_f = {tf:g}":
            nested_ssa(hs, None, T, args.hs_nested_runs, seed=12, inner_runs=1,
                       inner_time=tf) for tf in args.inner_times}
    runs[f"nested SSA, leap = None (file's fast flags), T_f = {args.inner_time:g}"] = \
        nested_ssa(hs, None, T, max(args.hs_nested_runs // 4, 2), seed=13, inner_runs=1,
                   inner_time=args.inner_time, leap=None)
    td = d.seconds / d.runs
    sd = d.column("s32")
    print(f"\nHeat shock to T = {T:g}, s32 (se of the variance from the sample's fourth "
          "central moment; differences from the direct SSA in combined standard errors):")
    print("| method | runs | mean s32 | se | var s32 | se var | events/run | s/run | "
          "mean diff | var diff | speed-up per run | at equal accuracy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| direct SSA | {d.runs} | {d.mean('s32'):.2f} | {d.stderr('s32'):.2f} | "
          f"{d.var('s32'):.1f} | {_se_var(sd):.1f} | {d.events.mean():,.0f} | {td:.3g} | "
          "| | | |")
    for label, r in runs.items():
        sn = r.column("s32")
        tn = r.seconds / r.runs
        gap = (r.mean("s32") - d.mean("s32")) / math.hypot(d.stderr("s32"), r.stderr("s32"))
        vgap = (r.var("s32") - d.var("s32")) / math.hypot(_se_var(sd), _se_var(sn))
        speed = (td * d.var("s32")) / (tn * r.var("s32"))
        print(f"| {label} | {r.runs} | {r.mean('s32'):.2f} | {r.stderr('s32'):.2f} | "
              f"{r.var('s32'):.1f} | {_se_var(sn):.1f} | "
              f"{r.events.mean():,.0f} outer + {r.inner_events.mean():,.0f} inner + "
              f"{r.leap_events.mean():,.0f} leaped | {tn:.3g} | {gap:+.1f} | {vgap:+.1f} | "
              f"{td / tn:.0f}x | {speed:.0f}x |")


def _se_var(sample) -> float:
    """Standard error of the sample variance: ``sqrt((m4 - s^4) / n)`` from the sample's
    fourth central moment, at least the Gaussian value ``s^2 sqrt(2 / (n - 1))`` (the
    sample ``m4`` of a few runs underestimates it)."""
    x = np.asarray(sample, dtype=float)
    m4 = ((x - x.mean()) ** 4).mean()
    v = x.var(ddof=1)
    return max(math.sqrt(max(m4 - x.var() ** 2, 0.0) / x.size), v * math.sqrt(2 / (x.size - 1)))


if __name__ == "__main__":
    main()
