"""PFHub benchmark 7 (manufactured-solution Allen–Cahn) with fe2.phasefield.AllenCahn.

The benchmark (Jokisaari et al., Comput. Mater. Sci. 126 (2017) 139-151;
https://pages.nist.gov/pfhub/benchmarks/benchmark7.ipynb): ``d eta/dt = -[4 eta (eta -
1)(eta - 1/2) - kappa lap eta] + S`` on ``[0, 1] x [0, 0.5]``, periodic in ``x``, the
manufactured solution on ``y = 0, 0.5``, ``kappa = 4e-4``, to ``t = 8``; part (a): the
L2 error of ``eta`` at ``t = 8`` and the observed orders in space (time step small) and in
time (fixed steps), by least squares of ``log E`` against ``log h`` / ``log dt``, to be
compared with the scheme's theoretical orders: 2 in ``h`` for Q1 (L2 norm), 1 in ``dt``
for the first-order convex splitting. The benchmark expects deviations of +-0.2.

* Space: Q1 on 32 x 16, 64 x 32 and 128 x 64 cells, the temporal error removed by
  Richardson extrapolation in the step (``2 eta(dt/2) - eta(dt)``, dt = 0.04), L2 error
  against ``eta_sol``. The finest pair gives the asymptotic order; the coarsest mesh
  (h = 1/32, 2.8 points per period of ``sin(22 pi x)``) is pre-asymptotic, so the
  three-point fit is reported and bounded more loosely. Quick tier: the same meshes to
  ``t = 0.2``.
* Time: Q1 on 32 x 16 cells (quick: to ``t = 1``) and 64 x 32 cells (full: to ``t = 8``),
  steps 0.4 ... 0.05; the temporal error alone is the L2 distance to an extrapolated run
  with steps 0.025 / 0.0125 on the same mesh (the spatial error of these meshes, 3e-2 and
  1e-2, would hide the temporal one against ``eta_sol``; the table lists both).
"""

from __future__ import annotations

import numpy as np

from fe2.phasefield.benchmarks import pfhub7_run
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Phase field: PFHub benchmark 7 (MMS Allen-Cahn), orders in space and time"


def _fit(x, e) -> float:
    return float(np.polyfit(np.log(x), np.log(e), 1)[0])


def _space(res: StudyResult, quick: bool) -> None:
    t_end = 0.2 if quick else 8.0
    tab = Table(["cells", "h", "L2 error", "nodal error", "steps", "local order"])
    hs, es = [], []
    for n in (32, 64, 128):
        r = pfhub7_run(n, 0.04, t_end=t_end, extrapolate=True)
        hs.append(r.h)
        es.append(r.l2)
        order = np.log(es[-2] / es[-1]) / np.log(hs[-2] / hs[-1]) if len(es) > 1 else ""
        tab.add(f"{n} x {n // 2}", r.h, r.l2, r.nodal, r.steps, order)
    last = float(np.log(es[-2] / es[-1]) / np.log(hs[-2] / hs[-1]))
    res.tables.append((f"Space, Q1, t = {t_end:g}, Richardson in dt (0.04 / 0.02)", tab))
    res.check(Check.near("PFHub 7 spatial order, Q1, finest pair (theory 2)", last, 2.0, 0.2))
    res.check(Check.within("PFHub 7 spatial order, Q1, least squares over 3 meshes "
                           "(pre-asymptotic coarsest mesh)", _fit(hs, es), 1.6, 2.2))
    res.plots.append(Plot("pfhub7_space", f"PFHub 7: L2 error at t = {t_end:g} (Q1)", "h",
                          "L2 error", [Series("Q1", hs, es)], xscale="log", yscale="log",
                          slopes=[(2.0, "h^2")]))


def _time(res: StudyResult, quick: bool) -> None:
    n, t_end = (32, 1.0) if quick else (64, 8.0)
    dts = (0.2, 0.1, 0.05) if quick else (0.4, 0.2, 0.1, 0.05)
    ref = pfhub7_run(n, 0.025, t_end=t_end, extrapolate=True)
    tab = Table(["dt", "steps", "temporal error (vs dt -> 0, same mesh)",
                 "L2 error vs eta_sol", "local order"])
    es = []
    for dt in dts:
        r = pfhub7_run(n, dt, t_end=t_end, reference=ref.field)
        es.append(r.l2_reference)
        order = np.log(es[-2] / es[-1]) / np.log(2.0) if len(es) > 1 else ""
        tab.add(dt, r.steps, r.l2_reference, r.l2, order)
    tab.add("0.0125 (extrap.)", "", 0.0, ref.l2, "")
    res.tables.append((f"Time, Q1 {n} x {n // 2}, t = {t_end:g}", tab))
    res.check(Check.near("PFHub 7 temporal order, least squares (theory 1)",
                         _fit(dts, es), 1.0, 0.2))
    res.plots.append(Plot("pfhub7_time", f"PFHub 7: temporal error at t = {t_end:g}", "dt",
                          "L2 error", [Series(f"Q1 {n} x {n // 2}", dts, es)],
                          xscale="log", yscale="log", slopes=[(1.0, "dt")]))


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: about 10 seconds, else about 2 minutes."""
    res = StudyResult(
        "phasefield_mms", TITLE,
        "PFHub benchmark 7 part (a): Allen-Cahn with the manufactured-solution source, "
        "periodic in x; L2 error of eta at t = 8 against the manufactured solution; "
        "observed order in h (Q1, theory 2) with the temporal error removed by Richardson "
        "extrapolation, and in dt (convex splitting, theory 1) against a same-mesh run with "
        "much smaller steps.",
    )
    _space(res, quick)
    _time(res, quick)
    return res
