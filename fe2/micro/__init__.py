"""Micro oracles: unit-cell (RVE) problems and their building blocks.

- :class:`RVE`: homogenized flux and consistent tangent of a unit cell under
  KUBC, TUBC or periodic conditions (linear and nonlinear phases, small and
  finite strain, mixed stress/strain control).
- :class:`HMMSampler`: FE-HMM effective tensor at macro points from micro
  sampling boxes with the fine-scale coefficient (:mod:`fe2.micro.hmm`).
- :mod:`fe2.micro.cells`: unit-cell generators (laminates, checkerboards,
  inclusions meshed with gmsh, images, user meshes).
- Atomistic: :class:`CauchyBorn` (lattice energy oracle, measure
  ``deformation_gradient``), pair potentials :class:`LennardJones`,
  :class:`Morse`, :class:`HarmonicSpring`, the full atomistic reference
  :class:`AtomisticSystem`, local and cluster quasicontinuum
  :class:`LocalQC`, :class:`ClusterQC`, :func:`adaptive_qc`.
- :class:`EvaluationCache`: wraps any oracle and answers the points whose
  input and committed state did not change since the last call from memory.
- Bounds: :func:`voigt_bound`, :func:`reuss_bound`, :func:`hashin_shtrikman`,
  :func:`hashin_shtrikman_elastic`, :func:`isotropic_moduli`.

>>> from fe2.materials import LinearConductivity
>>> rve = RVE(cells.checkerboard(4), [LinearConductivity(1.0), LinearConductivity(10.0)])
>>> rve.effective_tensor().shape
(2, 2)
"""

from fe2.micro import cells
from fe2.micro.atomistic import AtomisticSystem
from fe2.micro.bounds import (
    Bounds,
    hashin_shtrikman,
    hashin_shtrikman_elastic,
    isotropic_moduli,
    reuss_bound,
    voigt_bound,
)
from fe2.micro.cache import CacheStats, EvaluationCache
from fe2.micro.hmm import HMMSampler
from fe2.micro.lattice import LATTICES, CauchyBorn, Crystal, Lattice, get_lattice
from fe2.micro.potentials import HarmonicSpring, LennardJones, Morse
from fe2.micro.qc import ClusterQC, LocalQC, adaptive_qc
from fe2.micro.rve import RVE, MicroSolution

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
    "CauchyBorn",
    "LennardJones",
    "Morse",
    "HarmonicSpring",
    "LATTICES",
    "Lattice",
    "Crystal",
    "get_lattice",
    "AtomisticSystem",
    "LocalQC",
    "ClusterQC",
    "adaptive_qc",
]
