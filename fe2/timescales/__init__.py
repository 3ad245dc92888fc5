"""Coarse time steppers for micro models with fast time scales.

When the fast scale is in time, the macro solver is a time stepper whose missing data
(a slope, an effective force) come from short bursts of the micro model.

- :class:`CoarseStepper`: lift (macro → micro), evolve (micro steps), restrict
  (micro → macro) for micro models given as ODE right-hand sides (:class:`ODEModel`),
  SDEs (:class:`SDEModel`, Euler–Maruyama, seeded) or any object with the
  :class:`MicroModel` stepping protocol.
- Projective integration (Gear–Kevrekidis): :func:`projective_euler`,
  :func:`projective_ab2`, the amplification factor, step choice from the spectral gap
  (:func:`choose_steps`, :func:`estimate_spectrum`).
- Seamless HMM (E–Ren–Vanden-Eijnden, :func:`seamless`): the micro state is never
  re-initialised and the macro state moves by ``Dt / M`` per micro step; and HMM with
  re-initialisation (:func:`hmm`) for comparison.
- Patch dynamics (gap-tooth + projective step, :func:`patch_dynamics`) for 1D diffusion
  with a rapidly oscillating coefficient; :func:`harmonic_mean` is its homogenized
  coefficient.
- Outputs (:mod:`fe2.timescales.output`): trajectories and ensemble statistics as CSV +
  JSON, tables of studies, matplotlib plots of trajectories, distributions and
  error-versus-parameter curves.
"""

from .models import (
    CoarseStepper,
    MicroModel,
    ODEModel,
    SDEModel,
    Trajectory,
    as_model,
)
from .output import (
    plot_distribution,
    plot_error,
    plot_trajectories,
    write_table,
    write_trajectory,
)
from .patch import harmonic_mean, patch_dynamics
from .projective import (
    StepChoice,
    amplification_factor,
    choose_steps,
    estimate_spectrum,
    projective_ab2,
    projective_euler,
    projective_integrate,
)
from .seamless import boosted_eps, hmm, seamless

__all__ = [
    "MicroModel",
    "ODEModel",
    "SDEModel",
    "as_model",
    "CoarseStepper",
    "Trajectory",
    "amplification_factor",
    "projective_integrate",
    "projective_euler",
    "projective_ab2",
    "estimate_spectrum",
    "choose_steps",
    "StepChoice",
    "seamless",
    "hmm",
    "boosted_eps",
    "patch_dynamics",
    "harmonic_mean",
    "write_trajectory",
    "write_table",
    "plot_trajectories",
    "plot_distribution",
    "plot_error",
]
