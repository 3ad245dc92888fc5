"""Phase-field models: the mesoscale model whose snapshots become RVE cells.

- :class:`AllenCahn`, :class:`CahnHilliard`: finite elements on scikit-fem meshes
  (P1/P2, triangles, quadrilaterals, tetrahedra, hexahedra), unconditionally energy-stable
  convex splitting, adaptive steps, no-flux or periodic boundaries
  (:mod:`fe2.phasefield.fem`).
- :class:`SpectralAllenCahn`, :class:`SpectralCahnHilliard`: Fourier pseudo-spectral
  solvers on periodic boxes, the fast path and an independent reference
  (:mod:`fe2.phasefield.spectral`).
- Free energies: :func:`double_well`, :func:`polynomial` (PFHub), :func:`free_energy`
  (user callables) (:mod:`fe2.phasefield.energies`).
- :class:`PhaseFieldResult`: times, free energy and mass at every step, saved fields.
- Snapshots -> voxel RVE cells by threshold (:func:`snapshot_cell`) and the effective
  conductivity of a run with Hashin–Shtrikman bounds (:func:`conductivity_history`)
  (:mod:`fe2.phasefield.microstructure`); VTU/PVD series, CSV and PNG curves
  (:mod:`fe2.phasefield.output`).
- Community benchmarks (:mod:`fe2.phasefield.benchmarks`): PFHub 1 (spinodal
  decomposition; published community ``F(t)`` uploads) and PFHub 7 (manufactured-solution
  Allen–Cahn, :func:`~fe2.phasefield.benchmarks.pfhub7_run`).
- Large meshes: ``CahnHilliard(solver="petsc")``, FGMRES with PETSc's Schur fieldsplit
  (:mod:`fe2.phasefield.petsc`); long runs: ``scheme="implicit"`` and ``norm="rms"``.
- Concurrent use: :class:`CoarseningConductor`, an oracle whose points carry evolving
  phase-field RVEs coarsening at a temperature-dependent rate, and
  :func:`coarsening_heat`, a staggered macro heat / micro coarsening run
  (:mod:`fe2.phasefield.concurrent`).

>>> import numpy as np, skfem
>>> mesh = skfem.MeshTri.init_tensor(np.linspace(0, 10, 11), np.linspace(0, 10, 11))
>>> ch = CahnHilliard(mesh, kappa=2.0, mobility=5.0, free_energy=polynomial(5.0, 0.3, 0.7))
>>> res = ch.solve(lambda x: 0.5 + 0.01 * np.cos(0.6 * x[0]), t_end=10.0)
>>> bool(np.all(np.diff(res.energy) <= 0))
True
"""

from fe2.phasefield.concurrent import CoarseningConductor, CoarseningRun, coarsening_heat
from fe2.phasefield.energies import FreeEnergy, double_well, free_energy, polynomial
from fe2.phasefield.fem import AllenCahn, CahnHilliard
from fe2.phasefield.microstructure import (
    ConductivityHistory,
    conductivity_history,
    snapshot_cell,
    snapshot_image,
)
from fe2.phasefield.output import plot_curves, render_snapshot, write_run, write_series
from fe2.phasefield.spectral import SpectralAllenCahn, SpectralCahnHilliard
from fe2.phasefield.stepping import PhaseFieldResult, StepFailed

__all__ = [
    "AllenCahn",
    "CahnHilliard",
    "CoarseningConductor",
    "CoarseningRun",
    "ConductivityHistory",
    "FreeEnergy",
    "PhaseFieldResult",
    "SpectralAllenCahn",
    "SpectralCahnHilliard",
    "StepFailed",
    "coarsening_heat",
    "conductivity_history",
    "double_well",
    "free_energy",
    "plot_curves",
    "polynomial",
    "render_snapshot",
    "snapshot_cell",
    "snapshot_image",
    "write_run",
    "write_series",
]
