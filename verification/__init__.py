"""Verification studies of fe2: one study per module, each ``run(quick: bool) -> StudyResult``.

The registry :data:`STUDIES` lists them in report order. ``quick=True`` is the
tier run by ``make test`` (seconds per study); ``quick=False`` the full tier of
``fe2 verify`` (finer meshes, more samples). :func:`run_study` runs one study
by name and turns an exception into a failed result; :mod:`verification.report`
writes the HTML / markdown report.

>>> [s.name for s in STUDIES][:2]
['mms_poisson', 'mms_elasticity']
"""

from __future__ import annotations

import importlib
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from verification.core import Check, Plot, Series, StudyResult, Table

__all__ = [
    "Check",
    "Plot",
    "Series",
    "StudyResult",
    "Table",
    "StudySpec",
    "STUDIES",
    "get_study",
    "run_study",
]


@dataclass(frozen=True)
class StudySpec:
    """A registered study: ``verification.<module>.run(quick)``."""

    name: str
    module: str
    title: str

    def function(self) -> Callable[[bool], StudyResult]:
        """The study's ``run`` function (imports the module)."""
        return importlib.import_module(self.module).run


def _spec(name: str, title: str) -> StudySpec:
    return StudySpec(name, f"verification.{name}", title)


STUDIES: list[StudySpec] = [
    _spec("mms_poisson", "MMS: Poisson, P1/P2, 2D/3D"),
    _spec("mms_elasticity", "MMS: linear elasticity, P1/P2, 2D/3D"),
    _spec("mms_finite_strain", "MMS: finite-strain hyperelasticity (neo-Hookean)"),
    _spec("hill_mandel", "Micro: Hill–Mandel condition for every BC and physics"),
    _spec("exact_cells", "Micro: laminate and checkerboard exact values"),
    _spec("bc_ordering", "Micro: KUBC ≥ periodic ≥ TUBC and convergence with RVE size"),
    _spec("sve", "Micro: statistical volume elements (mean and variance vs size)"),
    _spec("hashin_shtrikman", "Micro: Hashin–Shtrikman bounds"),
    _spec("fe2_linear", "FE²: laminate RVEs vs exact laminate tensors and a nonlinear closed form"),
    _spec("fe2_newton", "FE²: quadratic macro Newton convergence with a nonlinear RVE"),
    _spec("fe2_dns", "FE² vs DNS: periodic fibre composite, eps = 1/4 ... 1/32"),
    _spec("dwr", "Solution verification: dual-weighted-residual goal-oriented estimate"),
    _spec("fe_hmm", "FE-HMM: rates and resonance error"),
    StudySpec("gas_shock_tubes", "verification.gas",
              "Gas dynamics: shock tubes and a smooth wave (NT, LF vs exact)"),
    _spec("gas_kinetic_2d", "Gas dynamics: kinetic fluxes and a 2D cylindrical explosion"),
    _spec("gas_md", "Gas dynamics: Lennard-Jones MD fluxes vs published equations of state"),
    _spec("timescales", "Time scales: projective integration, seamless HMM, patch dynamics"),
    _spec("fluids", "Complex fluids: MAC projection, dumbbell stress oracles, seamless coupling"),
    _spec("fmm", "FMM-HMM: oscillating densities vs closed forms, direct sums, eps^2 rate"),
    _spec("kinetics", "Stochastic kinetics: direct and nested SSA vs exact laws, heat shock"),
    _spec("surrogate", "Surrogates: GP flux and tangent vs the exact power-law laminate"),
    _spec("phasefield", "Phase field: PFHub 1, linear stability, fronts and curvature flow"),
    _spec("phasefield_mms", "Phase field: PFHub benchmark 7 (MMS Allen-Cahn), orders in space "
          "and time"),
    _spec("uq", "UQ: random cells within HS, MC/QMC rates, surrogate propagation, Sobol, "
          "multi-fidelity"),
]


def get_study(name: str) -> StudySpec:
    """The registered study called ``name``; ValueError listing the names otherwise."""
    for s in STUDIES:
        if s.name == name:
            return s
    raise ValueError(
        f"unknown verification study {name!r}; known: {', '.join(s.name for s in STUDIES)}"
    )


def run_study(spec: StudySpec, quick: bool) -> StudyResult:
    """Run one study; an exception becomes a result with ``error`` set (never raises).

    An ImportError (a module the study needs is missing) becomes a result with
    ``skipped`` set: reported as SKIPPED, which is not a pass.
    """
    t0 = time.perf_counter()
    quiet = logging.getLogger("fe2.macro")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # no per-step chatter inside studies
    try:
        res = spec.function()(quick)
    except ImportError as err:
        res = StudyResult(spec.name, spec.title, "",
                          skipped=f"import failed: {type(err).__name__}: {err}")
    except Exception:  # noqa: BLE001 - reported in the study's section
        res = StudyResult(spec.name, spec.title, "", error=traceback.format_exc())
    finally:
        quiet.setLevel(level)
    res.seconds = time.perf_counter() - t0
    return res
