"""FMM-HMM: potentials of densities that oscillate on a fine scale.

``phi(x) = integral q(y, y/eps) / |x - y| dy`` in 3D (kernel ``1/r``), ``q`` 1-periodic in
its second argument. Resolving the fast scale costs ``O(eps^-3)`` sources; FMM-HMM feeds a
fast multipole method (fmm3dpy) with a macro quadrature whose charges carry the density
averaged over the fast variable, so its cost does not depend on ``eps``. The
homogenization error is ``O(eps^2)`` where the density oscillates (the local corrector
``eps^2 phi_2(x, x/eps)``; the ``eps^1`` term vanishes) and smaller than any power of
``eps`` where the density is smooth and zero.

- :class:`OscillatingDensity`: ``q``, ``eps``, the box; ``resolved`` and ``averaged``
  (estimators ``"cell"`` and ``"kernel"``).
- :func:`fmm_hmm_potential`, :func:`resolved_potential`, :func:`direct_potential`:
  the three evaluations, each a :class:`PotentialResult` (potential, sources, time).
- :func:`laplace_sum`: the ``1/r`` sum by FMM or directly; :func:`tensor_gauss`: the
  quadrature.
- References: :func:`gaussian_potential`, :func:`gaussian_wave_potential`,
  :class:`ModulatedGaussian` (exact potentials of the averaged and the resolved density).
- Outputs: :func:`write_results` (CSV + JSON), :func:`plot_error_cost` (matplotlib).
"""

from .density import Estimator, OscillatingDensity
from .output import plot_error_cost, write_results
from .potential import (
    PotentialResult,
    direct_potential,
    fmm_hmm_potential,
    laplace_sum,
    resolved_potential,
)
from .quadrature import tensor_gauss
from .reference import ModulatedGaussian, gaussian_potential, gaussian_wave_potential

__all__ = [
    "OscillatingDensity",
    "Estimator",
    "PotentialResult",
    "fmm_hmm_potential",
    "resolved_potential",
    "direct_potential",
    "laplace_sum",
    "tensor_gauss",
    "gaussian_potential",
    "gaussian_wave_potential",
    "ModulatedGaussian",
    "write_results",
    "plot_error_cost",
]
