"""FE-HMM vs direct numerical simulation (DNS) for -div(a(x/eps) grad u) = f in 2D.

Coefficient a(y) = exp(beta sin(2 pi y1) sin(2 pi y2)) (contrast e^{2 beta}). It is
mapped to 1/a by the shift y1 -> y1 + 1/2 and symmetric under y1 <-> y2, so by Keller's
duality the homogenized tensor is exactly A0 = I. The homogenized problem on the unit
square with u = 0 on the boundary and f = 2 pi^2 sin(pi x) sin(pi y) has the solution
u0 = sin(pi x) sin(pi y), the reference for both methods (L2 error).

* DNS: Q2 on a uniform n x n quad mesh with n = res / eps (``res`` elements per period),
  fe2.homogenization.hmm.dns_solve (fe2.macro.Problem with the fine-scale oracle, SciPy direct).
* FE-HMM: fixed macro P2 triangles (``--macro-n``), HMMSampler with periodic coupling,
  delta = eps, micro Q2 with micro_h = eps / ``--micro-res``; its cost does not depend
  on eps. The sampler gets ``cache={}``: the micro problems are linear, so A_H at a
  quadrature point is computed once (the Newton convergence check re-uses it).

Every row is measured in this run; times are wall-clock seconds of the whole solve
(set-up, assembly, oracle calls, linear solves). Usage:

    python bench/hmm.py [--eps 8 16 32 64] [--res 4] [--dns-order 2] [--macro-n 16]
                        [--micro-res 4] [--micro-order 2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import skfem  # noqa: E402
from _common import cases  # noqa: E402

from fe2.homogenization.hmm import HMMSampler, dns_solve  # noqa: E402
from fe2.macro import Problem  # noqa: E402
from fe2.verify import field_errors  # noqa: E402

PI = np.pi


def coefficient(beta):
    def a(x, y):
        return np.exp(beta * np.sin(2 * PI * y[0]) * np.sin(2 * PI * y[1]))

    return a


def u0(x):
    return np.sin(PI * x[0]) * np.sin(PI * x[1])


def g0(x):
    return np.array([PI * np.cos(PI * x[0]) * np.sin(PI * x[1]),
                     PI * np.sin(PI * x[0]) * np.cos(PI * x[1])])


def source(x):
    return 2 * PI**2 * u0(x)


def run_dns(a, eps, res, order):
    t0 = time.perf_counter()
    n = int(round(res / eps))
    prob = dns_solve(a, source, n, eps=eps, order=order, mesh="quad")
    t = time.perf_counter() - t0
    l2, _ = field_errors(prob.basis, prob.u, u0, g0, intorder=4)
    return t, l2, prob.basis.N, prob


def run_hmm(a, eps, macro_n, micro_res, micro_order):
    t0 = time.perf_counter()
    mesh = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, macro_n + 1)] * 2).with_boundaries(
        {"all": lambda x: np.ones(x.shape[1], dtype=bool)})
    hmm = HMMSampler(a, eps=eps, delta=eps, coupling="periodic", micro_h=eps / micro_res,
                     order=micro_order, cache={})
    prob = Problem(mesh, hmm, kind="scalar", order=2)
    prob.dirichlet("all", 0.0)
    prob.body_load(lambda x, t: t * source(x))
    prob.solve()
    t = time.perf_counter() - t0
    l2, h1 = field_errors(prob.basis, prob.u, u0, g0)
    return t, l2, h1, hmm, prob


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eps", type=int, nargs="+", default=[8, 16, 32, 64],
                    help="1/eps values")
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--res", type=int, default=4, help="DNS elements per period")
    ap.add_argument("--dns-order", type=int, default=2)
    ap.add_argument("--macro-n", type=int, default=16)
    ap.add_argument("--micro-res", type=int, default=4, help="micro elements per period")
    ap.add_argument("--micro-order", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs per method and eps; the fastest wall time is reported")
    args = ap.parse_args(argv)
    a = coefficient(args.beta)
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"scikit-fem {skfem.__version__ if hasattr(skfem, '__version__') else '?'}")
    print(f"# a(y) = exp({args.beta:g} sin 2pi y1 sin 2pi y2), A0 = I; "
          f"DNS Q{args.dns_order} {args.res}/period; "
          f"FE-HMM macro P2 {args.macro_n}x{args.macro_n}x2 tri, micro Q{args.micro_order} "
          f"{args.micro_res}/period, periodic, delta = eps")
    hdr = (f"{'1/eps':>6} {'DNS dofs':>9} {'DNS s':>8} {'DNS L2':>9} | {'HMM pts':>7} "
           f"{'micro':>5} {'HMM s':>7} {'HMM L2':>9} {'HMM H1':>9} | {'|uH-uD|':>9} | "
           f"{'speed-up':>8} {'err ratio':>9}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for inv in cases(args.eps, "bench/hmm.py", lambda n: f"eps = 1/{n}"):
        eps = 1.0 / inv
        runs = [run_dns(a, eps, args.res, args.dns_order) for _ in range(args.repeat)]
        td = min(r[0] for r in runs)
        _, ed, nd, pd = runs[-1]
        runs = [run_hmm(a, eps, args.macro_n, args.micro_res, args.micro_order)
                for _ in range(args.repeat)]
        th = min(r[0] for r in runs)
        _, eh, e1h, hmm, ph = runs[-1]
        # distance between the FE-HMM and DNS solutions (DNS interpolated at HMM quad points)
        bq = skfem.Basis(ph.mesh, ph.element, intorder=6)
        xq = np.array(bq.global_coordinates())
        uh = np.array(bq.interpolate(ph.u))
        ud = pd.basis.interpolator(pd.u)(xq.reshape(2, -1)).reshape(uh.shape)
        dist = float(np.sqrt(np.sum((uh - ud) ** 2 * bq.dx)))
        npts = ph.op.nel * ph.op.nqp
        rows.append((inv, td, ed, th, eh))
        print(f"{inv:>6} {nd:>9} {td:>8.2f} {ed:>9.2e} | {npts:>7} {hmm.micro_dofs:>5} "
              f"{th:>7.2f} {eh:>9.2e} {e1h:>9.2e} | {dist:>9.2e} | {td / th:>8.1f} "
              f"{ed / eh:>9.1f}")
    return rows


if __name__ == "__main__":
    main()
