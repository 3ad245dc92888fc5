"""Result records of the verification studies: checks, tables, plots.

A study is a function ``run(quick: bool) -> StudyResult``. It computes, states
its expectations as :class:`Check` records (expected value or rate, observed
value, pass/fail) and describes its plots as :class:`Plot` specifications;
the report writer (:mod:`verification.report`) renders them with matplotlib.
Studies never write files themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Check", "Series", "Plot", "Table", "StudyResult"]


def fmt(v: Any, digits: int = 4) -> str:
    """Compact text for a number, an array or a string."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        v = float(v)
        if v == 0.0 or not math.isfinite(v):
            return str(v)
        if 1e-3 <= abs(v) < 1e4:
            return f"{v:.{digits}g}"
        return f"{v:.{max(digits - 1, 1)}e}"
    if isinstance(v, list | tuple | np.ndarray):
        return "[" + ", ".join(fmt(x, digits) for x in np.ravel(v)) + "]"
    return str(v)


@dataclass(frozen=True)
class Check:
    """One stated expectation and what was observed.

    Attributes
    ----------
    name : str
        What is checked (one line).
    expected : str
        The expected value, rate or inequality, as text.
    observed : str
        The observed value, as text.
    passed : bool
    value : float
        The observed number (NaN when not a single number).
    """

    name: str
    expected: str
    observed: str
    passed: bool
    value: float = float("nan")

    @classmethod
    def near(cls, name: str, observed: float, expected: float, tol: float) -> Check:
        """``|observed - expected| <= tol`` (rates, exponents)."""
        ok = bool(math.isfinite(observed) and abs(observed - expected) <= tol)
        return cls(name, f"{fmt(expected)} ± {fmt(tol)}", fmt(observed), ok, float(observed))

    @classmethod
    def at_most(cls, name: str, observed: float, limit: float) -> Check:
        """``observed <= limit`` (residuals, relative errors)."""
        ok = bool(math.isfinite(observed) and observed <= limit)
        return cls(name, f"<= {fmt(limit)}", fmt(observed), ok, float(observed))

    @classmethod
    def at_least(cls, name: str, observed: float, limit: float) -> Check:
        """``observed >= limit``."""
        ok = bool(math.isfinite(observed) and observed >= limit)
        return cls(name, f">= {fmt(limit)}", fmt(observed), ok, float(observed))

    @classmethod
    def within(cls, name: str, observed: float, lo: float, hi: float) -> Check:
        """``lo <= observed <= hi`` (effectivity indices, bounds)."""
        ok = bool(math.isfinite(observed) and lo <= observed <= hi)
        return cls(name, f"in [{fmt(lo)}, {fmt(hi)}]", fmt(observed), ok, float(observed))

    @classmethod
    def holds(cls, name: str, ok: bool, expected: str, observed: str) -> Check:
        """A condition stated in words (orderings, counts)."""
        return cls(name, expected, observed, bool(ok))

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        v = self.value if math.isfinite(self.value) else None
        return {"name": self.name, "expected": self.expected, "observed": self.observed,
                "passed": self.passed, "value": v}


@dataclass(frozen=True)
class Series:
    """One curve of a plot: ``y`` against ``x`` (equal lengths)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    style: str = "o-"
    yerr: Sequence[float] | None = None


@dataclass(frozen=True)
class Plot:
    """A matplotlib figure described by data.

    Attributes
    ----------
    name : str
        File stem of the PNG (unique within the study).
    title, xlabel, ylabel : str
    series : list of Series
    xscale, yscale : {"linear", "log"}
    slopes : list of (float, str) or (float, str, int)
        Reference slopes drawn as dashed lines just below the smallest-``x``
        point of a series (log–log plots): ``(slope, label[, series index])``,
        the first series by default.
    hlines : list of (float, str)
        Horizontal reference lines ``(y, label)`` (bounds, exact values).
    band : (float, float), optional
        Shaded horizontal band ``(lo, hi)`` (an accepted interval).
    """

    name: str
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    xscale: str = "log"
    yscale: str = "log"
    slopes: list[tuple] = field(default_factory=list)
    hlines: list[tuple[float, str]] = field(default_factory=list)
    band: tuple[float, float] | None = None

    def render(self, path: str | Path) -> Path:
        """Draw the figure and save it as a PNG at ``path``."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.6, 4.0), dpi=110)
        try:
            for s in self.series:
                x, y = np.asarray(s.x, float), np.asarray(s.y, float)
                if s.yerr is not None:
                    ax.errorbar(x, y, yerr=np.asarray(s.yerr, float), fmt=s.style,
                                label=s.label, capsize=3, ms=4)
                else:
                    ax.plot(x, y, s.style, label=s.label, ms=4)
            for ref in self.slopes:
                slope, label = ref[0], ref[1]
                k = ref[2] if len(ref) > 2 else 0
                if not self.series:
                    break
                x0 = np.asarray(self.series[k].x, float)
                y0 = np.asarray(self.series[k].y, float)
                xs = np.array([x0.min(), x0.max()])
                i = int(np.argmin(x0))
                ys = y0[i] * 0.7 * (xs / x0[i]) ** slope
                ax.plot(xs, ys, "k--", lw=0.9, alpha=0.7, label=label)
            for y, label in self.hlines:
                ax.axhline(y, ls=":", lw=1.0, color="0.3")
                ax.annotate(label, (0.01, y), xycoords=("axes fraction", "data"), fontsize=7,
                            va="bottom", color="0.2")
            if self.band is not None:
                ax.axhspan(*self.band, color="tab:green", alpha=0.12, label="accepted")
            ax.set_xscale(self.xscale)
            ax.set_yscale(self.yscale)
            if self.xscale == "log":
                from matplotlib.ticker import NullFormatter

                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(self.xlabel)
            ax.set_ylabel(self.ylabel)
            ax.set_title(self.title, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            path = Path(path)
            fig.savefig(path)
        finally:
            plt.close(fig)
        return path


@dataclass
class Table:
    """Rows of a result table with named columns."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def add(self, *row: Any) -> None:
        """Append a row (one value per column)."""
        if len(row) != len(self.columns):
            raise ValueError(f"table row has {len(row)} values, expected {len(self.columns)}")
        self.rows.append(list(row))

    def text_rows(self) -> list[list[str]]:
        """Rows formatted as text."""
        return [[fmt(v) for v in r] for r in self.rows]


@dataclass
class StudyResult:
    """Outcome of one study.

    Attributes
    ----------
    name : str
        Registry name (file stem).
    title : str
        Section heading.
    description : str
        What is checked and why (markdown paragraph).
    checks : list of Check
    tables : list of (str, Table)
        Captioned result tables.
    plots : list of Plot
    seconds : float
        Wall time of the study.
    skipped : str, optional
        Reason the study did not run. A skipped study has not passed: the
        report shows it as SKIPPED and ``fe2 verify`` exits non-zero.
    error : str, optional
        Traceback of an exception raised by the study (counts as failed).
    plot_files : list of str
        PNG file names, filled in by the report writer.
    """

    name: str
    title: str
    description: str
    checks: list[Check] = field(default_factory=list)
    tables: list[tuple[str, Table]] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None
    error: str | None = None
    plot_files: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Ran without error and every check passed (a skipped study has not passed)."""
        if self.error is not None or self.skipped is not None:
            return False
        return all(c.passed for c in self.checks)

    @property
    def status(self) -> str:
        """``"pass"``, ``"fail"``, ``"error"`` or ``"skipped"``."""
        if self.error is not None:
            return "error"
        if self.skipped is not None:
            return "skipped"
        return "pass" if self.passed else "fail"

    def check(self, c: Check) -> Check:
        """Record a check and return it."""
        self.checks.append(c)
        return c

    def failures(self) -> list[Check]:
        """The failed checks."""
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        """JSON-ready summary (no plot data)."""
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "error": self.error,
            "checks": [c.to_dict() for c in self.checks],
            "tables": [
                {"caption": cap, "columns": t.columns, "rows": t.text_rows()}
                for cap, t in self.tables
            ],
            "plots": list(self.plot_files),
        }
