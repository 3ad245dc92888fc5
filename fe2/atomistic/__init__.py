"""Atomistic micro models: pair potentials, Cauchy–Born lattices, atomistic systems, QC.

- :mod:`fe2.atomistic.potentials`: :class:`LennardJones`, :class:`Morse`,
  :class:`HarmonicSpring` (numba kernels in :mod:`fe2.atomistic.kernels`).
- :mod:`fe2.atomistic.lattice`: Bravais and multilattices (:data:`LATTICES`,
  :class:`Crystal`) and :class:`CauchyBorn`, the lattice energy oracle (measure
  ``deformation_gradient``).
- :mod:`fe2.atomistic.neighbours`: neighbour lists in periodic boxes.
- :mod:`fe2.atomistic.system`: :class:`AtomisticSystem`, the full atomistic reference
  (energy, forces, sparse Hessian, relaxation by SciPy's trust-region Newton).
- :mod:`fe2.atomistic.qc`: local and cluster quasicontinuum (:class:`LocalQC`,
  :class:`ClusterQC`, :func:`adaptive_qc`).

>>> cb = CauchyBorn("fcc", LennardJones(1.0, 1.0, cutoff=2.5))
>>> round(float(cb.lattice_constant), 4)
1.5496
"""

from fe2.atomistic.lattice import LATTICES, CauchyBorn, Crystal, Lattice, get_lattice
from fe2.atomistic.potentials import HarmonicSpring, LennardJones, Morse
from fe2.atomistic.qc import ClusterQC, LocalQC, adaptive_qc
from fe2.atomistic.system import AtomisticSystem

__all__ = [
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
