"""Outputs of a phase-field run: VTU/PVD series of the order parameter, CSV and PNG curves.

>>> import numpy as np, skfem, tempfile, pathlib
>>> from fe2.phasefield import CahnHilliard
>>> m = skfem.MeshQuad.init_tensor(np.linspace(0, 10, 6), np.linspace(0, 10, 6))
>>> ch = CahnHilliard(m, kappa=2.0, mobility=5.0)
>>> res = ch.solve(lambda x: 0.5 + 0.05 * np.cos(0.6 * x[0]), t_end=5.0, save_every=5)
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> sorted(p.name for p in write_run(d, ch, res).values())
['phasefield.csv', 'phasefield.png', 'phasefield.pvd']
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from fe2.io import PVDWriter
from fe2.io.render import render_png, render_voxels_png
from fe2.phasefield.microstructure import snapshot_cell

__all__ = ["write_series", "plot_curves", "write_run", "render_snapshot"]


def write_series(directory: str | PathLike, solver: Any, result: Any, name: str = "phasefield",
                 field_name: str = "phi") -> Path:
    """VTU per saved field plus a ``.pvd`` collection (finite-element solvers); the path."""
    if not hasattr(solver, "basis"):
        raise ValueError("write_series: VTU output needs a finite-element solver (spectral "
                         "grids: write result.saved reshaped to solver.shape yourself)")
    with PVDWriter(directory, name) as pvd:
        for t, u in zip(result.saved_times, result.saved, strict=True):
            pvd.write(float(t), solver.mesh, point_data={field_name: _nodal(solver, u)})
        return pvd.pvd_path


def _nodal(solver: Any, u: np.ndarray) -> np.ndarray:
    """Vertex values of dof values (P2: the vertex dofs come first)."""
    return np.asarray(u)[: solver.mesh.p.shape[1]]


def render_snapshot(path: str | PathLike, solver: Any, field: np.ndarray,
                    title: str | None = None) -> Path:
    """PNG of one snapshot rendered off-screen with pyvista.

    Finite-element solvers: the field coloured on the mesh. Spectral solvers: the two
    phases of the thresholded snapshot (:func:`~fe2.phasefield.snapshot_cell`) as voxels.
    """
    if hasattr(solver, "basis"):
        return render_png(path, solver.mesh, point_data={"phi": _nodal(solver, field)},
                          scalars="phi", title=title)
    return render_voxels_png(path, snapshot_cell(solver, field).image, title=title)


def plot_curves(path: str | PathLike, result: Any, title: str = "") -> Path:
    """PNG of the free energy (log-log) and the relative mass change against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    t = np.asarray(result.times)
    ax[0].plot(t[1:], result.energy[1:], "-")
    ax[0].set(xscale="log", yscale="log", xlabel="t", ylabel="free energy F", title=title)
    dm = np.abs(result.mass - result.mass[0]) / abs(result.mass[0])
    ax[1].plot(t[1:], np.maximum(dm[1:], 1e-17), "-")
    ax[1].set(xscale="log", yscale="log", xlabel="t", ylabel="|m - m0| / |m0|")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_run(directory: str | PathLike, solver: Any, result: Any, name: str = "phasefield"
              ) -> dict[str, Path]:
    """CSV and PNG of ``t, F, mass``, plus the PVD series for finite-element solvers."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {"csv": directory / f"{name}.csv"}
    result.to_csv(out["csv"])
    out["png"] = plot_curves(directory / f"{name}.png", result, title=name)
    if hasattr(solver, "basis"):
        out["pvd"] = write_series(directory, solver, result, name)
    return out
