"""Output of 1D gas runs: CSV / JSON profiles, a ParaView series, a profile plot.

Works with the results of :func:`fe2.gas.shock_tube` (:class:`ShockTubeResult`, primitive
profiles stored) and :func:`fe2.gas.evolve` (:class:`FlowResult`, conserved cell averages
only: the primitive profiles are computed with ``gamma``).

:func:`evolve_series` produces snapshots without touching the scheme: it restarts
:func:`fe2.gas.evolve` at every output time from the previous cell averages (the
staggered schemes carry no state between step pairs, so this is the same run with the
last step of each interval shortened to land on the output time).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from .ideal import primitive
from .riemann import exact_riemann
from .schemes import FlowResult, evolve

__all__ = ["evolve_series", "profiles", "plot_profiles", "write_profiles", "write_series"]

log = logging.getLogger(__name__)

_FIELDS = ("rho", "u", "p")


def profiles(result, gamma: float | None = None) -> dict[str, np.ndarray]:
    """Cell centres and primitive profiles of a 1D result.

    Parameters
    ----------
    result : ShockTubeResult or FlowResult
        ``x`` ``(n,)`` and either ``rho, u, p`` ``(n,)`` or conserved ``U`` ``(3, n)``.
    gamma : float, optional
        Ratio of specific heats to convert ``U`` (default 1.4); ignored when the result
        already holds ``rho, u, p``.

    Returns
    -------
    dict
        ``{"x", "rho", "u", "p"}``, each an ndarray of shape ``(n,)``.
    """
    x = np.asarray(getattr(result, "x", None), dtype=float)
    if x.ndim != 1:
        raise ValueError(f"result must have 1D cell centres x, got {type(result).__name__}")
    if all(hasattr(result, f) for f in _FIELDS):
        rho, u, p = (np.asarray(getattr(result, f), dtype=float) for f in _FIELDS)
    else:
        U = np.asarray(getattr(result, "U", None), dtype=float)
        if U.shape != (3, x.size):
            raise ValueError(f"result.U must have shape (3, {x.size}) in 1D, got {U.shape}")
        rho, u, p = primitive(U, 1.4 if gamma is None else gamma)
        u = u[0]
    return {"x": x, "rho": rho, "u": u, "p": p}


def _exact_columns(exact, x: np.ndarray, t: float, gamma: float, x0: float) -> dict:
    try:
        left, right = exact
    except (TypeError, ValueError):
        raise ValueError(
            f"exact must be a (left, right) pair of (rho, u, p) states, got {exact!r}"
        ) from None
    rho, u, p = exact_riemann(left, right, x, t, gamma=gamma, x0=x0)
    return {"rho_exact": rho, "u_exact": u, "p_exact": p}


def _totals(result) -> dict:
    out = {}
    for k in ("mass", "momentum", "energy"):
        v = getattr(result, k, None)
        if v is not None and np.size(v):
            v = np.asarray(v, dtype=float)
            out[k] = {"initial": float(v[0]), "final": float(v[-1]),
                      "max_abs_change": float(np.max(np.abs(v - v[0])))}
    return out


def write_profiles(result, folder: str | PathLike, exact=None, name: str = "profiles",
                   scheme: str | None = None, gamma: float | None = None, x0: float = 0.5,
                   meta: dict | None = None, exact_gamma: float | None = None
                   ) -> tuple[Path, Path]:
    """Write ``{name}.csv`` (one row per cell) and ``{name}.json`` (the same + metadata).

    Parameters
    ----------
    result : ShockTubeResult or FlowResult
        A 1D run (see :func:`profiles`).
    folder : path
        Output folder (created if missing).
    exact : (left, right), optional
        Initial ``(rho, u, p)`` states of a Riemann problem: adds the columns
        ``rho_exact, u_exact, p_exact`` from :func:`fe2.gas.exact_riemann` at ``result.t``.
    name : str
        File stem.
    scheme : str, optional
        Recorded in the metadata (the results do not store it).
    gamma : float, optional
        Ratio of specific heats (conversion of ``U`` and the exact solution; default 1.4).
    x0 : float
        Initial discontinuity of ``exact``.
    meta : dict, optional
        Extra JSON-serialisable metadata.
    exact_gamma : float, optional
        Ratio of specific heats of the exact solution (default: ``gamma``), e.g. an
        ideal-gas reference for a run with another flux oracle.

    Returns
    -------
    (Path, Path)
        The CSV and JSON files. CSV columns: ``x, rho, u, p`` [+ exact columns], written
        with ``repr`` precision (round trip exact). JSON: ``{"t", "steps", "scheme",
        "gamma", "n_cells", "conservation": {mass|momentum|energy: {initial, final,
        max_abs_change}}, "meta", "columns": {name: list}}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    g = 1.4 if gamma is None else gamma
    cols = profiles(result, g)
    t = float(result.t)
    if exact is not None:
        ge = g if exact_gamma is None else float(exact_gamma)
        cols.update(_exact_columns(exact, cols["x"], t, ge, x0))
    names = list(cols)
    csv_path = folder / f"{name}.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in zip(*(cols[k] for k in names), strict=True):
            w.writerow([repr(float(v)) for v in row])
    doc = {
        "t": t,
        "steps": int(getattr(result, "steps", 0)),
        "scheme": scheme,
        "gamma": g if isinstance(g, int | float) else repr(g),
        "n_cells": int(cols["x"].size),
        "conservation": _totals(result),
        "meta": dict(meta or {}),
        "columns": {k: [float(v) for v in cols[k]] for k in names},
    }
    json_path = folder / f"{name}.json"
    json_path.write_text(json.dumps(doc, indent=1))
    log.info("wrote %s and %s (%d cells, t=%g)", csv_path, json_path, cols["x"].size, t)
    return csv_path, json_path


def evolve_series(U0: np.ndarray, dx: float, times: Sequence[float], flux,
                  **kwargs) -> list[FlowResult]:
    """Snapshots of :func:`fe2.gas.evolve` at increasing ``times`` (restart per interval).

    Parameters
    ----------
    U0 : ndarray, shape ``(3, n)``
        Conserved cell averages at ``t = 0``.
    dx : float
        Cell width.
    times : sequence of float
        Output times, strictly increasing, ``>= 0``.
    flux : oracle
        As in :func:`fe2.gas.evolve`.
    **kwargs
        Passed to :func:`fe2.gas.evolve` (scheme, limiter, bc, inflow, cfl, max_dt,
        x_left, ...); ``progress=True`` shows one bar over ``[0, times[-1]]``.

    Returns
    -------
    list of FlowResult
        One per output time; ``t``, ``steps`` and the totals ``times / mass / momentum /
        energy`` are cumulative from ``t = 0``.
    """
    ts = [float(v) for v in times]
    if not ts or ts[0] < 0 or any(b <= a for a, b in zip(ts, ts[1:], strict=False)):
        raise ValueError(f"times must be a non-empty increasing sequence >= 0, got {times!r}")
    bar = None
    if kwargs.get("progress") is True:  # one bar over all intervals, not one per interval
        from fe2.io import Progress

        bar = kwargs["progress"] = Progress(total=ts[-1], desc="evolve", unit="time",
                                            integer=False)
    try:
        return _series(U0, dx, ts, flux, kwargs)
    finally:
        if bar is not None:
            bar.close()


def _series(U0, dx, ts, flux, kwargs) -> list[FlowResult]:
    out: list[FlowResult] = []
    U, t_prev, steps, calls = np.asarray(U0, dtype=float), 0.0, 0, 0
    hist = {"times": np.array([0.0]), "mass": None, "momentum": None, "energy": None}
    for t in ts:
        r = evolve(U, dx, t - t_prev, flux, **kwargs)
        steps += r.steps
        calls += r.flux_calls
        if hist["mass"] is None:
            for k in ("mass", "momentum", "energy"):
                hist[k] = np.asarray(getattr(r, k))[:1]
        hist["times"] = np.concatenate([hist["times"], t_prev + r.times[1:]])
        for k in ("mass", "momentum", "energy"):
            hist[k] = np.concatenate([hist[k], np.asarray(getattr(r, k))[1:]])
        out.append(FlowResult(x=r.x, U=r.U, t=t, steps=steps, times=hist["times"].copy(),
                              mass=hist["mass"].copy(), momentum=hist["momentum"].copy(),
                              energy=hist["energy"].copy(), flux_calls=calls))
        U, t_prev = r.U, t
    return out


def _write_image(r, path: Path, gamma) -> None:
    """One 2D result as VTK image data: cells of the grid with ``rho, velocity, p, U``."""
    import pyvista as pv

    from fe2.io.vtk import atomic_write

    x, y = np.asarray(r.x, dtype=float), np.asarray(r.y, dtype=float)
    U = np.asarray(r.U, dtype=float)  # (4, nx, ny)
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[1] - y[0]) if y.size > 1 else 1.0
    grid = pv.ImageData(dimensions=(x.size + 1, y.size + 1, 1), spacing=(dx, dy, 1.0),
                        origin=(x[0] - 0.5 * dx, y[0] - 0.5 * dy, 0.0))
    rho, u, p = primitive(U, 1.4 if gamma is None else gamma)

    def flat(a):  # VTK orders cells with x fastest
        return np.ascontiguousarray(np.asarray(a).transpose(*range(a.ndim - 2), -1, -2)
                                    .reshape(*a.shape[:-2], -1))

    grid.cell_data["rho"] = flat(rho)
    grid.cell_data["p"] = flat(p)
    vel = np.zeros((x.size * y.size, 3))
    vel[:, :2] = flat(u).T
    grid.cell_data["velocity"] = vel
    grid.cell_data["U"] = flat(U).T
    atomic_write(path, lambda tmp: grid.save(str(tmp), binary=True))


def write_series(results: Sequence, folder: str | PathLike, name: str = "gas",
                 gamma: float | None = None) -> Path:
    """ParaView series: ``{name}_{k:06d}.vtu`` (1D) or ``.vti`` (2D) per result and ``{name}.pvd``.

    A 1D VTU is the tube as a line mesh: ``n + 1`` points at the cell edges (``y = z = 0``)
    and ``n`` ``line`` cells with cell data ``rho, u, p`` ``(n,)`` and ``U`` ``(n, 3)``. A 2D
    result (:class:`fe2.gas.FlowResult2D`) is VTK image data with ``nx x ny`` cells and cell
    data ``rho, p`` ``(nx ny,)``, ``velocity`` ``(nx ny, 3)`` and ``U`` ``(nx ny, 4)``.

    Parameters
    ----------
    results : sequence of ShockTubeResult / FlowResult / FlowResult2D
        Snapshots at increasing ``t`` on one grid (e.g. from :func:`evolve_series`);
        a single result writes a one-step series.
    folder : path
        Output folder (created if missing).
    name : str
        File stem.
    gamma : float, optional
        Ratio of specific heats for results holding only ``U`` (default 1.4).

    Returns
    -------
    Path
        The ``.pvd`` file (read it back with :func:`fe2.io.read_pvd`).
    """
    import meshio

    from fe2.io.vtk import atomic_write, pvd_xml

    if not isinstance(results, Sequence):
        results = [results]
    if not results:
        raise ValueError("write_series: no results to write")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[float, str]] = []
    last = -math.inf
    for k, r in enumerate(results):
        t = float(r.t)
        if not t > last:
            raise ValueError(f"write_series: times must increase, result {k} has t={t} "
                             f"after {last}")
        last = t
        if getattr(r, "y", None) is not None:  # a 2D result: VTK image data
            vti = folder / f"{name}_{k:06d}.vti"
            _write_image(r, vti, gamma)
            entries.append((t, vti.name))
            continue
        c = profiles(r, gamma)
        x = c["x"]
        if x.size >= 2:
            dx = float(x[1] - x[0])
        else:
            dx = 1.0
        edges = np.concatenate([x - 0.5 * dx, [x[-1] + 0.5 * dx]])
        pts = np.zeros((edges.size, 3))
        pts[:, 0] = edges
        conn = np.stack([np.arange(x.size), np.arange(1, x.size + 1)], axis=1)
        U = getattr(r, "U", None)
        cell_data = {f: [np.asarray(c[f], dtype=float)] for f in _FIELDS}
        if U is not None:
            cell_data["U"] = [np.ascontiguousarray(np.asarray(U, dtype=float).T)]
        mesh = meshio.Mesh(pts, [("line", conn)], cell_data=cell_data)
        vtu = folder / f"{name}_{k:06d}.vtu"
        atomic_write(vtu, lambda tmp, m=mesh: meshio.write(tmp, m, file_format="vtu"))
        entries.append((t, vtu.name))
    pvd = folder / f"{name}.pvd"
    xml = pvd_xml(entries)
    atomic_write(pvd, lambda tmp: Path(tmp).write_bytes(xml))
    log.info("wrote %s (%d steps)", pvd, len(entries))
    return pvd


def plot_profiles(result, path: str | PathLike, exact=True, gamma: float | None = None,
                  x0: float = 0.5, title: str | None = None,
                  exact_gamma: float | None = None) -> Path:
    """PNG of density, velocity and pressure (cell averages) against the exact solution.

    Parameters
    ----------
    result : ShockTubeResult or FlowResult
        A 1D run.
    path : path
        PNG file to write.
    exact : bool or (left, right)
        ``(left, right)`` ``(rho, u, p)`` states of the Riemann problem; ``True`` takes
        them from the first and last cells of ``result`` (right while no wave has reached
        the ends of the tube); ``False`` / ``None``: no exact curve.
    gamma : float, optional
        Ratio of specific heats (default 1.4).
    x0 : float
        Initial discontinuity.
    title : str, optional
        Figure title (default: ``t = ...``).
    exact_gamma : float, optional
        Ratio of specific heats of the exact solution (default: ``gamma``).

    Returns
    -------
    Path
        The PNG file.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    g = 1.4 if gamma is None else gamma
    c = profiles(result, g)
    x, t = c["x"], float(result.t)
    if exact is True:
        exact = tuple(tuple(float(c[f][i]) for f in _FIELDS) for i in (0, -1))
        log.info("plot_profiles: exact states from the end cells: %s", exact)
    ref = None
    if exact is not None and exact is not False:
        a, b = float(x[0]) - 0.5 * (x[1] - x[0]), float(x[-1]) + 0.5 * (x[1] - x[0])
        xf = np.linspace(a, b, 2001)
        ref = (xf, _exact_columns(exact, xf, t, g if exact_gamma is None
                                  else float(exact_gamma), x0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=100)
    try:
        for ax, f, label in zip(axes, _FIELDS, ("density", "velocity", "pressure"),
                                strict=True):
            if ref is not None:
                ax.plot(ref[0], ref[1][f"{f}_exact"], "k-", lw=1.0, label="exact")
            ax.plot(x, c[f], "o", ms=2.5, color="tab:blue", label="computed")
            ax.set_xlabel("x")
            ax.set_title(label, fontsize=10)
            ax.grid(True, alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(title or f"t = {t:.4g}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
