"""Learned micro oracles that know when they do not know.

- :class:`GaussianProcess`: shared-kernel multi-output GP regression in numpy/SciPy
  (Matérn 5/2 or RBF with ARD length scales, hyperparameters by marginal likelihood),
  predictive mean, std and the analytic gradient of the mean.
- :class:`AdaptiveSurrogate`: an oracle that answers from the GP where its relative
  predictive std is below ``tol`` and asks the wrapped (history-free) oracle elsewhere,
  learning from the answers; ``fit`` for offline designs, ``save``/``load``.
- :func:`sample_box`: Sobol or Latin-hypercube designs over a box of inputs.
- :class:`SeriesLaminate`, :func:`series_power_law`: a power-law laminate micro model
  and its exact effective law (the verification reference).
- :func:`surrogate_from_dict`: the ``type = "AdaptiveSurrogate"`` table of case files.
- :class:`EnergyEnsemble`: a deep ensemble of neural energies of frame-indifferent
  inputs (PyTorch, optional extra ``fe2[torch]``): flux and symmetric tangent as the
  first and second derivatives of one scalar, spread across members as uncertainty.
- :func:`pinn_conductivity`: effective conductivity of a periodic scalar cell by a
  physics-informed (deep Ritz) network with periodic Fourier features (PyTorch).

Not covered: history-dependent micro models (refused).
"""

from .adaptive import AdaptiveSurrogate, sample_box
from .gp import KERNELS, GaussianProcess, GPPrediction
from .neural import EnergyEnsemble
from .pinn import PINNResult, pinn_conductivity
from .reference import SeriesLaminate, series_power_law
from .spec import surrogate_from_dict

__all__ = [
    "KERNELS",
    "AdaptiveSurrogate",
    "EnergyEnsemble",
    "GaussianProcess",
    "GPPrediction",
    "PINNResult",
    "SeriesLaminate",
    "pinn_conductivity",
    "sample_box",
    "series_power_law",
    "surrogate_from_dict",
]
