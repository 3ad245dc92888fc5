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

Not covered: history-dependent micro models (refused), neural models.
"""

from .adaptive import AdaptiveSurrogate, sample_box
from .gp import KERNELS, GaussianProcess, GPPrediction
from .reference import SeriesLaminate, series_power_law
from .spec import surrogate_from_dict

__all__ = [
    "KERNELS",
    "AdaptiveSurrogate",
    "GaussianProcess",
    "GPPrediction",
    "SeriesLaminate",
    "sample_box",
    "series_power_law",
    "surrogate_from_dict",
]
