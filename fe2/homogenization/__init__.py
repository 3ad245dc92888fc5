"""Continuum homogenization: unit cells, the RVE oracle, FE-HMM, bounds.

- :mod:`fe2.homogenization.cells`: unit-cell generators (laminates, checkerboards,
  inclusions meshed with gmsh, images, user meshes).
- :class:`RVE`: homogenized flux and consistent tangent of a unit cell under KUBC,
  TUBC or periodic conditions (linear and nonlinear phases, small and finite strain,
  mixed stress/strain control). On voxel cells ``method="fft"`` solves the same
  periodic FE problem matrix-free, by conjugate gradients preconditioned with the
  FFT-diagonalised reference medium (:mod:`fe2.homogenization.fft`, FANS);
  :mod:`fe2.homogenization.fft_mpi` distributes it over MPI ranks.
- :class:`HMMSampler`: FE-HMM effective tensor at macro points from micro sampling
  boxes with the fine-scale coefficient.
- :mod:`fe2.homogenization.constraints`: the micro boundary conditions (periodic,
  affine, Neumann/TUBC) and the reduced system pattern, shared by the RVE and FE-HMM.
- :mod:`fe2.homogenization.averages`: volume averages and the Hill–Mandel residual
  (the one computation behind the RVE's ``info["hill_mandel"]`` and
  :func:`fe2.verify.hill_mandel`).
- :mod:`fe2.homogenization.fingerprint` (content hashes of oracles) and
  :mod:`fe2.homogenization.micro_output` (micro fields of a solved cell as VTU).
- Bounds: :func:`voigt_bound`, :func:`reuss_bound`, :func:`hashin_shtrikman`,
  :func:`hashin_shtrikman_elastic`, :func:`isotropic_moduli`.
- :class:`EvaluationCache`: wraps any oracle and answers the points whose input and
  committed state did not change since the last call from memory.

>>> from fe2.materials import LinearConductivity
>>> rve = RVE(cells.checkerboard(4), [LinearConductivity(1.0), LinearConductivity(10.0)])
>>> rve.effective_tensor().shape
(2, 2)
"""

from fe2.homogenization import cells
from fe2.homogenization.bounds import (
    Bounds,
    hashin_shtrikman,
    hashin_shtrikman_elastic,
    isotropic_moduli,
    reuss_bound,
    voigt_bound,
)
from fe2.homogenization.cache import CacheStats, EvaluationCache
from fe2.homogenization.hmm import HMMSampler
from fe2.homogenization.rve import RVE, MicroSolution

__all__ = [
    "RVE",
    "MicroSolution",
    "HMMSampler",
    "EvaluationCache",
    "CacheStats",
    "cells",
    "Bounds",
    "voigt_bound",
    "reuss_bound",
    "hashin_shtrikman",
    "hashin_shtrikman_elastic",
    "isotropic_moduli",
]
