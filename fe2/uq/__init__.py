"""Uncertainty quantification of homogenized properties, and multi-fidelity models.

- :mod:`fe2.uq.microstructure`: random two-phase voxel cells (level cuts of periodic
  Gaussian fields with exact volume fraction) and :class:`RandomConductivityCell`, the map
  ``(volume fraction, correlation length, inclusion conductivity; seed) -> K_eff (d, d)``.
- :mod:`fe2.uq.montecarlo`: :func:`monte_carlo` (plain Monte Carlo or randomized Sobol /
  Halton over random inputs, through any executor, with a progress bar) giving the mean,
  covariance, standard error and confidence intervals of a tensor output
  (:class:`TensorStatistics`); :func:`convergence_study` and :func:`fit_rate` for the
  error against the number of samples.
- :mod:`fe2.uq.propagation`: :class:`TensorSurrogate`, GPs of a tensor versus microstructure
  parameters fitted on a Sobol design and checked against held-out direct solves, pushed
  through a macro quantity of interest (:func:`layered_bar_flux`).
- :mod:`fe2.uq.sensitivity`: first-order and total Sobol indices
  (:func:`sobol_indices`, through :func:`scipy.stats.sobol_indices`).
- :mod:`fe2.uq.multifidelity`: :class:`TwoLevelGP`, the autoregressive Kennedy–O'Hagan
  model ``f_fine = rho f_coarse + delta`` (many coarse solves, few fine ones).
- :mod:`fe2.uq.reference`: Ishigami (analytic Sobol indices) and the Forrester
  two-fidelity pair.

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
from .multifidelity import TwoLevelGP
from .propagation import SurrogateValidation, TensorSurrogate, layered_bar_flux
from .sensitivity import SobolIndices, sobol_indices

__all__ = [
    "METHODS",
    "PARAMETERS",
    "Convergence",
    "RandomConductivityCell",
    "SobolIndices",
    "SurrogateValidation",
    "TensorStatistics",
    "TensorSurrogate",
    "TwoLevelGP",
    "check_inputs",
    "convergence_study",
    "evaluate_model",
    "fit_rate",
    "layered_bar_flux",
    "monte_carlo",
    "random_two_phase_image",
    "sample_inputs",
    "sample_seeds",
    "sobol_indices",
]
