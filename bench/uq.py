"""Uncertainty quantification: what a surrogate and a coarse level save, measured in one run.

Parts, all measured in this run on random two-phase voxel cells (:mod:`fe2.uq`):

1. Monte Carlo over ``--cells`` random ``--res``^2 cells (volume fraction U(0.2, 0.4),
   conductivities 1 / 10): wall time serial and on a process pool of ``--workers``
   (same samples, checked), speed-up.
2. Heat flux through a two-layer bar (thickness 0.6 / 0.4) whose layers have random volume
   fraction U(0.1, 0.35) and inclusion conductivity logU(2, 10): a direct Monte Carlo of
   ``--direct`` bars (two cell solves each) against a GP surrogate of ``tr K / 2`` fitted on
   ``--design`` cell solves and pushed through 2^16 scrambled Sobol samples; cell solves,
   wall time, mean flux, and the difference in direct standard errors.
3. Multi-fidelity: ``--fine-res``^2 cells against ``--coarse-res``^2 cells of the same
   random field (composite voxels: HS lower bound of each block's phase fraction)
   (volume fraction U(0.15, 0.45), inclusion conductivity logU(2, 20)): error at 40 held-out
   fine points of the two-level model (128 coarse + n fine solves) and of a single-level GP
   on n fine solves; time of one coarse and one fine solve.

Usage::

    python bench/uq.py [--res 32] [--cells 128] [--workers 2] [--direct 256] [--design 64]
                       [--fine-res 128] [--coarse-res 16]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from _common import note
from scipy import stats

from fe2.parallel import make_executor
from fe2.surrogate import GaussianProcess
from fe2.uq import (
    RandomConductivityCell,
    TensorSurrogate,
    TwoLevelGP,
    evaluate_model,
    layered_bar_flux,
    monte_carlo,
    sample_inputs,
)


class Bar:
    """Flux through a bar of two random layers; each layer's K from one random cell."""

    def __init__(self, cell):
        self.cell = cell

    def __call__(self, p, seed):
        ss = np.random.SeedSequence(seed).generate_state(2)
        ks = [np.trace(self.cell({"volume_fraction": p[f"volume_fraction {i}"],
                                  "inclusion_conductivity": p[f"inclusion_conductivity {i}"]},
                                 int(s))) / 2 for i, s in zip((1, 2), ss, strict=True)]
        return layered_bar_flux(np.array(ks)[:, None], [0.6, 0.4])


def part1(a) -> None:
    cell = RandomConductivityCell(a.res, (1.0, 10.0))
    inputs = {"volume_fraction": stats.uniform(0.2, 0.2)}
    monte_carlo(cell, inputs, 2, seed=1)  # first-call costs out of the timing
    t0 = time.perf_counter()
    ser = monte_carlo(cell, inputs, a.cells, seed=0)
    ts = time.perf_counter() - t0
    with make_executor("process", a.workers) as ex:
        monte_carlo(cell, inputs, 2, seed=1, executor=ex)  # start the workers
        t0 = time.perf_counter()
        par = monte_carlo(cell, inputs, a.cells, seed=0, executor=ex)
        tp = time.perf_counter() - t0
    same = bool(np.array_equal(ser.samples, par.samples))
    print(f"\n1. Monte Carlo over {a.cells} random {a.res}^2 cells")
    print("| run | seconds | mean K_xx | 95 % CI of K_xx | samples equal |")
    print("|---|---|---|---|---|")
    lo, hi = ser.interval()
    print(f"| serial | {ts:.2f} | {ser.mean[0, 0]:.4f} | [{lo[0, 0]:.4f}, {hi[0, 0]:.4f}] | |")
    print(f"| process pool x{a.workers} | {tp:.2f} | {par.mean[0, 0]:.4f} | | {same} |")
    print(f"speed-up {ts / tp:.2f}x")


def part2(a) -> None:
    cell = RandomConductivityCell(a.res, (1.0, 1.0), fixed={"correlation_length": 0.06})
    inputs = {"volume_fraction": stats.uniform(0.1, 0.25),
              "inclusion_conductivity": stats.loguniform(2.0, 10.0)}
    both = {**{f"{k} 1": d for k, d in inputs.items()},
            **{f"{k} 2": d for k, d in inputs.items()}}
    t0 = time.perf_counter()
    direct = monte_carlo(Bar(cell), both, a.direct, seed=3)
    td = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = TensorSurrogate.fit(cell, inputs, a.design, seed=0, components="isotropic")
    X = sample_inputs(both, 2**16, "sobol", seed=2)
    k = np.stack([s.predict(X[:, :2])[0][:, 0, 0], s.predict(X[:, 2:])[0][:, 0, 0]])
    q = layered_bar_flux(k, [0.6, 0.4])
    tsur = time.perf_counter() - t0
    m, se = float(direct.mean[0]), float(direct.std_error[0])
    print("\n2. Heat flux through a two-layer bar with random layers")
    print("| method | cell solves | seconds | mean flux | standard error | std of flux |")
    print("|---|---|---|---|---|---|")
    print(f"| direct MC | {2 * a.direct} | {td:.2f} | {m:.4f} | {se:.2g} | "
          f"{float(direct.std[0]):.4f} |")
    print(f"| GP surrogate + 2^16 Sobol samples | {a.design} | {tsur:.2f} | {q.mean():.4f} | "
          f"| {q.std(ddof=1):.4f} |")
    print(f"difference {abs(q.mean() - m) / se:.2f} direct standard errors; cell solves "
          f"{2 * a.direct / a.design:.1f}x fewer, time {td / tsur:.2f}x less")


def part3(a) -> None:
    inputs = {"volume_fraction": stats.uniform(0.15, 0.3),
              "inclusion_conductivity": stats.loguniform(2.0, 20.0)}
    names = list(inputs)
    fine = RandomConductivityCell(a.fine_res, field_resolution=a.fine_res,
                                  microstructure_seed=3)
    # many conductivity levels: a sparse direct solve beats FFT-CG on a small cell
    coarse = RandomConductivityCell(a.coarse_res, field_resolution=a.fine_res,
                                    microstructure_seed=3, coarsening="mixed", method="sparse")

    def diag(Y):
        return Y.reshape(len(Y), -1)[:, [0, 3]]

    Xc = sample_inputs(inputs, 128, "sobol", seed=0)
    t0 = time.perf_counter()
    Yc = diag(evaluate_model(coarse, names, Xc))
    tc = (time.perf_counter() - t0) / len(Xc)
    Xt = sample_inputs(inputs, 40, "mc", seed=1)
    t0 = time.perf_counter()
    Yt = diag(evaluate_model(fine, names, Xt))
    tf = (time.perf_counter() - t0) / len(Xt)
    Yf = diag(evaluate_model(fine, names, Xc[:32]))

    def rel(Y):
        return float(np.linalg.norm(Y - Yt) / np.linalg.norm(Yt))

    print(f"\n3. Multi-fidelity: {a.coarse_res}^2 coarse (composite voxels) / {a.fine_res}^2 "
          f"fine cells of one random field; "
          f"one coarse solve {1e3 * tc:.1f} ms, one fine solve {1e3 * tf:.1f} ms "
          f"({tf / tc:.1f}x)")
    print("| fine solves | two-level error (+128 coarse) | single-level error | ratio |")
    print("|---|---|---|---|")
    for nf in (4, 8, 16, 32):
        e2 = rel(TwoLevelGP().fit(Xc, Yc, Xc[:nf], Yf[:nf]).predict(Xt)[0])
        e1 = rel(GaussianProcess().fit(Xc[:nf], Yf[:nf]).predict(Xt).mean)
        print(f"| {nf} | {e2:.4f} | {e1:.4f} | {e1 / e2:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--res", type=int, default=32)
    p.add_argument("--cells", type=int, default=128)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--direct", type=int, default=256)
    p.add_argument("--design", type=int, default=64)
    p.add_argument("--fine-res", type=int, default=128)
    p.add_argument("--coarse-res", type=int, default=16)
    a = p.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    for k, f in enumerate((part1, part2, part3), 1):
        note(f"bench/uq.py: part {k}")
        f(a)


if __name__ == "__main__":
    main()
