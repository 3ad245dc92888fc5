"""FE² vs direct numerical simulation: time and reaction-force error at each eps (issue 4 (a)).

The problem is :mod:`verification.fe2_dns`: a unit square of periodic fibre
cells (8x8 voxels, one fibre, J2 matrix, elastic fibres, plane strain) in
uniaxial tension to 1 % strain in 5 load steps, sliding supports, top edge
free. DNS resolves every voxel of every cell (``(8/eps)^2`` bilinear quads);
FE² solves the same periodic voxel cell at the macro quadrature points of a
coarse macro mesh: one quad (4 RVEs, the bench target; the homogenized solution
is homogeneous, so one element is exact) and, for reference, 2x2 quads (16
RVEs). Everything runs serially in this process; times include the set-up.
Both wall and CPU time (``time.process_time``) are shown: on a shared machine
CPU time is the robust measure. Target: FE² at least 10x faster than DNS at
eps = 1/16 with under 2 % difference in the reaction force.

Usage::

    python bench/fe2_vs_dns.py              # eps = 1/4, 1/8, 1/16, 1/32
    python bench/fe2_vs_dns.py --max-inv 16 # stop at eps = 1/16
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys

from _common import cases

from verification.fe2_dns import dns_run, fe2_reference, row


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns 0 when the target is met."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-inv", type=int, default=32, help="largest 1/eps (default 32)")
    args = ap.parse_args(argv)
    inv = [n for n in (4, 8, 16, 32, 64) if n <= args.max_inv]
    print(f"# bench/fe2_vs_dns.py  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC  "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    fe2 = {m: fe2_reference(macro=m) for m in (1, 2)}
    for m, f in fe2.items():
        print(f"FE² {m}x{m} macro quads ({f['points']} RVEs): {f['seconds']:.2f} s wall, "
              f"{f['cpu']:.2f} s CPU, {f['iterations']} macro Newton iterations, "
              f"R = {f['reaction'][-1]:.6g}")
    print()
    head = ("| eps | DNS elements | DNS dofs | DNS wall s | DNS CPU s | FE² wall s | FE² CPU s "
            "| speed-up wall | speed-up CPU | speed-up CPU (2x2 FE²) | R DNS | R FE² "
            "| rel. diff R | rel. diff work |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    rows = []
    for n in cases(inv, "bench/fe2_vs_dns.py", lambda n: f"eps = 1/{n}"):
        dns = dns_run(n)
        r = row(n, dns, fe2[1])
        r2 = row(n, dns, fe2[2])
        rows.append(r)
        print(f"| 1/{n} | {r['dns_elements']} | {r['dns_dofs']} | {r['dns_seconds']:.2f} | "
              f"{r['dns_cpu']:.2f} | {r['fe2_seconds']:.2f} | {r['fe2_cpu']:.2f} | "
              f"{r['speedup']:.1f} | {r['speedup_cpu']:.1f} | {r2['speedup_cpu']:.1f} | "
              f"{r['reaction_dns']:.6g} | {r['reaction_fe2']:.6g} | "
              f"{100 * r['reaction_diff']:.2f} % | {100 * r['work_diff']:.2f} % |", flush=True)
    target = next((r for r in rows if abs(r["eps"] - 1 / 16) < 1e-12), None)
    if target is None:
        print("\neps = 1/16 not run; no verdict")
        return 0
    ok = target["speedup_cpu"] >= 10 and target["reaction_diff"] < 0.02
    print(f"\ntarget at eps = 1/16: speed-up {target['speedup_cpu']:.1f}x CPU "
          f"({target['speedup']:.1f}x wall) >= 10 and reaction difference "
          f"{100 * target['reaction_diff']:.2f} % < 2 %: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
