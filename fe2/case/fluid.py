"""``fe2 run`` for ``kind = "fluid"`` cases: a MAC-grid flow by :func:`fe2.fluids.run_fluid_case`.

.. code-block:: toml

   [problem]
   kind = "fluid"

   [flow]                  # fe2.fluids.FluidCase [flow]
   kind = "cavity"
   reynolds = 100
   n = 32
   steady_tol = 1e-5

   [stress]                # optional: a stress oracle of fe2.fluids
   type = "OldroydB"
   eta_s = 0.005
   eta_p = 0.005
   lam = 0.5

   [output]                # png: centreline and streamline plots; vtu: a ParaView series
   png = true              # of 10 snapshots (runs with flow.t_end)

   [parallel]              # the stress oracle's points over a process pool
   workers = 2
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from .models import Case, CaseError
from .run import case_executor, check_output
from .staging import staged_folder

__all__ = ["FLUID_FRAMES", "fluid_case", "run_fluid"]

log = logging.getLogger(__name__)

FLUID_FRAMES = 10  # snapshots of the ParaView series of a timed run with output.vtu


def fluid_case(case: Case):
    """The :class:`fe2.fluids.FluidCase` of a ``kind = "fluid"`` case (CaseError if bad)."""
    from fe2.fluids.case import FluidCase, FluidCaseError

    src = str(case.path)
    if case.flow is None:
        raise CaseError(f"{src}: flow: missing section [flow] (kind = \"fluid\")")
    t_end = case.flow.get("t_end")
    data: dict[str, Any] = {
        "flow": case.flow,
        "output": {"snapshots": FLUID_FRAMES if case.output.vtu and t_end else 0,
                   "png": case.output.png, "name": "flow"},
    }
    if case.stress is not None:
        data["stress"] = case.stress
    try:
        return FluidCase.from_dict(data, src)
    except FluidCaseError as err:
        raise CaseError(str(err)) from None


def run_fluid(case: Case, out: str | os.PathLike, force: bool = False) -> dict:
    """Run a ``kind = "fluid"`` case into ``out`` (replaced only on success); the summary.

    Writes the centreline profiles (``flow_centerline_u.csv``, ``flow_centerline_v.csv``,
    ``flow_summary.json``), the plots (``output.png``), the ParaView series ``flow.pvd``
    (``output.vtu`` with ``flow.t_end``) and ``summary.json`` (``kind``, ``outputs`` and
    the flow summary).
    """
    from fe2 import __version__
    from fe2.fluids.case import run_fluid_case

    out = check_output(out, force=force, protect=(case.path,))
    fc = fluid_case(case)
    executor = case_executor(case)
    t0 = time.perf_counter()
    with staged_folder(out, executor) as tmp:
        log.info("case %s: fluid %s, n = %d", case.path, fc.flow.kind, fc.flow.n)
        res = run_fluid_case(fc, tmp, executor=executor)
        outputs = list(res.pop("files"))
        summary = {"fe2_version": __version__, "case": str(case.path), **res, "kind": "fluid",
                   "flow": fc.flow.kind, "wall_seconds": time.perf_counter() - t0,
                   "outputs": outputs}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
        summary["outputs"].append("summary.json")
    return summary
