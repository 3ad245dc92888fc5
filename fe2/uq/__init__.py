"""Uncertainty quantification of homogenized properties, and multi-fidelity models.

- :mod:`fe2.uq.microstructure`: random two-phase voxel cells (level cuts of periodic
  Gaussian fields with exact volume fraction) and :class:`RandomConductivityCell`, the map
  ``(volume fraction, correlation length, inclusion conductivity; seed) -> K_eff (d, d)``.
- :mod:`fe2.uq.montecarlo`: :func:`monte_carlo` (plain Monte Carlo or randomized Sobol /
  Halton over random inputs, through any executor, with a progress bar) giving the mean,
  covariance, standard error and confidence intervals of a tensor output
  (:class:`TensorStatistics`); :func:`convergence_study` and :func:`fit_rate` for the
  error against the number of samples.

Random inputs are ``{name: frozen scipy.stats distribution}``; a model is a picklable
``model(params: dict, seed: int) -> ndarray``.
"""

from .microstructure import PARAMETERS, RandomConductivityCell, random_two_phase_image
from .montecarlo import (
    METHODS,
    Convergence,
    TensorStatistics,
    check_inputs,
    convergence_study,
    evaluate_model,
    fit_rate,
    monte_carlo,
    sample_inputs,
    sample_seeds,
)

__all__ = [
    "METHODS",
    "PARAMETERS",
    "Convergence",
    "RandomConductivityCell",
    "TensorStatistics",
    "check_inputs",
    "convergence_study",
    "evaluate_model",
    "fit_rate",
    "monte_carlo",
    "random_two_phase_image",
    "sample_inputs",
    "sample_seeds",
]
