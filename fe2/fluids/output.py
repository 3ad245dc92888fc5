"""Outputs of fluid runs: ParaView image-data series, centreline CSV + JSON, plots.

* :func:`write_series`: one VTK image data file (``.vti``) per result plus a ``.pvd``
  collection, cell data ``velocity`` ``(nx ny, 3)``, ``pressure``, ``vorticity`` and,
  with a stress oracle, ``tau_xx, tau_xy, tau_yy`` and the oracle's per-point
  statistics (e.g. ``tau_xy_se``), cells ordered with x fastest (VTK's order).
* :func:`write_profiles`: the two centrelines as CSV and the run's scalars as
  ``summary.json``.
* :func:`plot_centerlines`, :func:`plot_streamlines`: matplotlib PNGs (centrelines
  against the Ghia et al. tables when the Reynolds number is one of theirs).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from .flows import FlowResult
from .reference import GHIA_U, GHIA_V, GHIA_X, GHIA_Y

__all__ = ["plot_centerlines", "plot_streamlines", "write_profiles", "write_series"]

log = logging.getLogger(__name__)


def _flat(a: np.ndarray) -> np.ndarray:
    """``(..., nx, ny)`` -> ``(..., nx ny)`` with x fastest."""
    a = np.asarray(a, float)
    return np.ascontiguousarray(np.swapaxes(a, -1, -2).reshape(*a.shape[:-2], -1))


def cell_fields(r: FlowResult) -> dict[str, np.ndarray]:
    """Cell-centred fields of a result: name -> ``(nx, ny)`` or ``(2, nx, ny)``."""
    out = {"velocity": r.cell_velocity(), "pressure": r.p, "vorticity": r.vorticity()}
    if r.tau is not None:
        out["tau_xx"], out["tau_xy"], out["tau_yy"] = r.tau[0, 0], r.tau[0, 1], r.tau[1, 1]
    for k, v in r.info.items():
        v = np.asarray(v, float)
        if v.shape == r.p.shape:
            out[k] = v
    return out


def write_series(results: Sequence[FlowResult] | FlowResult, folder: str | PathLike,
                 name: str = "flow") -> Path:
    """ParaView series ``{name}_{k:06d}.vti`` + ``{name}.pvd`` of results on one grid.

    Parameters
    ----------
    results : FlowResult or sequence of them
        Increasing times (e.g. ``result.snapshots``).
    folder : path
        Created if missing.
    name : str
        File stem.

    Returns
    -------
    Path
        The ``.pvd`` file (read back with :func:`fe2.io.read_pvd`).
    """
    import pyvista as pv

    from fe2.io.vtk import atomic_write, pvd_xml

    if isinstance(results, FlowResult):
        results = [results]
    if not results:
        raise ValueError("write_series: no results to write")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries, last = [], -math.inf
    for k, r in enumerate(results):
        if not r.t > last:
            raise ValueError(f"write_series: times must increase, result {k} has t={r.t} "
                             f"after {last}")
        last = r.t
        g = r.grid
        img = pv.ImageData(dimensions=(g.nx + 1, g.ny + 1, 1), spacing=(g.hx, g.hy, 1.0),
                           origin=(0.0, 0.0, 0.0))
        for f, a in cell_fields(r).items():
            if f == "velocity":
                vel = np.zeros((g.nx * g.ny, 3))
                vel[:, :2] = _flat(a).T
                img.cell_data[f] = vel
            else:
                img.cell_data[f] = _flat(a)
        path = folder / f"{name}_{k:06d}.vti"
        atomic_write(path, lambda tmp, m=img: m.save(str(tmp), binary=True))
        entries.append((r.t, path.name))
    pvd = folder / f"{name}.pvd"
    xml = pvd_xml(entries)
    atomic_write(pvd, lambda tmp: Path(tmp).write_bytes(xml))
    log.info("wrote %s (%d steps)", pvd, len(entries))
    return pvd


def write_profiles(r: FlowResult, folder: str | PathLike, name: str = "flow",
                   extra: dict | None = None) -> dict[str, Path]:
    """Centrelines as CSV and the run's scalars as JSON.

    ``{name}_centerline_u.csv`` (columns y,u), ``{name}_centerline_v.csv`` (x,v) and
    ``{name}_summary.json`` (:meth:`FlowResult.to_dict` plus ``extra``).

    Returns
    -------
    dict
        ``{"u": path, "v": path, "summary": path}``.
    """
    from fe2.io.vtk import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, (a, b), head in (("u", r.centerline_u(), "y,u"), ("v", r.centerline_v(), "x,v")):
        path = folder / f"{name}_centerline_{key}.csv"
        data = np.column_stack([a, b])
        atomic_write(path, lambda tmp, d=data, h=head: np.savetxt(tmp, d, delimiter=",",
                                                                  header=h, comments=""))
        out[key] = path
    summary = r.to_dict() | (extra or {})
    path = folder / f"{name}_summary.json"
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2)))
    out["summary"] = path
    return out


def plot_centerlines(results: Sequence[FlowResult] | FlowResult, path: str | PathLike,
                     reynolds: int | None = None, labels: Sequence[str] | None = None) -> Path:
    """PNG of ``u(0.5, y)`` and ``v(x, 0.5)`` for one or more results (+ Ghia's points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(results, FlowResult):
        results = [results]
    labels = labels or [f"{r.grid.nx}x{r.grid.ny}" for r in results]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
    try:
        for r, lab in zip(results, labels, strict=True):
            y, u = r.centerline_u()
            x, v = r.centerline_v()
            a1.plot(u, y, "-", label=lab)
            a2.plot(x, v, "-", label=lab)
        if reynolds in GHIA_U:
            a1.plot(GHIA_U[reynolds], GHIA_Y, "ko", ms=4, label="Ghia et al. 1982")
            a2.plot(GHIA_X, GHIA_V[reynolds], "ko", ms=4, label="Ghia et al. 1982")
        a1.set(xlabel="u", ylabel="y", title="u on x = 0.5")
        a2.set(xlabel="x", ylabel="v", title="v on y = 0.5")
        for a in (a1, a2):
            a.grid(alpha=0.3)
            a.legend(fontsize=7)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def plot_streamlines(r: FlowResult, path: str | PathLike, title: str | None = None) -> Path:
    """PNG of the streamlines over the vorticity field (cell-centred velocity)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = r.grid
    uc, vc = r.cell_velocity()
    fig, ax = plt.subplots(figsize=(5, 5 * g.ly / g.lx + 0.3))
    try:
        w = r.vorticity()
        lim = np.percentile(np.abs(w), 98) or 1.0
        ax.pcolormesh(g.xf, g.yf, w.T, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="flat")
        ax.streamplot(g.xc, g.yc, uc.T, vc.T, density=1.4, color="k", linewidth=0.6)
        ax.set(xlim=(0, g.lx), ylim=(0, g.ly), aspect="equal",
               title=title or f"t = {r.t:.3g}: streamlines over vorticity")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path
