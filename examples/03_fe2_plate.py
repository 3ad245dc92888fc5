"""03 — FE²: a fibre-composite plate with a hole, an RVE at every macro quadrature point.

Problem
-------
The flagship demo (:mod:`fe2.demo`, also ``fe2 demo``): the quarter of a plate
with a hole, unidirectional fibre composite loaded transversely in plane strain,
pulled in x in several steps. At each of the macro quadrature points a periodic
voxel RVE (one fibre, J2 matrix, elastic fibre) returns the averaged stress and
the condensed consistent tangent.

Math
----
Macro: int sigma(eps(u)) : eps(v) dx = 0 with sigma = <sigma_micro>, the tangent
d<sigma>/d eps by static condensation of the converged micro stiffness, so the
macro Newton iteration converges quadratically. Micro: periodic fluctuation,
history (plastic strain) trial/committed with the macro step.

Expected result
---------------
An elastic first step whose reaction equals single-scale FE with the RVE's
effective tensor, then plastic flow from the hole; Hill–Mandel residuals at
round-off; quadratic macro Newton convergence. ``--quick``: 2 steps (~20 s);
full: about 1–3 minutes on two cores. Checked by ``tests/test_demo.py``.

Usage: ``python examples/03_fe2_plate.py [--out out/03_fe2_plate] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fe2.demo import run_demo


def main(out: Path, quick: bool = True) -> dict:
    summary = run_demo(out, quick=quick)
    print(json.dumps({k: summary[k] for k in list(summary)[:8]}, indent=1, default=str))
    return summary


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/03_fe2_plate"))
    ap.add_argument("--quick", action="store_true", help="two load steps only")
    a = ap.parse_args()
    main(a.out, a.quick)
