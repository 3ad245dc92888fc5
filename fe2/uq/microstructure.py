"""Random two-phase voxel microstructures and their effective conductivity.

:func:`random_two_phase_image` draws a statistically isotropic two-phase voxel image as
the excursion set of a periodic Gaussian random field (white noise smoothed by a
periodic Gaussian filter of width ``correlation_length``,
:func:`scipy.ndimage.fourier_gaussian`), cut at its empirical quantile so that **exactly**
``round(volume_fraction * n_voxels)`` voxels belong to phase 1. Level cuts of Gaussian
fields are a standard model of random two-phase media (Torquato 2002, *Random
Heterogeneous Materials*, sec. 8.3; Teubner 1991); ``correlation_length`` sets the size
of the inclusions (blobs of phase 1 in phase 0 at low fractions).

:class:`RandomConductivityCell` is the map ``(parameters, seed) -> effective
conductivity (d, d)`` of such a cell with linear isotropic phases, solved by the periodic
voxel RVE (:class:`fe2.homogenization.RVE`, ``method="fft"``, or ``"sparse"``). It is a
picklable callable, so Monte Carlo runs can ship it to executor workers.

>>> cell = RandomConductivityCell(resolution=16, conductivities=(1.0, 10.0))
>>> K = cell({"volume_fraction": 0.3, "correlation_length": 0.1}, seed=1)
>>> K.shape
(2, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

from fe2.homogenization import RVE, cells, hashin_shtrikman
from fe2.materials import LinearConductivity

__all__ = ["PARAMETERS", "RandomConductivityCell", "random_two_phase_image"]

#: names of the microstructure parameters a :class:`RandomConductivityCell` takes
PARAMETERS: tuple[str, ...] = ("volume_fraction", "correlation_length", "inclusion_conductivity")


def _check_number(owner: str, name: str, value: object, lo: float, hi: float) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a number, got {value!r}") from None
    if not (np.isfinite(v) and lo < v < hi):
        raise ValueError(f"{owner}: {name} must be in ({lo:g}, {hi:g}), got {value!r}")
    return v


def random_two_phase_image(
    resolution: int,
    volume_fraction: float,
    correlation_length: float,
    seed: int,
    dim: int = 2,
    field_resolution: int | None = None,
) -> np.ndarray:
    """Periodic two-phase voxel image: a level cut of a smoothed Gaussian field.

    Parameters
    ----------
    resolution : int
        Voxels per edge ``n`` of the unit box (image shape ``(n,) * dim``).
    volume_fraction : float
        Fraction of phase 1, in (0, 1); the image has exactly
        ``round(volume_fraction * n**dim)`` phase-1 voxels.
    correlation_length : float
        Standard deviation of the Gaussian smoothing kernel, in units of the box edge
        (the size of the inclusions), in (0, 1).
    seed : int
        Seed of :func:`numpy.random.default_rng`; the image is a function of it.
    dim : int
        2 or 3.
    field_resolution : int, optional
        Resolution at which the Gaussian field is drawn (a multiple of ``resolution``;
        default ``resolution``). With a larger value the field is averaged over blocks of
        voxels before the cut: the same microstructure, seen at a coarser resolution (the
        coarse level of a multi-fidelity model).

    Returns
    -------
    ndarray of int64, shape ``(n,) * dim``
        Phase ids 0 and 1.
    """
    owner = "random_two_phase_image"
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer) \
            or resolution < 2:
        raise ValueError(f"{owner}: resolution must be an integer >= 2, got {resolution!r}")
    if dim not in (2, 3):
        raise ValueError(f"{owner}: dim must be 2 or 3, got {dim!r}")
    vf = _check_number(owner, "volume_fraction", volume_fraction, 0.0, 1.0)
    ell = _check_number(owner, "correlation_length", correlation_length, 0.0, 1.0)
    n = int(resolution)
    m = n if field_resolution is None else field_resolution
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < n or m % n:
        raise ValueError(f"{owner}: field_resolution must be an integer multiple of resolution "
                         f"{n}, got {field_resolution!r}")
    noise = np.random.default_rng(seed).standard_normal((int(m),) * dim)
    # exact periodic Gaussian smoothing in Fourier space
    field = np.fft.ifftn(ndimage.fourier_gaussian(np.fft.fftn(noise), sigma=ell * m)).real
    if m > n:  # block averages: the same field seen at the coarser resolution
        b = m // n
        field = field.reshape(sum(((n, b) for _ in range(dim)), ())).mean(
            axis=tuple(range(1, 2 * dim, 2)))
    k = int(round(vf * field.size))
    img = np.zeros(field.size, dtype=np.int64)
    if k > 0:
        img[np.argsort(field, axis=None)[field.size - k:]] = 1  # the k largest values
    return img.reshape(field.shape)


class RandomConductivityCell:
    """Effective conductivity ``(d, d)`` of a random two-phase voxel cell.

    Parameters
    ----------
    resolution : int
        Voxels per edge of the unit cell.
    conductivities : (float, float)
        Isotropic conductivities of phase 0 (matrix) and phase 1 (inclusions), > 0.
    dim : int
        2 or 3.
    method : {"fft", "sparse"}
        RVE solver (both solve the same periodic trilinear-voxel FE problem).
    fixed : mapping, optional
        Values of the parameters that the caller does not vary (defaults
        ``volume_fraction = 0.3``, ``correlation_length = 0.08``,
        ``inclusion_conductivity = conductivities[1]``).
    field_resolution : int, optional
        Draw the random field at this resolution and average it to ``resolution``
        (see :func:`random_two_phase_image`): cells of two resolutions with the same
        ``field_resolution`` and seed show the same microstructure.
    microstructure_seed : int, optional
        When given, every call uses this seed for the random field (the seed argument
        is ignored): a deterministic, smooth-in-conductivity parameter map.
    coarsening : {"cut", "mixed"}
        How a cell coarser than ``field_resolution`` sees the field: ``"cut"`` (default)
        cuts the block-averaged field (a two-phase image at ``resolution``); ``"mixed"``
        cuts the field at ``field_resolution`` and gives every coarse voxel the
        conductivity of its block by the Hashin–Shtrikman lower bound (Maxwell Garnett,
        phase 0 as matrix) at the block's phase-1 fraction ("composite voxels"): the
        coarse answer then changes with the fine image and not in coarse-voxel steps.

    Notes
    -----
    ``cell(params, seed)`` takes a mapping with any of :data:`PARAMETERS` (the others from
    ``fixed``) and the seed of the random field, and returns the periodic effective
    conductivity ``(d, d)`` (units of the phase conductivities). Unknown parameter names
    raise ``ValueError``.
    """

    def __init__(self, resolution: int = 32, conductivities: Sequence[float] = (1.0, 10.0),
                 dim: int = 2, method: str = "fft", fixed: Mapping[str, float] | None = None,
                 field_resolution: int | None = None, microstructure_seed: int | None = None,
                 coarsening: str = "cut"):
        k = np.asarray(conductivities, dtype=float)
        if k.shape != (2,) or not np.all(np.isfinite(k)) or np.any(k <= 0):
            raise ValueError(f"RandomConductivityCell: conductivities must be two numbers > 0, "
                             f"got {conductivities!r}")
        if method not in ("fft", "sparse"):
            raise ValueError(f"RandomConductivityCell: method must be 'fft' or 'sparse', "
                             f"got {method!r}")
        self.resolution = resolution
        self.conductivities = (float(k[0]), float(k[1]))
        self.dim = dim
        self.method = method
        if coarsening not in ("cut", "mixed"):
            raise ValueError(f"RandomConductivityCell: coarsening must be 'cut' or 'mixed', "
                             f"got {coarsening!r}")
        self.coarsening = coarsening
        self.field_resolution = field_resolution
        self.microstructure_seed = microstructure_seed
        self.fixed = {"volume_fraction": 0.3, "correlation_length": 0.08,
                      "inclusion_conductivity": self.conductivities[1]}
        self.fixed.update(self._check_params(fixed or {}))
        # validate resolution, dim and field_resolution now, not in a worker
        random_two_phase_image(resolution, 0.5, 0.1, 0, dim, field_resolution)

    @staticmethod
    def _check_params(params: Mapping[str, float]) -> dict[str, float]:
        bad = sorted(set(params) - set(PARAMETERS))
        if bad:
            raise ValueError(f"RandomConductivityCell: unknown parameter {bad[0]!r}; expected "
                             f"some of {', '.join(PARAMETERS)}")
        out = {k: float(v) for k, v in params.items()}
        kin = out.get("inclusion_conductivity", 1.0)
        if not (np.isfinite(kin) and kin > 0):
            raise ValueError(f"RandomConductivityCell: inclusion_conductivity must be > 0, "
                             f"got {kin!r}")
        return out

    def __repr__(self) -> str:
        return (f"RandomConductivityCell(resolution={self.resolution}, conductivities="
                f"{self.conductivities}, dim={self.dim}, method={self.method!r})")

    def image(self, params: Mapping[str, float], seed: int) -> np.ndarray:
        """The two-phase voxel image of parameters ``params`` and ``seed``.

        Shape ``(n,) * dim``; with ``coarsening="mixed"`` the image at ``field_resolution``.
        """
        p = {**self.fixed, **self._check_params(params)}
        s = seed if self.microstructure_seed is None else self.microstructure_seed
        if self.coarsening == "mixed" and self.field_resolution is not None:
            return random_two_phase_image(self.field_resolution, p["volume_fraction"],
                                          p["correlation_length"], s, self.dim)
        return random_two_phase_image(self.resolution, p["volume_fraction"],
                                      p["correlation_length"], s, self.dim,
                                      self.field_resolution)

    def __call__(self, params: Mapping[str, float], seed: int) -> np.ndarray:
        """Effective conductivity ``(d, d)`` of the cell of ``params`` and ``seed``."""
        img = self.image(params, seed)
        kin = {**self.fixed, **self._check_params(params)}["inclusion_conductivity"]
        k = (self.conductivities[0], kin)
        n = self.resolution
        if img.shape[0] != n:  # composite voxels: phase-1 fraction of each block
            b = img.shape[0] // n
            frac = img.reshape(sum(((n, b) for _ in range(self.dim)), ())).mean(
                axis=tuple(range(1, 2 * self.dim, 2)))
            levels, ids = np.unique(frac, return_inverse=True)
            kv = [hashin_shtrikman(k, [1.0 - f, f], self.dim).lower if 0 < f < 1
                  else k[int(f)] for f in levels]
            phases = [LinearConductivity(float(v), dim=self.dim) for v in kv]
            img = ids.reshape(frac.shape)
        else:
            phases = [LinearConductivity(v, dim=self.dim) for v in k]
            if img.max() == 0:  # no inclusion voxel: one phase (RVE needs no unused phase)
                phases = phases[:1]
        rve = RVE(cells.from_image(img), phases, method=self.method)
        return rve.effective_tensor()
