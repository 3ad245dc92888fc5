"""Phase-field snapshots as RVE cells, and effective properties along a run.

A snapshot (finite-element dof values or spectral grid values) is sampled at voxel centres
and thresholded into a two-phase voxel image (phase 1 where ``phi > threshold``), a
:class:`fe2.homogenization.cells.Cell`; :func:`conductivity_history` homogenizes the
saved snapshots of a run (periodic RVE, FFT-accelerated solver on the voxel grid) and
returns the effective conductivity with the volume fractions and Hashin–Shtrikman bounds.

>>> import numpy as np
>>> from fe2.phasefield import SpectralCahnHilliard
>>> ch = SpectralCahnHilliard((16, 16), 16.0, kappa=2.0, mobility=5.0)
>>> cell = snapshot_cell(ch, 0.5 + 0.2 * np.cos(2 * np.pi * ch.points[0] / 16).ravel())
>>> cell.image.shape, float(cell.volume_fractions()[1]) * 16  # cos > 0 at 7 of 16 columns
((16, 16), 7.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fe2.homogenization import RVE, hashin_shtrikman
from fe2.homogenization.cells import Cell, from_image
from fe2.materials import LinearConductivity

__all__ = ["ConductivityHistory", "snapshot_image", "snapshot_cell", "conductivity_history"]


def snapshot_image(solver: Any, field: np.ndarray, shape: Sequence[int] | None = None
                   ) -> tuple[np.ndarray, tuple[float, ...], np.ndarray]:
    """Field values at voxel centres: ``(values (*shape), size, origin)``.

    ``solver`` is a finite-element solver (values by the basis's point probes at the voxel
    centres of the mesh's bounding box, ``shape`` required) or a spectral one (its grid
    values, ``shape`` must be None or the grid shape).
    """
    field = np.asarray(field, dtype=float)
    if hasattr(solver, "basis"):
        if shape is None:
            raise ValueError("snapshot_image: a finite-element snapshot needs a voxel shape")
        p = np.asarray(solver.mesh.p)
        lo, hi = p.min(axis=1), p.max(axis=1)
        shp = tuple(int(n) for n in shape)
        if len(shp) != lo.size or any(n < 1 for n in shp):
            raise ValueError(f"snapshot_image: shape must be {lo.size} integers >= 1, "
                             f"got {shape!r}")
        h = (hi - lo) / np.asarray(shp)
        axes = [lo[a] + h[a] * (np.arange(shp[a]) + 0.5) for a in range(lo.size)]
        pts = np.asarray(np.meshgrid(*axes, indexing="ij")).reshape(lo.size, -1)
        if field.shape != (solver.basis.N,):
            raise ValueError(f"snapshot_image: field must have shape ({solver.basis.N},), "
                             f"got {field.shape}")
        values = (solver.basis.probes(pts) @ field).reshape(shp)
        return values, tuple(float(v) for v in hi - lo), lo
    grid = tuple(solver.shape)
    if shape is not None and tuple(int(n) for n in shape) != grid:
        raise ValueError(f"snapshot_image: a spectral snapshot has the grid shape {grid}, "
                         f"got shape {tuple(shape)}")
    if field.size != int(np.prod(grid)):
        raise ValueError(f"snapshot_image: field must have {int(np.prod(grid))} values, "
                         f"got {field.size}")
    # grid point i sits at origin + i h: the voxel [i h - h/2, i h + h/2] (periodic box)
    return field.reshape(grid), tuple(solver.size), np.asarray(solver.origin) - solver.h / 2


def snapshot_cell(solver: Any, field: np.ndarray, shape: Sequence[int] | None = None,
                  threshold: float | None = None) -> Cell:
    """A two-phase voxel cell: phase 1 where the snapshot exceeds ``threshold``.

    ``threshold`` defaults to the middle of the free energy's wells (``(ca + cb)/2`` of
    :func:`~fe2.phasefield.energies.polynomial`, 0 for the double well), taken as the
    midpoint of its ``sample`` range.
    """
    values, size, origin = snapshot_image(solver, field, shape)
    if threshold is None:
        lo, hi = solver.free_energy.sample
        threshold = 0.5 * (lo + hi)
    img = (values > float(threshold)).astype(np.int64)
    return from_image(img, size=size, origin=tuple(float(o) for o in origin))


@dataclass(frozen=True)
class ConductivityHistory:
    """Effective conductivity of the snapshots of a run.

    Attributes
    ----------
    times : ndarray (k,)
    tensor : ndarray (k, d, d)
        Periodic effective conductivity of each thresholded snapshot.
    fraction : ndarray (k,)
        Volume fraction of phase 1.
    lower, upper : ndarray (k,)
        Hashin–Shtrikman bounds at that fraction.
    """

    times: np.ndarray
    tensor: np.ndarray
    fraction: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def conductivity_history(solver: Any, result: Any, conductivities: Sequence[float],
                         shape: Sequence[int] | None = None, threshold: float | None = None,
                         ) -> ConductivityHistory:
    """Effective conductivity ``(k, d, d)`` of every saved snapshot of ``result``.

    Parameters
    ----------
    solver
        The solver that made ``result`` (finite-element or spectral).
    result : PhaseFieldResult
        The run; its saved fields are homogenized.
    conductivities : (float, float)
        Conductivity of phase 0 (``phi <= threshold``) and phase 1.
    shape, threshold
        As :func:`snapshot_cell`.
    """
    k = [float(v) for v in conductivities]
    if len(k) != 2 or min(k) <= 0:
        raise ValueError(f"conductivity_history: need two conductivities > 0, got "
                         f"{conductivities!r}")
    tensors, fractions, lo, hi = [], [], [], []
    for field in result.saved:
        cell = snapshot_cell(solver, field, shape, threshold)
        d = cell.dim
        f1 = float(np.mean(cell.image))
        if 0.0 < f1 < 1.0:
            rve = RVE(cell, [LinearConductivity(k[0], dim=d), LinearConductivity(k[1], dim=d)],
                      method="fft")
            tensors.append(rve.effective_tensor())
        else:
            tensors.append(k[int(round(f1))] * np.eye(d))
        b = hashin_shtrikman(k, [1 - f1, f1], d)
        fractions.append(f1)
        lo.append(b.lower)
        hi.append(b.upper)
    return ConductivityHistory(np.asarray(result.saved_times), np.asarray(tensors),
                               np.asarray(fractions), np.asarray(lo), np.asarray(hi))
