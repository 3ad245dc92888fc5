"""Running a ``kind = "shock_tube"`` case: a 1D Riemann problem fed by a flux oracle.

The case names the Riemann problem (``[shock_tube]``) and the flux oracle
(``[flux]``, a table with a ``type``; :data:`fe2.case.models.FLUX_MODELS`)::

    [problem]
    kind = "shock_tube"

    [shock_tube]
    left = { rho = 1.0, u = 0.0, p = 1.0 }
    right = { rho = 0.125, u = 0.0, p = 0.1 }
    n_cells = 200
    t_end = 0.2
    scheme = "nt"          # or "lf"
    # max_dt = 1e-3        # cap on the time step (same steps for two oracles)

    [flux]
    type = "IdealGas"      # or "KineticFlux", "TabulatedFlux" with [flux.oracle]
    gamma = 1.4

It writes ``profiles.csv`` and ``profiles.json`` (:func:`fe2.gas.write_profiles`:
``x, rho, u, p`` per cell at ``t_end``, plus the exact ideal-gas columns when
there is a reference), ``gas.pvd`` with one VTU per snapshot (``output.vtu``;
``t = 0`` and ``shock_tube.frames`` equal intervals), ``profiles.png``
(``output.png``: density, velocity and pressure against the exact solution)
and ``summary.json`` (steps, flux calls, conservation totals and, with a
reference, the L1 errors against :func:`fe2.gas.exact_riemann` and the change
of the totals through open ends, ``(F(U_left) - F(U_right)) t``, that the
exact solution has while no wave reaches them).

The reference is the ideal-gas exact solution with ``reference_gamma``
(default: the flux's ``gamma`` for ``type = "IdealGas"``, none for the other
fluxes, whose exact solution fe2 does not know).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import numpy as np

from fe2.case.models import Case, CaseError
from fe2.case.run import case_executor, check_output
from fe2.case.staging import staged_folder

__all__ = ["run_shock_tube", "gas_flux", "reference_gamma"]

log = logging.getLogger(__name__)


def gas_flux(case: Case) -> Any:
    """The flux oracle of ``[flux]`` (:class:`CaseError` naming the file when it refuses)."""
    try:
        return case.flux.build()
    except (ValueError, TypeError) as err:
        raise CaseError(f"{case.path}: flux: {err}") from err


def reference_gamma(case: Case) -> float | None:
    """Ratio of specific heats of the exact reference solution, or None (no reference)."""
    st = case.shock_tube
    if st.reference_gamma is not None:
        return float(st.reference_gamma)
    return float(case.flux.gamma) if case.flux.type == "IdealGas" else None


def run_shock_tube(case: Case, out: str | os.PathLike, force: bool = False) -> dict:
    """Run a shock-tube case into ``out`` (replaced only on success); returns the summary.

    Everything is checked before the run (the output place, the flux oracle,
    the executor). A run that cannot go on (an oracle refusing a state, no
    stable time step) raises :class:`fe2.macro.ConvergenceError` (``fe2 run``
    exits with 1) and leaves its log in ``out.failed``.
    """
    from fe2 import __version__
    from fe2.gas import (
        FlowResult,
        IdealGas,
        conserved,
        evolve_series,
        plot_profiles,
        write_profiles,
        write_series,
    )
    from fe2.gas.ideal import fluid_of
    from fe2.gas.riemann import exact_riemann
    from fe2.gas.schemes import riemann_cells
    from fe2.macro import ConvergenceError

    out = check_output(out, force=force, protect=(case.path,))
    st = case.shock_tube
    flux = gas_flux(case)
    gamma = fluid_of(flux)  # converts the primitive states (a gamma or a real fluid)
    ref_gamma = reference_gamma(case)
    left = (st.left.rho, st.left.u, st.left.p)
    right = (st.right.rho, st.right.u, st.right.p)
    a, b = st.domain
    try:
        dx, U0, UL, UR = riemann_cells(left, right, st.n_cells, st.x0, (a, b), gamma)
    except ValueError as err:
        raise CaseError(f"{case.path}: shock_tube: {err}") from err
    frames = st.frames if case.output.vtu else 1
    times = [st.t_end * (k + 1) / frames for k in range(frames)]
    executor = case_executor(case)
    t0 = time.perf_counter()
    with staged_folder(out, executor) as tmp:
        log.info("case %s: shock tube, %d cells, %s scheme, flux %r, t_end %g", case.path,
                 st.n_cells, st.scheme, flux, st.t_end)
        try:
            results = evolve_series(
                U0, dx, times, flux, scheme=st.scheme, limiter=st.limiter, bc=st.bc,
                inflow=(UL, UR), cfl=st.cfl, max_dt=st.max_dt, x_left=a, executor=executor,
                progress=sys.stderr.isatty())  # a bar on a terminal, quiet otherwise
        except (ValueError, RuntimeError) as err:
            raise ConvergenceError(f"{case.path}: the shock tube stopped: {err}") from err
        final = results[-1]
        exact = (left, right) if ref_gamma is not None else None
        meta = {"case": str(case.path), "flux": case.flux.model_dump(),
                "limiter": st.limiter, "reference_gamma": ref_gamma}
        write_profiles(final, tmp, exact=exact, name="profiles", scheme=st.scheme,
                       gamma=gamma, x0=st.x0, meta=meta, exact_gamma=ref_gamma)
        outputs = ["profiles.csv", "profiles.json"]
        if case.output.vtu:
            start = FlowResult(x=final.x, U=U0, t=0.0, steps=0, times=np.zeros(1),
                               mass=final.mass[:1], momentum=final.momentum[:1],
                               energy=final.energy[:1], flux_calls=0)
            write_series([start, *results], tmp, name="gas", gamma=gamma)
            outputs.append("gas.pvd")
        if case.output.png:
            title = (f"{case.path.stem}: {case.flux.type}, {st.scheme.upper()}, "
                     f"{st.n_cells} cells, t = {final.t:.4g}")
            plot_profiles(final, tmp / "profiles.png", exact=exact or False, gamma=gamma,
                          x0=st.x0, title=title, exact_gamma=ref_gamma)
            outputs.append("profiles.png")
        totals = {}
        for k in ("mass", "momentum", "energy"):
            v = np.asarray(getattr(final, k))
            totals[k] = {"initial": float(v[0]), "final": float(v[-1]),
                         "change": float(v[-1] - v[0])}
        bcs = (st.bc, st.bc) if isinstance(st.bc, str) else tuple(st.bc)
        if ref_gamma is not None and all(s in ("outflow", "inflow") for s in bcs):
            # while no wave reaches the ends, the totals change by the (ideal-gas) fluxes
            # of the end states: d/dt sum(U) dx = F(U_left) - F(U_right)
            ends = np.stack([conserved(*left, ref_gamma), conserved(*right, ref_gamma)], 1)
            F = np.asarray(IdealGas(ref_gamma).evaluate(ends).flux)[0]
            for k, i in (("mass", 0), ("momentum", 1), ("energy", 2)):
                totals[k]["exact_boundary_change"] = float((F[i, 0] - F[i, 1]) * final.t)
        summary: dict[str, Any] = {
            "fe2_version": __version__,
            "case": str(case.path),
            "kind": "shock_tube",
            "flux": case.flux.model_dump(),
            "oracle": repr(flux),
            "scheme": st.scheme,
            "limiter": st.limiter,
            "n_cells": st.n_cells,
            "dx": dx,
            "t": float(final.t),
            "steps": int(final.steps),
            "flux_calls": int(final.flux_calls),
            "conservation": totals,
            "reference": None,
            "wall_seconds": time.perf_counter() - t0,
            "outputs": outputs,
        }
        if ref_gamma is not None:
            from fe2.gas import profiles

            prim: dict[str, float | None] = {"rho": None, "u": None, "p": None}
            cols = profiles(final, gamma)
            ex = exact_riemann(left, right, final.x, final.t, gamma=ref_gamma, x0=st.x0)
            for f, e in zip(prim, ex, strict=True):
                prim[f] = float(np.sum(np.abs(cols[f] - e)) * dx)
            summary["reference"] = {"gamma": ref_gamma, "l1": prim,
                                    "note": "sum over cells of |cell value - exact value at "
                                            "the cell centre| dx"}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        summary["outputs"].append("summary.json")
    return summary
