"""Near-nullspace vectors (rigid-body modes) for algebraic multigrid. numpy only."""

from __future__ import annotations

import numpy as np

__all__ = ["rigid_body_modes"]


def rigid_body_modes(coords, dofs=None, n_dofs: int | None = None) -> np.ndarray:
    """Rigid-body modes of a vector field, the near-nullspace of elasticity.

    Parameters
    ----------
    coords
        Point coordinates ``(d, n_points)``, ``d`` = 2 or 3 (for a P1 field the
        mesh nodes, ``basis.mesh.p``).
    dofs
        Integer ``(d, n_points)``: ``dofs[c, i]`` is the global dof of component
        ``c`` at point ``i``. For scikit-fem's ``ElementVector`` this is
        ``basis.nodal_dofs`` (dofs interleaved: ``d * i + c``); None assumes that
        interleaved layout. For higher-order elements stack the nodal, edge and
        facet dofs with the matching ``coords`` (``basis.doflocs``).
    n_dofs
        Length of the vectors (default ``dofs.max() + 1``); dofs not listed stay 0.

    Returns
    -------
    numpy.ndarray
        ``(n_dofs, k)`` with ``k`` = 3 in 2D (two translations, one rotation) and
        6 in 3D (three translations, three rotations about the centroid), not
        orthonormalized. Restrict to the free dofs ``I`` of a condensed system
        with ``modes[I]``.

    Examples
    --------
    >>> rigid_body_modes(np.array([[0.0, 1.0], [0.0, 0.0]]))
    array([[ 1. ,  0. ,  0. ],
           [ 0. ,  1. , -0.5],
           [ 1. ,  0. ,  0. ],
           [ 0. ,  1. ,  0.5]])
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] not in (2, 3):
        raise ValueError(f"coords must have shape (d, n_points) with d = 2 or 3, got {x.shape}")
    d, n = x.shape
    if dofs is None:
        dofs = d * np.arange(n)[None, :] + np.arange(d)[:, None]
    dofs = np.asarray(dofs)
    if dofs.shape != (d, n):
        raise ValueError(f"dofs must have shape {(d, n)} to match coords, got {dofs.shape}")
    if n_dofs is None:
        n_dofs = int(dofs.max()) + 1
    x = x - x.mean(axis=1, keepdims=True)  # rotate about the centroid: better conditioned
    k = 3 if d == 2 else 6
    R = np.zeros((n_dofs, k))
    mx = 0.0 - x  # -x without negative zeros
    for c in range(d):
        R[dofs[c], c] = 1.0
    if d == 2:
        R[dofs[0], 2] = mx[1]
        R[dofs[1], 2] = x[0]
    else:
        # rotations about x, y, z: u = e_axis × x
        R[dofs[1], 3] = mx[2]
        R[dofs[2], 3] = x[1]
        R[dofs[2], 4] = mx[0]
        R[dofs[0], 4] = x[2]
        R[dofs[0], 5] = mx[1]
        R[dofs[1], 5] = x[0]
    return R
