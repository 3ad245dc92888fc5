"""PFHub benchmark 1a (periodic spinodal decomposition): fe2.phasefield against FiPy.

The same model (psi = 5 (c - 0.3)^2 (0.7 - c)^2, kappa = 2, M = 5, 200 x 200 periodic box,
the published initial condition) on the same 100 x 100 grid (h = 2) to a fixed time:

* fe2 Fourier (``SpectralCahnHilliard``, stabilised semi-implicit, adaptive step) at three
  error tolerances;
* fe2 finite elements (``CahnHilliard``, Q1, periodic, convex splitting + Newton, adaptive);
* FiPy 4 (finite volumes, ``PeriodicGrid2D``, the coupled (c, mu) form of the PFHub FiPy
  notebook, linearised implicit step, one solve per step, FiPy's SciPy solvers) at three
  fixed steps.

Accuracy: |F(t_end) - F_ref| / F_ref against fe2 Fourier on a 200 x 200 grid with
error_tol = 3e-5 (converged to the digits shown). Every number is measured in this run
(wall-clock seconds, one process; set OPENBLAS_NUM_THREADS=1 on a shared machine).

    OPENBLAS_NUM_THREADS=1 python bench/phasefield.py [--t-end 50] [--quick]
    OPENBLAS_NUM_THREADS=1 python bench/phasefield.py --long [--n 100]

``--long``: PFHub 1a from t = 0 to 1e6 (the issue's "hundreds of steps, not millions"):
steps, seconds and F at t = 100 ... 1e6 of fe2 Fourier: the second-order SAV scheme
(``scheme="sav"``) with the RMS / max step control, the stabilised scheme at its
default error_tol and the implicit scheme with the RMS step control, against an implicit
run with small steps (max norm, error_tol 1e-3) and a fixed-step SAV run (dt = 0.05)
to t = 1000; for SAV also the largest
rise of the true F in one step and the largest gap between F and the SAV energy E~.

``--long-fe``: the same for the finite elements on a 50 x 50 Q1 periodic mesh
(``CahnHilliard``): the SAV scheme with the RMS control against backward Euler
(``scheme="implicit"``) with the RMS control and convex splitting, and a fixed-step SAV
run (dt = 0.05) to t = 1000 as the reference; plus the number of block factorisations.

FiPy is a bench-only dependency (``pip install fipy``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import skfem

from fe2.phasefield import CahnHilliard, SpectralCahnHilliard
from fe2.phasefield.benchmarks import PFHUB1, pfhub1_initial


def fe2_spectral(n: int, t_end: float, error_tol: float):
    ch = SpectralCahnHilliard((n, n), PFHUB1["size"], PFHUB1["kappa"], PFHUB1["mobility"])
    t0 = time.perf_counter()
    r = ch.solve(pfhub1_initial, t_end, error_tol=error_tol)
    return r.steps, time.perf_counter() - t0, r.energy[-1]


def fe2_fem(n: int, t_end: float, error_tol: float):
    g = np.linspace(0, PFHUB1["size"], n + 1)
    ch = CahnHilliard(skfem.MeshQuad.init_tensor(g, g), PFHUB1["kappa"], PFHUB1["mobility"],
                      bc="periodic")
    t0 = time.perf_counter()
    r = ch.solve(pfhub1_initial, t_end, error_tol=error_tol)
    return r.steps, time.perf_counter() - t0, r.energy[-1]


def fipy_run(n: int, t_end: float, dt: float):
    # FiPy picks PETSc when petsc4py is importable; its serial SciPy suite is the baseline
    os.environ.setdefault("FIPY_SOLVERS", "scipy")
    import fipy as fp

    h = PFHUB1["size"] / n
    mesh = fp.PeriodicGrid2D(nx=n, ny=n, dx=h, dy=h)
    c = fp.CellVariable(mesh=mesh, hasOld=True)
    mu = fp.CellVariable(mesh=mesh, hasOld=True)
    x, y = mesh.cellCenters
    c.value = pfhub1_initial(np.array([np.asarray(x), np.asarray(y)]))
    rho, ca, cb = PFHUB1["rho"], PFHUB1["ca"], PFHUB1["cb"]
    kappa, M = PFHUB1["kappa"], PFHUB1["mobility"]
    f = rho * (c - ca) ** 2 * (cb - c) ** 2
    dfdc = 2 * rho * (c - ca) * (cb - c) * (ca + cb - 2 * c)
    d2fdc2 = rho * (12 * (c - 0.5 * (ca + cb)) ** 2 - (cb - ca) ** 2)
    eq1 = fp.TransientTerm(var=c) == fp.DiffusionTerm(coeff=M, var=mu)
    eq2 = (fp.ImplicitSourceTerm(coeff=1.0, var=mu)
           == fp.ImplicitSourceTerm(coeff=d2fdc2, var=c) - d2fdc2 * c + dfdc
           - fp.DiffusionTerm(coeff=kappa, var=c))
    eq = eq1 & eq2
    t, steps = 0.0, 0
    t0 = time.perf_counter()
    while t < t_end * (1 - 1e-12):
        step = min(dt, t_end - t)
        c.updateOld()
        mu.updateOld()
        eq.solve(dt=step)
        t += step
        steps += 1
    sec = time.perf_counter() - t0
    vol = np.asarray(mesh.cellVolumes)
    grad = np.asarray(c.grad)
    F = float(np.sum((np.asarray(f) + 0.5 * kappa * (grad ** 2).sum(0)) * vol))
    return steps, sec, F


def long_runs(n: int) -> None:
    times = (100.0, 200.0, 500.0, 1000.0, 1e4, 1e5, 1e6)

    def run(t_end, **kw):
        ch = SpectralCahnHilliard((n, n), PFHUB1["size"], PFHUB1["kappa"], PFHUB1["mobility"],
                                  scheme=kw.pop("scheme", "stabilized"))
        t0 = time.perf_counter()
        r = ch.solve(pfhub1_initial, t_end, **kw)
        return r, time.perf_counter() - t0

    ref, sref = run(1000.0, scheme="implicit", error_tol=1e-3)
    print(f"\n## PFHub 1a, {n} x {n}, t = 0 .. 1e6; reference: implicit, max norm, "
          f"error_tol 1e-3, {ref.steps} steps to t = 1000 ({sref:.1f} s)\n")
    print("| scheme | control | steps | rejected | seconds | "
          + " | ".join(f"F({t:g})" for t in times)
          + " | largest rise of F | max abs(F - E~) |")
    print("|---|---|---|---|---|" + "---|" * (len(times) + 2))
    print("| implicit (reference) | max, 1e-3 | | | | "
          + " | ".join(f"{np.interp(t, ref.times, ref.energy):.2f}" if t <= 1000 else ""
                       for t in times) + " | | |")
    fix, sfix = run(1000.0, scheme="sav", dt=0.05, adaptive=False)
    print(f"| sav (second-order reference, {sfix:.1f} s) | fixed dt 0.05 | {fix.steps} | | | "
          + " | ".join(f"{np.interp(t, fix.times, fix.energy):.2f}" if t <= 1000 else ""
                       for t in times) + " | | |", flush=True)
    for name, kw in (("sav", {"scheme": "sav", "norm": "rms", "error_tol": 1e-2}),
                     ("sav", {"scheme": "sav", "norm": "rms", "error_tol": 3e-3}),
                     ("sav", {"scheme": "sav", "norm": "rms", "error_tol": 1e-3}),
                     ("sav", {"scheme": "sav", "norm": "max", "error_tol": 1e-2}),
                     ("stabilised", {}),
                     ("implicit", {"scheme": "implicit", "norm": "rms", "error_tol": 1e-2}),
                     ("implicit", {"scheme": "implicit", "norm": "rms", "error_tol": 3e-3})):
        r, sec = run(1e6, **dict(kw))
        ctl = f"{kw.get('norm', 'max')}, {kw.get('error_tol', 1e-3):g}"
        rise = float(np.diff(r.energy).max())
        gap = ("" if r.modified_energy is None
               else f"{np.abs(r.energy - r.modified_energy).max():.3g}")
        print(f"| {name} | {ctl} | {r.steps} | {r.rejected} | {sec:.1f} | "
              + " | ".join(f"{np.interp(t, r.times, r.energy):.2f}" for t in times)
              + f" | {max(rise, 0.0):.2g} | {gap} |", flush=True)


def fe_long_runs(n: int) -> None:
    times = (100.0, 200.0, 500.0, 1000.0, 1e4, 1e5, 1e6)
    g = np.linspace(0, PFHUB1["size"], n + 1)
    mesh = skfem.MeshQuad.init_tensor(g, g)
    print(f"\n## PFHub 1a, FE Q1 {n} x {n} periodic, t = 0 .. 1e6\n")
    print("| scheme | control | steps | rejected | factorisations | seconds | "
          + " | ".join(f"F({t:g})" for t in times) + " | largest rise of F |")
    print("|---|---|---|---|---|---|" + "---|" * (len(times) + 1))
    for name, t_end, kw in (
            ("sav (reference)", 1000.0, {"scheme": "sav", "dt": 0.05, "adaptive": False}),
            ("sav", 1e6, {"scheme": "sav", "norm": "rms", "error_tol": 3e-3}),
            ("sav", 1e6, {"scheme": "sav", "norm": "rms", "error_tol": 1e-2}),
            ("implicit", 1e6, {"scheme": "implicit", "norm": "rms", "error_tol": 1e-2}),
            ("convex", 1e4, {"scheme": "convex", "norm": "rms", "error_tol": 1e-2})):
        kw = dict(kw)
        ch = CahnHilliard(mesh, PFHUB1["kappa"], PFHUB1["mobility"], bc="periodic",
                          scheme=kw.pop("scheme"))
        t0 = time.perf_counter()
        r = ch.solve(pfhub1_initial, t_end, **kw)
        sec = time.perf_counter() - t0
        ctl = ("fixed dt 0.05" if "dt" in kw else f"{kw['norm']}, {kw['error_tol']:g}")
        print(f"| {name} | {ctl} | {r.steps} | {r.rejected} | "
              f"{getattr(ch, 'sav_factorizations', 0) or ''} | {sec:.1f} | "
              + " | ".join(f"{np.interp(t, r.times, r.energy):.2f}" if t <= t_end else ""
                           for t in times)
              + f" | {max(float(np.diff(r.energy).max()), 0.0):.2g} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-end", type=float, default=50.0)
    ap.add_argument("--quick", action="store_true", help="one setting per solver")
    ap.add_argument("--long", action="store_true", help="PFHub 1a to t = 1e6: steps")
    ap.add_argument("--long-fe", action="store_true", help="the same, finite elements")
    ap.add_argument("--n", type=int, default=100, help="grid of --long")
    a = ap.parse_args()
    if a.long_fe:
        fe_long_runs(50)
        return
    if a.long:
        long_runs(a.n)
        return
    T = a.t_end
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}")
    _, sref, Fref = fe2_spectral(200, T, 3e-5)
    print(f"\n## PFHub 1a to t = {T:g}, 100 x 100 grid; reference F = {Fref:.6f} "
          f"(fe2 Fourier 200^2, error_tol 3e-5, {sref:.1f} s)\n")
    print("| solver | setting | steps | seconds | F(t_end) | relative error |")
    print("|---|---|---|---|---|---|")
    def row(name, setting, s, sec, F):
        print(f"| {name} | {setting} | {s} | {sec:.2f} | {F:.4f} | {abs(F - Fref) / Fref:.2e} |",
              flush=True)

    for tol in ((1e-3,) if a.quick else (1e-3, 3e-4, 1e-4)):
        row("fe2 Fourier", f"error_tol {tol:g}", *fe2_spectral(100, T, tol))
    for tol in ((1e-3,) if a.quick else (1e-3, 3e-4)):
        row("fe2 FE Q1", f"error_tol {tol:g}", *fe2_fem(100, T, tol))
    for dt in ((0.5,) if a.quick else (1.0, 0.5, 0.25)):
        row("FiPy", f"dt {dt:g}", *fipy_run(100, T, dt))

if __name__ == "__main__":
    main()
