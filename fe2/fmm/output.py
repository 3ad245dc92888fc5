"""Outputs of FMM-HMM studies: CSV + JSON tables and potentials, a matplotlib plot.

- :func:`write_results`: rows (one per method and ``eps``: sources, seconds, errors) as
  ``{name}.csv`` + ``{name}.json``; with ``targets`` and ``potentials`` also
  ``{name}_potentials.csv`` (``x, y, z`` and one column per potential) in the JSON.
- :func:`plot_error_cost`: error and cost versus ``eps``, one curve per method (PNG).

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"method": "fmm-hmm", "eps": 0.1, "n_sources": 1728, "error": 1e-3}]
>>> paths = write_results(rows, d)
>>> paths[0].read_text().splitlines()
['method,eps,n_sources,error', 'fmm-hmm,0.1,1728,0.001']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from fe2.io.records import write_csv, write_table

__all__ = ["write_results", "plot_error_cost"]

log = logging.getLogger(__name__)


def write_results(rows: Sequence[Mapping[str, Any]], folder: str | PathLike,
                  name: str = "fmm", targets=None,
                  potentials: Mapping[str, np.ndarray] | None = None,
                  meta: Mapping[str, Any] | None = None) -> tuple[Path, ...]:
    """Write ``{name}.csv``, ``{name}.json`` (and ``{name}_potentials.csv``) into ``folder``.

    Parameters
    ----------
    rows : sequence of dicts
        Same keys in every row (the CSV header is the first row's keys).
    folder : path
        Created if missing.
    name : str
        File stem.
    targets : array (3, m), optional
        Target points of ``potentials``.
    potentials : dict name -> array (m,), optional
        Potentials (and errors) at the targets.
    meta : dict, optional
        Parameters stored in the JSON.

    Returns
    -------
    tuple of Path
        The CSV, the JSON and, with potentials, the potentials CSV.
    """
    folder = Path(folder)
    extra: dict[str, Any] = {"meta": dict(meta or {})}
    pot_path = None
    if potentials is not None:
        if targets is None:
            raise ValueError("potentials given without targets (3, m)")
        t = np.asarray(targets, dtype=float)
        if t.ndim != 2 or t.shape[0] != 3:
            raise ValueError(f"targets: expected shape (3, m), got {t.shape}")
        cols = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in potentials.items()}
        for k, v in cols.items():
            if v.shape != (t.shape[1],):
                raise ValueError(f"potentials[{k!r}]: expected shape ({t.shape[1]},), "
                                 f"got {v.shape}")
        extra["targets"] = t
        extra["potentials"] = cols
    csv_path, json_path = write_table(rows, folder, name, extra)
    if potentials is not None:
        pot_path = write_csv(folder / f"{name}_potentials.csv", ["x", "y", "z", *cols],
                             ((*t[:, j], *(c[j] for c in cols.values()))
                              for j in range(t.shape[1])))
        log.info("wrote %s", pot_path)
        return csv_path, json_path, pot_path
    return csv_path, json_path


def plot_error_cost(rows: Sequence[Mapping[str, Any]], path: str | PathLike,
                    error_key: str = "error", cost_key: str = "seconds",
                    title: str = "FMM-HMM: error and cost vs eps") -> Path:
    """Two panels, error and cost versus ``eps`` (log-log), one curve per ``method``.

    Parameters
    ----------
    rows : sequence of dicts
        With keys ``method``, ``eps``, ``error_key`` and ``cost_key``.
    path : path
        PNG file to write.
    error_key, cost_key : str
        Row keys plotted in the left and right panels.
    title : str
        Figure title.

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for i, r in enumerate(rows):
        for k in ("method", "eps", error_key, cost_key):
            if k not in r:
                raise ValueError(f"rows[{i}]: missing key {k!r}")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m in methods:
        sel = sorted((r for r in rows if r["method"] == m), key=lambda r: r["eps"])
        e = [r["eps"] for r in sel]
        for ax, key in zip(axes, (error_key, cost_key), strict=True):
            ax.loglog(e, [max(float(r[key]), 1e-300) for r in sel], "o-", label=m)
    axes[0].set(xlabel="eps", ylabel=error_key, title="error")
    axes[1].set(xlabel="eps", ylabel=cost_key, title="cost")
    for ax in axes:
        ax.invert_xaxis()
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
