"""Coarse time steppers (fe2.timescales) against resolved simulation.

1. Seamless HMM vs direct simulation of x' = 1 + y, y' = -z/eps, z' = y/eps (RK4 with 32
   steps per fast period, T = 1): the direct cost grows like 1/eps, the seamless cost
   (eps' = 0.0125) does not; error against the averaged solution X = t.
2. Projective integration on Michaelis–Menten (eps = 0.05, T = 5): projective Euler / AB2
   with steps from the spectral gap vs resolved forward Euler with the same inner step and
   SciPy's RK45 / Radau; error against Radau at rtol 1e-12.
3. Patch dynamics vs a resolved finite-volume run on the whole domain (implicit Euler,
   sparse LU) for u_t = (a(x/eps) u_x)_x, a = 1/(2 + sin 2 pi y); error against the
   homogenized closed form. The resolved run uses the micro step of the patches and a
   macro-accurate step Dt / 10 (an implicit resolved solver need not resolve eps^2).

Every number is measured in this run (wall-clock seconds). Usage:

    python bench/timescales.py [--eps 1e-3 1e-4 1e-5] [--patch-eps 0.005]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from scipy.sparse.linalg import splu

from fe2.timescales import (
    CoarseStepper,
    ODEModel,
    choose_steps,
    estimate_spectrum,
    patch_dynamics,
    projective_ab2,
    projective_euler,
    seamless,
)


def rotation(eps_list):
    print("\n## Seamless HMM vs direct simulation (rotation example, T = 1)\n")
    print("| eps | method | micro steps | seconds | max error vs X = t |")
    print("|---|---|---|---|---|")
    for eps in eps_list:
        dt = eps * 2 * np.pi / 32
        m = ODEModel(lambda s, y, X, eps=eps: np.array([-y[1], y[0]]) / eps, method="rk4")
        n = int(np.ceil(1.0 / dt))
        t0 = time.perf_counter()
        u, x, err = np.array([1.0, 0.0]), 0.0, 0.0
        for j in range(n):  # x' = 1 + y by RK4 on the full system
            w = np.array([x, *u])

            def f(t, w, eps=eps):
                return np.array([1 + w[1], -w[2] / eps, w[1] / eps])

            k1 = f(0, w)
            k2 = f(0, w + dt / 2 * k1)
            k3 = f(0, w + dt / 2 * k2)
            k4 = f(0, w + dt * k3)
            w = w + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            x, u = w[0], w[1:]
            err = max(err, abs(x - (j + 1) * dt))
        sec = time.perf_counter() - t0
        print(f"| {eps:g} | direct RK4 | {n} | {sec:.3f} | {err:.2e} |")
        t0 = time.perf_counter()
        ep, M = 0.0125, 8
        tr = seamless(lambda t, X, y: 1 + y[0:1], m, [0.0], [1.0, 0.0], (0, 1),
                      ep * dt / eps * M, M, dt)
        sec = time.perf_counter() - t0
        print(f"| {eps:g} | seamless eps'={ep} | {tr.micro_steps} | {sec:.3f} | "
              f"{np.abs(tr.U[:, 0] - tr.t).max():.2e} |")


def _mm(t, y, eps=0.05):
    s, c = y
    return np.array([-s + (s + 0.5) * c, (s - (s + 1.0) * c) / eps])


def michaelis_menten():
    print("\n## Projective integration, Michaelis–Menten eps = 0.05, T = 5\n")
    T = 5.0
    ref = solve_ivp(_mm, (0, T), [1.0, 0.0], method="Radau", rtol=1e-12, atol=1e-13).y[:, -1]
    print("| method | rhs evaluations | seconds | max error |")
    print("|---|---|---|---|")
    probe = CoarseStepper(_mm, dt=1e-3)
    lam = np.r_[estimate_spectrum(probe, [1.0, 0.0]), estimate_spectrum(probe, [0.0, 0.0])]
    for name, fun, meth in (("projective Euler", projective_euler, "euler"),
                            ("projective AB2", projective_ab2, "euler"),
                            ("projective AB2 (Heun)", projective_ab2, "heun")):
        c = choose_steps(lam, accuracy=0.4, method=meth)
        cs = CoarseStepper(_mm, dt=c.h, method=meth)
        t0 = time.perf_counter()
        tr = fun(cs, [1.0, 0.0], (0, T), c.k, c.M)
        sec = time.perf_counter() - t0
        print(f"| {name} (h={c.h:.3g}, k={c.k}, M={c.M}) | {cs.model.evaluations} | "
              f"{sec:.4f} | {np.abs(tr.U[-1] - ref).max():.2e} |")
        if meth == "euler" and fun is projective_euler:
            full = CoarseStepper(_mm, dt=c.h)
            n = int(np.ceil(T / c.h))
            t0 = time.perf_counter()
            u = full.evolve(np.array([1.0, 0.0]), 0.0, n, T / n)
            sec = time.perf_counter() - t0
            print(f"| resolved forward Euler, h={T / n:.3g} | {full.model.evaluations} | "
                  f"{sec:.4f} | {np.abs(u - ref).max():.2e} |")
    for meth, rtol in (("RK45", 1e-6), ("Radau", 1e-6)):
        t0 = time.perf_counter()
        r = solve_ivp(_mm, (0, T), [1.0, 0.0], method=meth, rtol=rtol, atol=1e-9)
        sec = time.perf_counter() - t0
        print(f"| SciPy {meth} rtol {rtol:g} | {r.nfev} | {sec:.4f} | "
              f"{np.abs(r.y[:, -1] - ref).max():.2e} |")


def patches(eps):
    print(f"\n## Patch dynamics vs resolved run, eps = {eps}, N = 10, T = 0.05\n")
    N, T, Dt = 10, 0.05, 0.0025
    x = (np.arange(N) + 0.5) / N
    U0 = np.sin(2 * np.pi * x)
    exact = np.exp(-4 * np.pi ** 2 * 0.5 * T) * U0

    def a(z):
        return 1.0 / (2.0 + np.sin(2 * np.pi * z / eps))

    print("| method | cells | steps | cell-steps | seconds | max error vs homogenized |")
    print("|---|---|---|---|---|---|")
    t0 = time.perf_counter()
    tr = patch_dynamics(a, U0, T, Dt, 0.02, 0.03, eps / 32, eps ** 2 / 20, 20, 20)
    sec = time.perf_counter() - t0
    cells = N * tr.info["cells_per_patch"]
    print(f"| patch dynamics (h=0.02, buffer 0.03) | {cells} | {tr.micro_steps // N} | "
          f"{tr.info['micro_cell_steps']} | {sec:.3f} | "
          f"{np.abs(tr.U[-1] - exact).max():.2e} |")
    n = int(round(32 / eps))
    dx = 1.0 / n
    xf = (np.arange(n) + 0.5) * dx
    af = a(np.arange(n) * dx)  # faces j - 1/2 (periodic)
    for dt in (eps ** 2 / 20, Dt / 10):
        w = af / dx ** 2
        wp = np.roll(w, -1)
        main = 1 + dt * (w + wp)
        A = sp.diags([main, -dt * wp[:-1], -dt * wp[:-1]], [0, 1, -1], format="lil")
        A[0, n - 1] = -dt * w[0]
        A[n - 1, 0] = -dt * w[0]
        lu = splu(A.tocsc())
        steps = int(round(T / dt))
        if steps > 20000:
            print(f"| resolved, dt = {dt:.2g} | {n} | {steps} | {n * steps} | (not run: "
                  f"{steps} steps) | |")
            continue
        u = np.sin(2 * np.pi * xf)
        t0 = time.perf_counter()
        for _ in range(steps):
            u = lu.solve(u)
        sec = time.perf_counter() - t0
        patch_avg = np.array([u[np.abs(xf - xi) < 0.01].mean() for xi in x])
        print(f"| resolved, dt = {dt:.2g} | {n} | {steps} | {n * steps} | {sec:.3f} | "
              f"{np.abs(patch_avg - exact).max():.2e} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eps", type=float, nargs="+", default=[1e-3, 1e-4, 1e-5])
    ap.add_argument("--patch-eps", type=float, default=0.005)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}")
    rotation(args.eps)
    michaelis_menten()
    patches(args.patch_eps)


if __name__ == "__main__":
    main()
