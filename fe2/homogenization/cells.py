"""Unit cells for RVE problems: voxel images and tagged meshes in a rectangular box.

A :class:`Cell` is a box ``origin + [0, size_0] x [0, size_1] (x [0, size_2])``
filled with phases numbered ``0, 1, ...``. It holds either

* a voxel image: an int array ``(n_0, n_1[, n_2])`` of phase ids, voxel
  ``[i, j, k]`` covering ``origin + ([i, i+1] h_0, [j, j+1] h_1, ...)`` with
  ``h_a = size_a / n_a`` (meshed by :meth:`Cell.to_mesh` as quadrilaterals or
  hexahedra), or
* a linear scikit-fem mesh of the box with one phase id per element (curved
  interfaces meshed conformingly by gmsh, opposite boundary nodes matching so
  that periodic conditions apply).

Generators:

======================================  =============================================
:func:`laminate`                        layers normal to an axis (aligned tensor mesh)
:func:`checkerboard`                    voxel checkerboard, ``n`` voxels per square
:func:`circular_inclusion`              one disk / sphere in the middle of the box (gmsh)
:func:`inclusions`                      any disks / spheres, wrapped periodically (gmsh)
:func:`random_inclusions`               non-overlapping equal disks / spheres (gmsh)
:func:`from_image`                      user voxel data
:func:`from_mesh`                       user mesh file or scikit-fem mesh
======================================  =============================================

>>> cell = checkerboard(2)
>>> cell.image.shape, cell.size, cell.volume_fractions().tolist()
((4, 4), (1.0, 1.0), [0.5, 0.5])

gmsh is imported only inside the functions that mesh.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

import numpy as np
import skfem

__all__ = [
    "Cell",
    "laminate",
    "checkerboard",
    "circular_inclusion",
    "inclusions",
    "random_inclusions",
    "from_image",
    "from_mesh",
]

log = logging.getLogger(__name__)

_MESHES = (skfem.MeshTri1, skfem.MeshQuad1, skfem.MeshTet1, skfem.MeshHex1)


def _box(size: float | Sequence[float], dim: int, what: str = "size") -> tuple[float, ...]:
    """``size`` as a tuple of ``dim`` positive floats."""
    arr = np.atleast_1d(np.asarray(size, dtype=float))
    if arr.ndim != 1 or arr.size not in (1, dim):
        raise ValueError(f"{what} must be a number or {dim} numbers, got {size!r}")
    if arr.size == 1:
        arr = np.full(dim, float(arr[0]))
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) and what != "origin":
        raise ValueError(f"{what} must be finite and positive, got {size!r}")
    return tuple(float(v) for v in arr)


def _dim(dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or int(dim) not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return int(dim)


@dataclass(frozen=True, eq=False)
class Cell:
    """A rectangular unit cell filled with numbered phases.

    Parameters
    ----------
    size : tuple of float
        Box edge lengths ``(L_0, L_1[, L_2])``.
    origin : tuple of float, optional
        Lower corner of the box (default zeros).
    image : ndarray of int, optional
        Voxel phase ids ``(n_0, n_1[, n_2])`` (axis ``a`` along ``x_a``).
    mesh : skfem.Mesh, optional
        Linear mesh (``MeshTri1``, ``MeshQuad1``, ``MeshTet1``, ``MeshHex1``)
        filling the box exactly (no holes: mesh voids as a soft phase).
    phase : ndarray of int, optional
        Phase id of every mesh element ``(n_elements,)``; default all 0.
    description : str
        What the cell is (for messages and output).
    exact_fraction : float, optional
        Volume fraction of phase 1 in the exact (curved) geometry, set by the
        inclusion generators; ``volume_fractions()[1]`` is the meshed one,
        which the generators check against it (see :func:`inclusions`).

    Exactly one of ``image`` and ``mesh`` is given.
    """

    size: tuple[float, ...]
    origin: tuple[float, ...] | None = None
    image: np.ndarray | None = None
    mesh: skfem.Mesh | None = None
    phase: np.ndarray | None = None
    description: str = ""
    exact_fraction: float | None = None

    def __post_init__(self) -> None:
        if (self.image is None) == (self.mesh is None):
            raise ValueError("Cell needs exactly one of image (voxel phase ids) or mesh")
        if self.image is not None:
            img = np.asarray(self.image)
            if img.ndim not in (2, 3):
                raise ValueError(f"Cell image must be a 2D or 3D array, got shape {img.shape}")
            if not np.issubdtype(img.dtype, np.integer):
                if not np.all(np.mod(img, 1) == 0):
                    raise ValueError(
                        f"Cell image must hold integer phase ids, got dtype {img.dtype}"
                    )
            img = img.astype(np.int64)
            if img.size == 0 or img.min() < 0:
                raise ValueError(
                    f"Cell image must hold phase ids >= 0, got minimum "
                    f"{img.min() if img.size else 'of an empty array'}"
                )
            object.__setattr__(self, "image", img)
            dim = img.ndim
        else:
            if not isinstance(self.mesh, _MESHES):
                raise ValueError(
                    "Cell mesh must be a linear scikit-fem MeshTri1, MeshQuad1, MeshTet1 or "
                    f"MeshHex1, got {type(self.mesh).__name__}"
                )
            dim = self.mesh.dim()
            nel = self.mesh.t.shape[1]
            ph = np.zeros(nel, dtype=np.int64) if self.phase is None else np.asarray(self.phase)
            if ph.shape != (nel,):
                raise ValueError(
                    f"Cell phase must have one id per mesh element, shape ({nel},), got {ph.shape}"
                )
            if ph.min() < 0:
                raise ValueError(f"Cell phase ids must be >= 0, got {int(ph.min())}")
            object.__setattr__(self, "phase", ph.astype(np.int64))
        object.__setattr__(self, "size", _box(self.size, dim))
        origin = (0.0,) * dim if self.origin is None else self.origin
        object.__setattr__(self, "origin", _box(origin, dim, "origin"))
        if self.mesh is not None:
            self._check_mesh_box()

    def _check_mesh_box(self) -> None:
        p = np.asarray(self.mesh.p)
        lo = np.asarray(self.origin)
        hi = lo + np.asarray(self.size)
        tol = 1e-8 * max(self.size)
        if np.any(p.min(axis=1) < lo - tol) or np.any(p.max(axis=1) > hi + tol) or np.any(
            np.abs(p.min(axis=1) - lo) > tol
        ) or np.any(np.abs(p.max(axis=1) - hi) > tol):
            raise ValueError(
                f"Cell mesh spans {p.min(axis=1).tolist()} .. {p.max(axis=1).tolist()}, "
                f"expected the box {lo.tolist()} .. {hi.tolist()}"
            )
        vol = float(np.sum(_element_volumes(self.mesh)))
        if abs(vol - self.volume) > 1e-8 * self.volume:
            raise ValueError(
                f"Cell mesh covers volume {vol:.10g} of the box volume {self.volume:.10g}; "
                "the mesh must fill the box (mesh voids as a soft phase)"
            )

    def __repr__(self) -> str:
        if self.image is not None:
            what = f"image={self.image.shape}"
        else:
            what = f"mesh={type(self.mesh).__name__}({self.mesh.t.shape[1]} elements)"
        desc = f", {self.description!r}" if self.description else ""
        return f"Cell(size={self.size}, {what}, phases={self.n_phases}{desc})"

    @property
    def dim(self) -> int:
        """Space dimension, 2 or 3."""
        return len(self.size)

    @property
    def volume(self) -> float:
        """Box volume ``prod(size)``."""
        return float(np.prod(self.size))

    @property
    def kind(self) -> str:
        """``"voxel"`` or ``"mesh"``."""
        return "voxel" if self.image is not None else "mesh"

    @property
    def n_phases(self) -> int:
        """``max phase id + 1``."""
        ids = self.image if self.image is not None else self.phase
        return int(ids.max()) + 1

    @property
    def center(self) -> np.ndarray:
        """Box center ``(d,)``."""
        return np.asarray(self.origin) + 0.5 * np.asarray(self.size)

    def volume_fractions(self) -> np.ndarray:
        """Volume fraction of every phase id ``0 .. n_phases - 1`` (of this discretisation)."""
        if self.image is not None:
            counts = np.bincount(self.image.ravel(), minlength=self.n_phases)
            return counts / self.image.size
        vols = np.bincount(self.phase, weights=_element_volumes(self.mesh), minlength=self.n_phases)
        return vols / vols.sum()

    def to_mesh(self) -> tuple[skfem.Mesh, np.ndarray]:
        """The finite-element mesh and the phase id of every element ``(n_elements,)``."""
        if self.mesh is not None:
            return self.mesh, self.phase
        img = self.image
        lo = np.asarray(self.origin)
        coords = [lo[a] + np.linspace(0.0, self.size[a], img.shape[a] + 1) for a in range(self.dim)]
        cls = skfem.MeshQuad1 if self.dim == 2 else skfem.MeshHex1
        mesh = cls.init_tensor(*coords)
        centroids = mesh.p[:, mesh.t].mean(axis=1)
        h = np.asarray(self.size) / np.asarray(img.shape)
        idx = np.floor((centroids - lo[:, None]) / h[:, None]).astype(np.int64)
        idx = np.clip(idx, 0, np.asarray(img.shape)[:, None] - 1)
        return mesh, img[tuple(idx)]


def _element_volumes(mesh: skfem.Mesh) -> np.ndarray:
    """Exact volumes of the elements of a linear mesh ``(n_elements,)``."""
    p, t = np.asarray(mesh.p), np.asarray(mesh.t)
    if isinstance(mesh, skfem.MeshTri1):
        a = p[:, t[1]] - p[:, t[0]]
        b = p[:, t[2]] - p[:, t[0]]
        return 0.5 * np.abs(a[0] * b[1] - a[1] * b[0])
    if isinstance(mesh, skfem.MeshTet1):
        a, b, c = (p[:, t[k]] - p[:, t[0]] for k in (1, 2, 3))
        return np.abs(np.einsum("in,in->n", a, np.cross(b, c, axis=0))) / 6.0
    basis = skfem.Basis(mesh, skfem.ElementQuad0() if mesh.dim() == 2 else skfem.ElementHex0())
    return np.asarray(basis.dx).sum(axis=1)


# ---------------------------------------------------------------- voxel and tensor cells


def from_image(
    array: np.ndarray,
    size: float | Sequence[float] | None = None,
    voxel_size: float | Sequence[float] = 1.0,
    origin: Sequence[float] | None = None,
) -> Cell:
    """Cell from a voxel image of phase ids.

    Parameters
    ----------
    array : array_like of int
        Phase ids ``(n_0, n_1[, n_2])``, axis ``a`` along ``x_a``.
    size : float or sequence, optional
        Box size; default ``shape * voxel_size``.
    voxel_size : float or sequence
        Voxel edge lengths when ``size`` is not given (default 1).
    origin : sequence, optional
        Lower box corner (default zeros).
    """
    img = np.asarray(array)
    if img.ndim not in (2, 3):
        raise ValueError(f"from_image: array must be 2D or 3D, got shape {img.shape}")
    if size is None:
        size = tuple(np.asarray(img.shape) * np.asarray(_box(voxel_size, img.ndim, "voxel_size")))
    return Cell(size=_box(size, img.ndim), origin=origin, image=img, description="image")


def checkerboard(
    n: int, squares: int = 2, dim: int = 2, size: float | Sequence[float] = 1.0
) -> Cell:
    """Checkerboard of two phases (0 and 1) as a voxel image.

    Parameters
    ----------
    n : int
        Voxels per square edge (the resolution: ``h = size / (squares n)``).
    squares : int
        Squares per box edge, even for a periodic board (default 2, the
        smallest period).
    dim : int
        2 or 3.
    size : float or sequence
        Box size.

    Notes
    -----
    Square ``(I, J[, K])`` has phase ``(I + J [+ K]) mod 2``. In 2D with
    conductivities ``k1``, ``k2`` the exact effective conductivity is
    ``sqrt(k1 k2) I`` (Keller–Dykhne).
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"checkerboard: n (voxels per square) must be an integer >= 1, got {n!r}")
    if isinstance(squares, bool) or not isinstance(squares, int | np.integer) or squares < 1:
        raise ValueError(f"checkerboard: squares must be an integer >= 1, got {squares!r}")
    dim = _dim(dim)
    idx = np.indices((squares * n,) * dim) // n
    img = idx.sum(axis=0) % 2
    return Cell(size=_box(size, dim), image=img, description=f"checkerboard n={n}")


def laminate(
    fractions: Sequence[float],
    normal: int = 0,
    size: float | Sequence[float] = 1.0,
    dim: int = 2,
    resolution: int = 4,
    phase_ids: Sequence[int] | None = None,
) -> Cell:
    """Layered cell: layers normal to axis ``normal`` on an aligned tensor-product mesh.

    Parameters
    ----------
    fractions : sequence of float
        Thickness fraction of each layer, in order along ``x_normal``; positive,
        normalised to sum 1.
    normal : int
        Axis index of the layer normal (0, 1 or 2).
    size : float or sequence
        Box size.
    dim : int
        2 or 3.
    resolution : int
        Elements along the in-plane axes, and about ``resolution * fraction``
        (at least 1) elements across every layer.
    phase_ids : sequence of int, optional
        Phase of each layer (default ``0, 1, 2, ...``), e.g. ``[0, 1, 0]``.

    Notes
    -----
    Interfaces are mesh lines, so the periodic solution (piecewise affine)
    is reproduced exactly by the finite elements: the effective tensors are
    the layered (Backus-type) formulas to round-off.
    """
    dim = _dim(dim)
    f = np.asarray(fractions, dtype=float)
    if f.ndim != 1 or f.size < 1 or not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ValueError(f"laminate: fractions must be positive numbers, got {fractions!r}")
    f = f / f.sum()
    if isinstance(normal, bool) or normal not in range(dim):
        raise ValueError(f"laminate: normal must be an axis index 0..{dim - 1}, got {normal!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ValueError(f"laminate: resolution must be an integer >= 1, got {resolution!r}")
    ids = np.arange(f.size) if phase_ids is None else np.asarray(phase_ids, dtype=np.int64)
    if ids.shape != f.shape or np.any(ids < 0):
        raise ValueError(
            f"laminate: phase_ids must give one id >= 0 per layer ({f.size}), got {phase_ids!r}"
        )
    L = _box(size, dim)
    cuts = np.concatenate([[0.0], np.cumsum(f)]) * L[normal]
    cuts[-1] = L[normal]
    coords = []
    for a in range(dim):
        if a == normal:
            pieces = [
                np.linspace(cuts[i], cuts[i + 1], max(1, round(resolution * f[i])) + 1)[:-1]
                for i in range(f.size)
            ]
            coords.append(np.concatenate(pieces + [[L[a]]]))
        else:
            coords.append(np.linspace(0.0, L[a], resolution + 1))
    cls = skfem.MeshQuad1 if dim == 2 else skfem.MeshHex1
    mesh = cls.init_tensor(*coords)
    xn = mesh.p[normal, mesh.t].mean(axis=0)
    layer = np.clip(np.searchsorted(cuts, xn) - 1, 0, f.size - 1)
    return Cell(
        size=L,
        mesh=mesh,
        phase=ids[layer],
        description=f"laminate fractions={np.round(f, 6).tolist()} normal={normal}",
    )


# ---------------------------------------------------------------- gmsh cells


def circular_inclusion(
    volume_fraction: float,
    dim: int = 2,
    mesh_size: float | None = None,
    size: float | Sequence[float] = 1.0,
) -> Cell:
    """One disk (2D) or sphere (3D), phase 1, in the middle of a box of phase 0.

    Parameters
    ----------
    volume_fraction : float
        Inclusion volume fraction of the exact geometry, in (0, max) with the
        inclusion inside the box (``r < min(size) / 2``).
    dim : int
        2 or 3.
    mesh_size : float, optional
        Target element size (default ``min(size) / 16`` in 2D, ``/ 8`` in 3D).
    size : float or sequence
        Box size.
    """
    dim = _dim(dim)
    L = _box(size, dim)
    vf = _fraction("circular_inclusion", volume_fraction)
    r = _radius(vf * math.prod(L), 1, dim)
    if 2.0 * r >= min(L):
        raise ValueError(
            f"circular_inclusion: volume_fraction {volume_fraction!r} needs radius {r:.4g}, "
            f"which does not fit the box {L} (need 2 r < {min(L):.4g})"
        )
    c = 0.5 * np.asarray(L)
    h = mesh_size if mesh_size is not None else min(L) / (16 if dim == 2 else 8)
    return _gmsh_cell(L, None, [c], [r], h, f"circular inclusion vf={vf:.4g}")


def inclusions(
    centers: np.ndarray | Sequence[Sequence[float]],
    radii: float | Sequence[float],
    size: float | Sequence[float],
    mesh_size: float | None = None,
    origin: Sequence[float] | None = None,
) -> Cell:
    """Disks (2D) or spheres (3D), phase 1, in a box of phase 0, wrapped periodically.

    An inclusion crossing a box face re-enters through the opposite face, so
    the cell is a true period of the infinite arrangement; the mesh has
    matching nodes on opposite faces (gmsh ``setPeriodic``).

    Parameters
    ----------
    centers : array_like
        Inclusion centers ``(n, d)``.
    radii : float or sequence
        One radius, or one per inclusion.
    size : float or sequence
        Box size.
    mesh_size : float, optional
        Target element size (default ``min(min(size) / 12, min(radii) / 2)``).
    origin : sequence, optional
        Lower box corner (default zeros); centers are absolute coordinates.
    """
    c = np.atleast_2d(np.asarray(centers, dtype=float))
    if c.ndim != 2 or c.shape[1] not in (2, 3) or c.shape[0] < 1:
        raise ValueError(f"inclusions: centers must have shape (n, 2) or (n, 3), got {c.shape}")
    dim = c.shape[1]
    r = np.broadcast_to(np.asarray(radii, dtype=float), (c.shape[0],)).copy()
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError(f"inclusions: radii must be positive, got {radii!r}")
    L = _box(size, dim)
    if np.any(2.0 * r >= min(L)):
        raise ValueError(
            f"inclusions: radius {float(r.max()):.4g} is too large for the box {L} "
            f"(an inclusion would overlap its own periodic image; need 2 r < {min(L):.4g})"
        )
    lo = np.zeros(dim) if origin is None else np.asarray(_box(origin, dim, "origin"))
    c = lo + np.mod(c - lo, L)  # the same periodic arrangement, centers in the box
    _check_no_overlap(c, r, np.asarray(L))
    h = mesh_size if mesh_size is not None else min(min(L) / 12.0, float(r.min()) / 2.0)
    return _gmsh_cell(L, origin, list(c), list(r), h, f"{c.shape[0]} inclusions")


def _check_no_overlap(c: np.ndarray, r: np.ndarray, L: np.ndarray) -> None:
    """Refuse inclusions that overlap or touch, also across the periodic box faces.

    Overlapping disks would be fused by the mesher into one region smaller
    than the sum of the disks: the cell would silently have a lower volume
    fraction than the one asked for.
    """
    n, dim = c.shape
    exact = float(np.sum(_ball_volume(r, dim))) / float(np.prod(L))
    for i in range(n):
        d = c[i + 1:] - c[i]
        d -= L * np.round(d / L)  # nearest periodic image
        dist = np.linalg.norm(d, axis=1)
        reach = r[i + 1:] + r[i]
        close = np.nonzero(dist <= reach * (1.0 + 1e-9))[0]
        if close.size:
            j = i + 1 + int(close[0])
            raise ValueError(
                f"inclusions: inclusions {i} and {j} overlap (centers "
                f"{np.round(c[i], 6).tolist()} and {np.round(c[j], 6).tolist()} are "
                f"{float(dist[close[0]]):.4g} apart across the periodic box, radii sum "
                f"{float(reach[close[0]]):.4g}); meshing would fuse them into a smaller volume "
                f"than the {exact:.4g} fraction they add up to. Move them apart, or use "
                "random_inclusions for a non-overlapping random arrangement"
            )


def _ball_volume(r: np.ndarray | float, dim: int) -> np.ndarray:
    """Area of disks (2D) or volume of spheres (3D) of radius ``r``."""
    r = np.asarray(r, dtype=float)
    return math.pi * r**2 if dim == 2 else 4.0 / 3.0 * math.pi * r**3


def random_inclusions(
    volume_fraction: float,
    n: int,
    seed: int,
    dim: int = 2,
    mesh_size: float | None = None,
    size: float | Sequence[float] = 1.0,
    min_gap: float | None = None,
    max_tries: int = 100000,
) -> Cell:
    """``n`` equal non-overlapping disks / spheres at random periodic positions.

    Random sequential addition with periodic distances: every new center
    keeps a gap ``min_gap`` (default ``0.1 r``) to the other inclusions and
    their periodic images, and stays at least ``min_gap / 2`` away from
    grazing a box face (no sliver elements).

    Parameters
    ----------
    volume_fraction : float
        Total inclusion volume fraction of the exact geometry.
    n : int
        Number of inclusions.
    seed : int
        Seed of ``numpy.random.default_rng``; the cell is a function of it.
    dim, mesh_size, size
        As in :func:`inclusions`.
    min_gap : float, optional
        Minimum surface-to-surface distance.
    max_tries : int
        Placement attempts before giving up with ValueError (jamming).
    """
    dim = _dim(dim)
    L = np.asarray(_box(size, dim))
    vf = _fraction("random_inclusions", volume_fraction)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"random_inclusions: n must be an integer >= 1, got {n!r}")
    r = _radius(vf * float(np.prod(L)), n, dim)
    if min_gap is not None and (isinstance(min_gap, bool) or not isinstance(
            min_gap, int | float | np.integer | np.floating) or not 0 <= min_gap < np.inf):
        raise ValueError(f"random_inclusions: min_gap must be a finite number >= 0, "
                         f"got {min_gap!r}")
    gap = 0.1 * r if min_gap is None else float(min_gap)
    if 2.0 * r + gap >= L.min():
        raise ValueError(
            f"random_inclusions: {n} inclusions at volume fraction {vf:g} have radius {r:.4g}, "
            f"too large for the box {tuple(L)}"
        )
    rng = np.random.default_rng(seed)
    centers: list[np.ndarray] = []
    tries = 0
    while len(centers) < n:
        tries += 1
        if tries > max_tries:
            raise ValueError(
                f"random_inclusions: volume fraction {vf:g} is too high for {n} inclusions "
                f"(radius {r:.4g}) with a gap of {gap:.4g}: placed only {len(centers)} of {n} "
                f"after {max_tries} tries (jamming); lower volume_fraction, n or min_gap, or "
                "raise max_tries"
            )
        x = rng.random(dim) * L
        to_face = np.minimum(x, L - x)
        if np.any(np.abs(to_face - r) < 0.5 * gap):
            continue
        if centers:
            dxs = np.asarray(centers) - x
            dxs -= L * np.round(dxs / L)
            if np.min(np.linalg.norm(dxs, axis=1)) < 2.0 * r + gap:
                continue
        centers.append(x)
    cell = inclusions(np.asarray(centers), r, tuple(L), mesh_size=mesh_size)
    return replace(cell, description=f"{n} random inclusions vf={vf:.4g} seed={seed}, "
                                     f"meshed vf={cell.volume_fractions()[1]:.4g}")


def _fraction(owner: str, vf: object) -> float:
    try:
        v = float(vf)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: volume_fraction must be a number, got {vf!r}") from None
    if not 0.0 < v < 1.0:
        raise ValueError(f"{owner}: volume_fraction must be in (0, 1), got {vf!r}")
    return v


def _radius(volume: float, n: int, dim: int) -> float:
    """Radius of ``n`` equal disks/spheres of total volume ``volume``."""
    if dim == 2:
        return math.sqrt(volume / (n * math.pi))
    return (3.0 * volume / (4.0 * math.pi * n)) ** (1.0 / 3.0)


def _gmsh_cell(
    size: tuple[float, ...],
    origin: Sequence[float] | None,
    centers: list[np.ndarray],
    radii: list[float],
    mesh_size: float,
    description: str,
) -> Cell:
    """Mesh a box with periodically wrapped disks/spheres (phase 1) in a matrix (phase 0)."""
    import gmsh

    dim = len(size)
    L = np.asarray(size)
    lo = np.zeros(dim) if origin is None else np.asarray(_box(origin, dim, "origin"))
    if not mesh_size > 0:
        raise ValueError(f"mesh_size must be > 0, got {mesh_size!r}")
    own = not gmsh.isInitialized()
    if own:
        saved = _python_signals()
        gmsh.initialize(readConfigFiles=False, interruptible=False)
        _restore_signals(saved)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("fe2_cell")
        occ = gmsh.model.occ

        def add_box() -> int:
            if dim == 2:
                return occ.addRectangle(lo[0], lo[1], 0.0, L[0], L[1])
            return occ.addBox(lo[0], lo[1], lo[2], L[0], L[1], L[2])

        box = add_box()
        tools = []
        for c, r in zip(centers, radii, strict=True):
            for shift in itertools.product((-1, 0, 1), repeat=dim):
                cc = np.asarray(c) + np.asarray(shift) * L
                out = np.maximum(np.maximum(lo - cc, cc - (lo + L)), 0.0)
                if np.linalg.norm(out) < r - 1e-12 * L.max():
                    if dim == 2:
                        tools.append((2, occ.addDisk(cc[0], cc[1], 0.0, r, r)))
                    else:
                        tools.append((3, occ.addSphere(cc[0], cc[1], cc[2], r)))
        inclusion_tags: set[int] = set()
        if tools:
            box2 = add_box()
            pieces, _ = occ.intersect(tools, [(dim, box2)])
            _, out_map = occ.fragment([(dim, box)], pieces)
            for m in out_map[1:]:
                inclusion_tags.update(tag for _, tag in m)
        occ.synchronize()
        _set_periodic(gmsh, dim, lo, L)
        gmsh.option.setNumber("Mesh.MeshSizeMax", float(mesh_size))
        gmsh.option.setNumber("Mesh.MeshSizeMin", 0.05 * float(mesh_size))
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 12)
        gmsh.option.setNumber("Mesh.RandomSeed", 1)
        gmsh.model.mesh.generate(dim)
        node_tags, xyz, _ = gmsh.model.mesh.getNodes()
        xyz = np.asarray(xyz).reshape(-1, 3)[:, :dim]
        etype = 2 if dim == 2 else 4
        ts, phases = [], []
        for _, tag in gmsh.model.getEntities(dim):
            types, _, nodes = gmsh.model.mesh.getElements(dim, tag)
            for tp, nd in zip(types, nodes, strict=True):
                if tp != etype:
                    raise ValueError(f"gmsh produced element type {tp}, expected {etype}")
                tt = np.asarray(nd, dtype=np.int64).reshape(-1, dim + 1)
                ts.append(tt)
                phases.append(np.full(tt.shape[0], 1 if tag in inclusion_tags else 0))
    finally:
        gmsh.model.remove()
        if own:
            gmsh.finalize()
    t_tags = np.concatenate(ts)
    phase = np.concatenate(phases)
    used, t = np.unique(t_tags, return_inverse=True)
    lookup = {int(k): i for i, k in enumerate(node_tags)}
    p = xyz[[lookup[int(k)] for k in used]].T
    t = t.reshape(t_tags.shape).T
    # snap coordinates on the box faces (gmsh leaves ~1e-16 noise)
    tol = 1e-9 * L.max()
    for a in range(dim):
        p[a, np.abs(p[a] - lo[a]) < tol] = lo[a]
        p[a, np.abs(p[a] - lo[a] - L[a]) < tol] = lo[a] + L[a]
    cls = skfem.MeshTri1 if dim == 2 else skfem.MeshTet1
    mesh = cls(np.ascontiguousarray(p), np.ascontiguousarray(t.astype(np.int32)))
    log.debug("%s: %d elements, %d nodes", description, t.shape[1], p.shape[1])
    exact = float(np.sum(_ball_volume(np.asarray(radii), dim))) / float(np.prod(L))
    cell = Cell(size=tuple(L), origin=tuple(lo), mesh=mesh, phase=phase,
                description=description, exact_fraction=exact)
    _check_meshed_fraction(cell, exact, float(min(radii)), description)
    return cell


def _check_meshed_fraction(cell: Cell, exact: float, r_min: float, description: str) -> None:
    """The meshed inclusion fraction must be the exact one less the meshing deficit.

    The inclusion phase is an inscribed polygon / polyhedron: its interface
    nodes lie on the circles / spheres, so it misses at most a shell of
    thickness ``hc = r - sqrt(r^2 - rho^2)`` (``rho``: the largest interface
    facet's circumradius) under the curved surface, i.e. a relative volume
    of at most ``d hc / r``. A fraction outside ``[exact (1 - d hc / r), exact]``
    means the mesher fused or dropped inclusions.
    """
    mesh, phase = cell.mesh, cell.phase
    f2t = mesh.f2t
    inner = f2t[1] >= 0
    iface = inner & (phase[f2t[0]] != phase[np.where(inner, f2t[1], 0)])
    rho = _circumradii(mesh.p, mesh.facets[:, iface]) if np.any(iface) else np.zeros(1)
    dim = cell.dim
    ratio = min(1.0, float(rho.max()) / r_min)
    deficit = dim * (1.0 - math.sqrt(1.0 - ratio**2))
    achieved = float(cell.volume_fractions()[1]) if cell.n_phases > 1 else 0.0
    log.info("%s: meshed inclusion volume fraction %.6g (exact geometry %.6g, meshing bound "
             "-%.2g%%)", description, achieved, exact, 100 * deficit)
    if not exact * (1.0 - deficit) - 1e-9 <= achieved <= exact * (1.0 + 1e-9) + 1e-12:
        raise ValueError(
            f"{description}: the meshed inclusion volume fraction {achieved:.6g} differs from "
            f"the exact {exact:.6g} by more than the meshing deficit of at most "
            f"{100 * deficit:.3g}%; inclusions were fused or lost by the mesher"
        )


def _circumradii(p: np.ndarray, facets: np.ndarray) -> np.ndarray:
    """Circumradius of facets: half the length of edges ``(2, n)``, or of triangles ``(3, n)``."""
    if facets.shape[0] == 2:
        return 0.5 * np.linalg.norm(p[:, facets[1]] - p[:, facets[0]], axis=0)
    a = np.linalg.norm(p[:, facets[1]] - p[:, facets[2]], axis=0)
    b = np.linalg.norm(p[:, facets[0]] - p[:, facets[2]], axis=0)
    c = np.linalg.norm(p[:, facets[0]] - p[:, facets[1]], axis=0)
    area = 0.5 * np.linalg.norm(np.cross(p[:, facets[1]] - p[:, facets[0]],
                                         p[:, facets[2]] - p[:, facets[0]], axis=0), axis=0)
    return a * b * c / np.maximum(4.0 * area, 1e-300)


def _python_signals() -> dict:
    """Python's record of the handlers gmsh's initialization overwrites in C."""
    import signal

    return {sig: signal.getsignal(sig) for sig in (signal.SIGPIPE, signal.SIGINT)}


def _restore_signals(saved: dict) -> None:
    """Put back the handlers gmsh replaced, and faulthandler.

    gmsh resets SIGPIPE to the default action, which would kill the process on a
    write to a dead worker's pipe.
    """
    import faulthandler
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in saved.items():
        if handler is not None:
            signal.signal(sig, handler)
    if faulthandler.is_enabled():
        faulthandler.enable()


def _set_periodic(gmsh, dim: int, lo: np.ndarray, L: np.ndarray) -> None:
    """Make the mesh of each face ``x_a = lo_a + L_a`` a translated copy of ``x_a = lo_a``.

    Face entities are found with a loose bounding box (OCC boxes carry a
    tolerance) and paired by their centers of mass.
    """
    eps = 1e-4 * L.max()
    tol = 1e-6 * L.max()
    occ = gmsh.model.occ
    for a in range(dim):
        faces = []
        for x in (lo[a], lo[a] + L[a]):
            bmin = lo - eps
            bmax = lo + L + eps
            bmin[a], bmax[a] = x - eps, x + eps
            if dim == 2:
                bb = (bmin[0], bmin[1], -eps, bmax[0], bmax[1], eps)
            else:
                bb = (*bmin, *bmax)
            ents = gmsh.model.getEntitiesInBoundingBox(*bb, dim - 1)
            faces.append({tag: np.asarray(occ.getCenterOfMass(d, tag))[:dim] for d, tag in ents})
        masters, slaves = faces
        pairs_s, pairs_m = [], []
        for tag, cs in slaves.items():
            cs = cs.copy()
            cs[a] -= L[a]
            match = [m for m, cm in masters.items() if np.max(np.abs(cm - cs)) < tol]
            if len(match) != 1:
                raise ValueError(
                    f"periodic cell: face entity {tag} at x{a} = {lo[a] + L[a]:g} has "
                    f"{len(match)} matching entities on the opposite face (expected 1)"
                )
            pairs_s.append(tag)
            pairs_m.append(match[0])
        if len(pairs_s) != len(masters) or len(set(pairs_m)) != len(pairs_m):
            raise ValueError(
                f"periodic cell: {len(masters)} entities on face x{a} = {lo[a]:g} but "
                f"{len(pairs_s)} on the opposite face"
            )
        T = np.eye(4)
        T[a, 3] = L[a]
        gmsh.model.mesh.setPeriodic(dim - 1, pairs_s, pairs_m, T.ravel().tolist())


# ---------------------------------------------------------------- user meshes


def from_mesh(
    source: str | PathLike | skfem.Mesh,
    phases: Sequence[str] | Mapping[str, int] | np.ndarray | None = None,
) -> Cell:
    """Cell from a mesh file (any format :func:`fe2.io.read_mesh` reads) or a scikit-fem mesh.

    The box is the bounding box of the nodes; the mesh must fill it.

    Parameters
    ----------
    source : path or skfem.Mesh
        Mesh file (gmsh ``.msh`` with physical groups, ``.vtu``, ...) or a mesh.
    phases : optional
        How elements get phase ids:

        * None: from ``mesh.subdomains`` in their stored order (names that are
          integers are used as the ids), all 0 without subdomains;
        * a sequence of subdomain names, the position being the phase id;
        * a mapping subdomain name -> phase id;
        * an int array ``(n_elements,)`` of phase ids.

    Raises
    ------
    ValueError
        Unknown subdomain name (the message lists the known ones), elements in
        no or in two subdomains, or a mesh that does not fill its bounding box.
    """
    if isinstance(source, skfem.Mesh):
        mesh = source
        where = "mesh"
    else:
        from fe2.io import read_mesh

        mesh = read_mesh(source)
        where = str(Path(source))
    nel = mesh.t.shape[1]
    subs = dict(getattr(mesh, "subdomains", None) or {})
    if phases is not None and not isinstance(phases, Mapping | str) and (
        isinstance(phases, np.ndarray) or (len(phases) and not isinstance(phases[0], str))
    ):
        phase = np.asarray(phases, dtype=np.int64)
    else:
        if phases is None:
            if not subs:
                phase = np.zeros(nel, dtype=np.int64)
                mapping: dict[str, int] = {}
            elif all(str(k).isdigit() for k in subs):
                mapping = {k: int(k) for k in subs}
            else:
                mapping = {k: i for i, k in enumerate(subs)}
        elif isinstance(phases, Mapping):
            mapping = {str(k): int(v) for k, v in phases.items()}
        else:
            mapping = {str(k): i for i, k in enumerate(phases)}
        if mapping:
            unknown = [k for k in mapping if k not in subs]
            if unknown:
                raise ValueError(
                    f"{where}: unknown subdomain(s) {', '.join(map(repr, unknown))}; known: "
                    f"{', '.join(map(repr, subs)) or 'none'}"
                )
            phase = np.full(nel, -1, dtype=np.int64)
            for name, pid in mapping.items():
                el = np.asarray(subs[name])
                twice = el[phase[el] >= 0]
                if twice.size:
                    raise ValueError(
                        f"{where}: element {int(twice[0])} is in subdomain {name!r} and another "
                        "one; each element needs exactly one phase"
                    )
                phase[el] = pid
            if np.any(phase < 0):
                e = int(np.argmax(phase < 0))
                raise ValueError(
                    f"{where}: {int((phase < 0).sum())} elements are in none of the subdomains "
                    f"{', '.join(map(repr, mapping))}, first element {e}"
                )
    p = np.asarray(mesh.p)
    lo, hi = p.min(axis=1), p.max(axis=1)
    plain = type(mesh)(np.ascontiguousarray(p), np.ascontiguousarray(mesh.t))
    return Cell(size=tuple(hi - lo), origin=tuple(lo), mesh=plain, phase=phase, description=where)
