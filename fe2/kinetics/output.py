"""Output of SSA ensembles: CSV / JSON files and matplotlib plots.

* :func:`write_result`: ``<name>_final.csv`` (one row per run), ``<name>_paths.csv``
  (long format: run, time, counts; when paths were recorded) and ``<name>.json`` (the
  :meth:`SSAResult.summary`: method, parameters, event counts, means and variances).
* :func:`plot_histogram`: the distribution of one species at ``t_end`` (optionally with
  an exact probability mass function).
* :func:`plot_paths`: recorded trajectories of one species and their ensemble mean.
* :func:`plot_error`: error against a parameter (``T_f``, ``N``, runs) on log axes,
  optionally with a bound.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from fe2.io.records import write_csv
from fe2.timescales.output import new_figure, save_figure

from .ssa import SSAResult

__all__ = ["write_result", "plot_histogram", "plot_paths", "plot_error"]

log = logging.getLogger(__name__)


def _check(result) -> SSAResult:
    if not isinstance(result, SSAResult):
        raise TypeError(f"expected an SSAResult (from ssa or nested_ssa), got "
                        f"{type(result).__name__}")
    return result


def write_result(result: SSAResult, folder: str | PathLike, name: str = "ssa") -> dict:
    """Write the final states, the recorded paths and a JSON summary into ``folder``.

    Returns
    -------
    dict
        ``{"final": path, "paths": path or None, "summary": path}``.
    """
    r = _check(result)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = write_csv(folder / f"{name}_final.csv", ["run", *r.species],
                      ([k, *row.tolist()] for k, row in enumerate(r.final)))
    paths = None
    if r.paths is not None:
        paths = write_csv(folder / f"{name}_paths.csv", ["run", "t", *r.species],
                          ([k, repr(float(t)), *row.tolist()] for k in range(r.runs)
                           for t, row in zip(r.times, r.paths[k], strict=True)))
    summary = folder / f"{name}.json"
    summary.write_text(json.dumps(r.summary(), indent=2))
    log.info("wrote %s, %s%s", final, summary, f", {paths}" if paths else "")
    return {"final": final, "paths": paths, "summary": summary}


def plot_histogram(result: SSAResult, species: str, path: str | PathLike,
                   exact_pmf: np.ndarray | None = None, others: Sequence = (),
                   title: str | None = None) -> Path:
    """Histogram (probability per count) of ``species`` at ``t_end``.

    Parameters
    ----------
    result : SSAResult
        The ensemble.
    species : str
        Species name.
    path : str or PathLike
        The PNG to write.
    exact_pmf : array, shape (k,), optional
        Exact probabilities of the counts 0..k-1, drawn as a line.
    others : sequence of (label, SSAResult)
        Further ensembles drawn on the same axes (e.g. direct vs nested SSA).
    title : str, optional
        Figure title.
    """
    r = _check(result)
    samples = [(label, res.runs, _check(res).column(species))
               for label, res in [(r.method, r), *others]]
    plt, fig, ax = new_figure()
    for label, runs, c in samples:
        counts = np.bincount(c)
        ax.step(np.arange(counts.size), counts / c.size, where="mid",
                label=f"{label} ({runs} runs)")
    if exact_pmf is not None:
        pmf = np.asarray(exact_pmf, float)
        ax.plot(np.arange(pmf.size), pmf, "k.-", ms=3, lw=0.8, label="exact")
    return save_figure(plt, fig, ax, path, title or f"Distribution of {species}",
                       f"{species} at t = {r.t_end:g}", "probability")


def plot_paths(result: SSAResult, species: str, path: str | PathLike, max_runs: int = 20,
               title: str | None = None) -> Path:
    """Recorded trajectories of ``species`` (up to ``max_runs``) and the ensemble mean."""
    r = _check(result)
    if r.paths is None:
        raise ValueError("plot_paths: the result has no recorded paths (run with record=...)")
    j = r.species.index(species) if species in r.species else None
    if j is None:
        raise ValueError(f"plot_paths: unknown species {species!r}; known: "
                         f"{', '.join(r.species)}")
    plt, fig, ax = new_figure()
    for k in range(min(max_runs, r.runs)):
        ax.step(r.times, r.paths[k, :, j], where="post", lw=0.6, alpha=0.5)
    ax.plot(r.times, r.paths[:, :, j].mean(axis=0), "k-", lw=1.6,
            label=f"mean of {r.runs} runs")
    return save_figure(plt, fig, ax, path, title or f"{r.method} SSA: {species}", "t",
                       species)


def plot_error(x: Sequence[float], errors: dict[str, Sequence[float]], path: str | PathLike,
               xlabel: str, ylabel: str = "error", bound: Sequence[float] | None = None,
               title: str = "") -> Path:
    """Error curves against a parameter on log–log axes.

    Parameters
    ----------
    x : sequence, shape (k,)
        Parameter values (``T_f/eps``, ``N``, runs...).
    errors : dict
        Label -> errors, each shape (k,).
    path : str or PathLike
        The PNG to write.
    xlabel, ylabel, title : str
        Axis labels and title.
    bound : sequence, shape (k,), optional
        A bound drawn dotted.
    """
    plt, fig, ax = new_figure()
    for label, e in errors.items():
        ax.loglog(x, e, "o-", ms=4, label=label)
    if bound is not None:
        ax.loglog(x, bound, "k:", label="bound")
    return save_figure(plt, fig, ax, path, title, xlabel, ylabel)
