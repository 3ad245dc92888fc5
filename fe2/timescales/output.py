"""Output of coarse time steppers: CSV + JSON files and matplotlib plots.

- :func:`write_trajectory`: a :class:`~fe2.timescales.Trajectory` as ``{name}.csv``
  (one row per output time; for ensembles the mean, standard deviation and standard
  error of every component) and ``{name}.json`` (method, cost, parameters, the series);
- :func:`write_table` (:func:`fe2.io.records.write_table`): rows of a study (error
  versus parameter) as CSV + JSON;
- :func:`plot_trajectories`, :func:`plot_distribution`, :func:`plot_error`: PNG figures
  (matplotlib, Agg backend; imported when called).

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from fe2.timescales import Trajectory
>>> tr = Trajectory(np.array([0.0, 1.0]), np.array([[1.0], [0.5]]), 4, "demo")
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> csv_path, json_path = write_trajectory(tr, d)
>>> csv_path.read_text().splitlines()
['t,U0', '0,1', '1,0.5']
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from fe2.io.records import jsonable, write_csv, write_table

from .models import Trajectory

__all__ = ["write_trajectory", "write_table", "plot_trajectories", "plot_distribution",
           "plot_error", "new_figure", "save_figure"]

log = logging.getLogger(__name__)


def write_trajectory(traj: Trajectory, folder: str | PathLike, name: str = "trajectory",
                     ensemble: bool = False) -> tuple[Path, Path]:
    """Write ``{name}.csv`` and ``{name}.json`` into ``folder`` (created if missing).

    Parameters
    ----------
    traj : Trajectory
        ``t`` ``(n_out,)``, ``U`` ``(n_out, m)`` or, with ``ensemble``,
        ``(n_out, [m,] runs)``.
    folder : path
        Output folder (created if missing).
    name : str
        File stem.
    ensemble : bool
        The last axis of ``U`` holds ensemble members: the CSV gets ``mean_i, std_i,
        se_i`` per component ``i`` instead of the values.

    Returns
    -------
    (Path, Path)
        The CSV and JSON files.
    """
    if not isinstance(traj, Trajectory):
        raise TypeError(f"write_trajectory needs a Trajectory, got {type(traj).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t = np.asarray(traj.t, float)
    U = np.asarray(traj.U, float)
    if ensemble:
        if U.ndim < 2:
            raise ValueError(f"ensemble trajectory needs U of shape (n_out, [m,] runs), "
                             f"got {U.shape}")
        S = U.reshape(len(t), -1, U.shape[-1])
        runs = S.shape[-1]
        mean, std = S.mean(axis=-1), S.std(axis=-1, ddof=1) if runs > 1 else 0 * S[..., 0]
        cols = {}
        for i in range(S.shape[1]):
            cols[f"mean{i}"] = mean[:, i]
            cols[f"std{i}"] = std[:, i]
            cols[f"se{i}"] = std[:, i] / np.sqrt(runs)
    else:
        flat = U.reshape(len(t), -1)
        cols = {f"U{i}": flat[:, i] for i in range(flat.shape[1])}
    csv_path = write_csv(folder / f"{name}.csv", ["t", *cols],
                         ((t[j], *(c[j] for c in cols.values())) for j in range(len(t))))
    summary = traj.to_dict()
    if ensemble:
        summary["U"] = None
        summary["statistics"] = {k: v.tolist() for k, v in cols.items()}
        summary["runs"] = int(U.shape[-1])
    json_path = folder / f"{name}.json"
    json_path.write_text(json.dumps(jsonable(summary), indent=1))
    log.info("wrote %s and %s", csv_path, json_path)
    return csv_path, json_path


def new_figure():
    """``(pyplot, figure, axes)`` of one 5.6 x 4 inch panel (Agg backend, imported here)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(5.6, 4.0), dpi=110)


def save_figure(plt, fig, ax, path, title, xlabel, ylabel) -> Path:
    """Title, labels, grid and legend; write the PNG ``path`` (folder created); close."""
    try:
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def plot_trajectories(trajectories: Mapping[str, Trajectory], path: str | PathLike,
                      component: int = 0, reference: tuple | None = None,
                      title: str = "", ylabel: str = "U") -> Path:
    """Component ``component`` of each trajectory against time (ensemble: the mean).

    ``reference`` is ``(t, values)`` of a reference curve (resolved or averaged solution).
    """
    plt, fig, ax = new_figure()
    for label, tr in trajectories.items():
        U = np.asarray(tr.U, float).reshape(len(tr.t), -1)
        ax.plot(tr.t, U[:, component], "o-", ms=3, label=f"{label} ({tr.micro_steps} micro)")
    if reference is not None:
        ax.plot(reference[0], reference[1], "k-", lw=1, label="reference")
    return save_figure(plt, fig, ax, path, title, "t", ylabel)


def plot_distribution(samples: Any, path: str | PathLike, exact: tuple | None = None,
                      title: str = "", xlabel: str = "value", bins: int = 40) -> Path:
    """Histogram (density) of ensemble samples; ``exact = (x, pdf)`` overlaid."""
    s = np.asarray(samples, float).ravel()
    plt, fig, ax = new_figure()
    ax.hist(s, bins=bins, density=True, alpha=0.6, label=f"{s.size} samples")
    if exact is not None:
        ax.plot(exact[0], exact[1], "k-", lw=1, label="exact")
    return save_figure(plt, fig, ax, path, title, xlabel, "density")


def plot_error(x: Any, errors: Mapping[str, Any], path: str | PathLike, xlabel: str = "",
               ylabel: str = "error", title: str = "", log: bool = True,
               slopes: Sequence[float] = ()) -> Path:
    """Error-versus-parameter curves (log–log by default) with reference slopes."""
    plt, fig, ax = new_figure()
    x = np.asarray(x, float)
    for label, e in errors.items():
        ax.plot(x, np.asarray(e, float), "o-", ms=4, label=label)
    if slopes and errors:
        e0 = np.asarray(next(iter(errors.values())), float)
        for p in slopes:
            ax.plot(x, e0[0] * 0.7 * (x / x[0]) ** p, "k--", lw=0.8, label=f"slope {p:g}")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    return save_figure(plt, fig, ax, path, title, xlabel, ylabel)
