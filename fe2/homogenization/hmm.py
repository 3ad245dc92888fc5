"""FE-HMM: the macro stiffness from micro problems on small sampling boxes.

The heterogeneous multiscale method (E & Engquist 2003; E, Ming & Zhang
2005; Abdulle's FE-HMM) solves ``-div(a^eps(x) grad u) = f`` (and the
elasticity analogue) without knowing the homogenized coefficient. At every
macro quadrature point ``x_l`` the macro solver asks :class:`HMMSampler` for
the effective tensor ``A_H(x_l)``; the sampler solves, for each unit macro
gradient ``e_j``, the micro problem on the box ``I_delta(x_l) = x_l +
[-delta/2, delta/2]^d`` with the *fine-scale* coefficient evaluated there,

    find w_j in W(I_delta):  int a^eps (e_j + grad w_j) . grad v = 0  for all v in W,

and returns ``A_H e_j . e_i = (1/delta^d) int a^eps (e_j + grad w_j) . e_i``.
The micro space ``W`` is set by the coupling:

==============  ===========================================================
``coupling``    micro space (fluctuation ``w``)
==============  ===========================================================
``periodic``    ``w`` periodic on the box, one corner pinned
``dirichlet``   ``w = 0`` on the box boundary (affine coupling)
``neumann``     ``w`` free with ``<grad w> = 0`` and a zero boundary mean
                imposed by Lagrange multipliers: the weakly constrained problem of
                E, Ming & Zhang / Yue & E (natural condition
                ``a grad u . n = lambda . n``)
==============  ===========================================================

The micro problem is linear, so ``A_H = <a> - F*^T K^{-1} F`` with the micro
stiffness ``K``, the load vectors ``F_j = int grad(phi)^T a e_j`` and the
adjoint loads ``F*_i = int grad(phi)^T a^T e_i`` (``A_H e_j . e_i = <a_ij> +
int e_i . a grad w_j``; ``F* = F`` only for a symmetric ``a``, and
non-symmetric coefficients are supported): one factorization and ``d``
(scalar) or ``d^2`` (elasticity) right-hand sides per macro point. Each point
is solved on its own (its own factorization), so the answers do not depend on
how the points are batched, chunked or distributed over workers. Everything
is computed on the reference box ``[-1/2, 1/2]^d``
(``A_H`` is invariant under the scaling ``x = x_l + delta xi``): the mesh,
the basis, the constraint pattern and the scatter maps are built once, and
only the coefficient changes from point to point. Element matrices of a
batch of points are formed with one batched matmul; small micro systems are
solved as a batch of dense systems, large ones one sparse LU per point.

The elasticity variant (``measure="strain"``) takes a fourth-order stiffness
``C (d, d, d, d, *pts)`` and returns the homogenized ``C_H`` with the same
three couplings (Neumann: ``<grad w> = 0`` in full, which also removes the
rigid rotations, and a zero boundary mean of ``w``). The couplings are those of
:mod:`fe2.homogenization.constraints` (``dirichlet`` is its ``kubc``, ``neumann``
its ``tubc``), the implementation the RVE uses too.

Also here:

* coefficient helpers: :func:`locally_periodic` ``a(x, x/eps)``,
  :func:`random_checkerboard` (random stationary field at scale ``eps``,
  seeded), :func:`voxel_coefficient` (an image), :func:`isotropic_elasticity`;
* the fine-scale reference: :class:`FineScaleOracle` (``a^eps`` at the
  quadrature points, for :class:`fe2.macro.Problem`) and :func:`dns_solve`.

>>> import numpy as np
>>> a = lambda x, y: 1.5 + np.sin(2 * np.pi * y[0])          # laminate, layers normal to x_1
>>> hmm = HMMSampler(a, eps=0.1, delta=0.1, micro_h=0.1 / 16, order=2)
>>> A = hmm.effective_tensor(np.array([[0.3], [0.4]]))[..., 0]   # (2, 2, 1) -> (2, 2)
>>> A_0 = np.diag([np.sqrt(1.25), 1.5])      # harmonic and arithmetic means of 1.5 + sin
>>> bool(np.abs(A - A_0).max() < 1e-4)
True
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import skfem

from fe2.fem import GradientOperator, element_for
from fe2.homogenization.constraints import ConstrainedSystem, micro_constraints
from fe2.oracle import OracleBase, OracleError, Response

__all__ = [
    "HMMSampler",
    "COUPLINGS",
    "FineScaleOracle",
    "dns_solve",
    "locally_periodic",
    "random_checkerboard",
    "voxel_coefficient",
    "isotropic_elasticity",
    "laminate_tensor",
]

log = logging.getLogger(__name__)

COUPLINGS: tuple[str, ...] = ("periodic", "dirichlet", "neumann")
_MEASURES = ("gradient", "strain")
_BATCH_BYTES = 64e6  # bound on the batched element arrays of one chunk of points
_M_ENTRIES = 4e6  # largest precomputed coefficient-to-element-matrix map (floats)


# ---------------------------------------------------------------- coefficients


def _n_positional(func: Callable) -> int:
    """Number of required positional parameters of ``func`` (1 or 2 expected)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # builtins, some callables: assume a(x)
        return 1
    n = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            n += 1
        elif p.kind == p.VAR_POSITIONAL:
            return 1
    return n


def _as_tensor(val: Any, measure: str, dim: int, pts: tuple[int, ...], where: str) -> np.ndarray:
    """Coefficient values as a full tensor ``(*idx, *idx, *pts)``.

    Accepted: a scalar field ``(*pts)`` or a number (isotropic conductivity;
    gradient measure only), or the full tensor.
    """
    val = np.asarray(val, dtype=float)
    if measure == "gradient":
        full = (dim, dim) + pts
        if val.shape == full:
            return val
        if val.shape == pts or val.ndim == 0:
            out = np.zeros(full)
            for i in range(dim):
                out[i, i] = val
            return out
        raise OracleError(
            f"{where}: the coefficient returned shape {val.shape} for points of shape {pts}; "
            f"expected a scalar field {pts} or a tensor {full}"
        )
    full = (dim,) * 4 + pts
    if val.shape != full:
        raise OracleError(
            f"{where}: the elasticity coefficient returned shape {val.shape} for points of "
            f"shape {pts}; expected the stiffness tensor {full} (see isotropic_elasticity)"
        )
    return val


def isotropic_elasticity(lam: Any, mu: Any, dim: int = 2) -> np.ndarray:
    """Isotropic stiffness ``C_ijkl = lam d_ij d_kl + mu (d_ik d_jl + d_il d_jk)``.

    Parameters
    ----------
    lam, mu : float or ndarray (*pts)
        Lamé constants (units of stress).
    dim : int
        Space dimension.

    Returns
    -------
    ndarray (d, d, d, d, *pts)
    """
    lam = np.asarray(lam, dtype=float)
    mu = np.asarray(mu, dtype=float)
    pts = np.broadcast_shapes(lam.shape, mu.shape)
    eye = np.eye(dim)
    ii = np.einsum("ij,kl->ijkl", eye, eye)
    sym = np.einsum("ik,jl->ijkl", eye, eye) + np.einsum("il,jk->ijkl", eye, eye)
    ext = (slice(None),) * 4 + (None,) * len(pts)
    return ii[ext] * lam + sym[ext] * mu


def laminate_tensor(values: Sequence[float], fractions: Sequence[float] | None = None,
                    axis: int = 0, dim: int = 2) -> np.ndarray:
    """Closed-form homogenized conductivity of a laminate with layers normal to ``axis``.

    The harmonic mean of the layer conductivities across the layers (along
    ``axis``), the arithmetic mean along them. ``values`` are isotropic layer
    conductivities with volume ``fractions`` (default equal). Returns ``(d, d)``.
    """
    k = np.asarray(values, dtype=float)
    f = np.full(k.size, 1.0 / k.size) if fractions is None else np.asarray(fractions, float)
    out = np.eye(dim) * float(f @ k)
    out[axis, axis] = 1.0 / float(f @ (1.0 / k))
    return out


def locally_periodic(func: Callable[[np.ndarray, np.ndarray], Any], eps: float) -> Callable:
    """Coefficient ``a(x) = func(x, x / eps)`` of a locally periodic medium.

    ``func(x, y)`` gets physical points ``x (d, *pts)`` and fast variables
    ``y = x / eps`` and must be 1-periodic in ``y``. The result is a plain
    ``a(x)`` usable by :class:`HMMSampler` and :class:`FineScaleOracle`.
    """
    eps = _positive("locally_periodic", "eps", eps)

    def a(x: np.ndarray) -> Any:
        x = np.asarray(x, dtype=float)
        return func(x, x / eps)

    a.__doc__ = f"locally periodic coefficient a(x, x/eps), eps = {eps:g}"
    return a


def _hash_uniform(idx: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic uniform numbers in [0, 1) from integer cell indices ``(d, *pts)``."""
    with np.errstate(over="ignore"):
        h = np.full(idx.shape[1:], np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1))
        for k in range(idx.shape[0]):
            h ^= idx[k].astype(np.int64).view(np.uint64) + np.uint64(0x632BE59BD9B4E019 * (k + 1))
            # splitmix64 finalizer
            h ^= h >> np.uint64(30)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
            h *= np.uint64(0x94D049BB133111EB)
            h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


def random_checkerboard(
    eps: float,
    values: Sequence[Any] = (1.0, 10.0),
    probabilities: Sequence[float] | None = None,
    seed: int = 0,
    origin: Sequence[float] | float = 0.0,
) -> Callable:
    """Random stationary coefficient: squares of side ``eps`` with random phases.

    Cell ``k = floor((x - origin) / eps)`` (integers, any position in space)
    gets phase ``p`` with probability ``probabilities[p]`` (default equal),
    drawn from a counter-based hash of ``(k, seed)``: the field is defined
    everywhere without storing it, and the same seed always gives the same
    field. ``values[p]`` is a scalar (isotropic conductivity), a ``(d, d)``
    tensor, or a ``(d, d, d, d)`` stiffness.

    Returns
    -------
    callable
        ``a(x)`` with ``x (d, *pts)`` returning ``(*pts)`` or ``(*T, *pts)``.
    """
    eps = _positive("random_checkerboard", "eps", eps)
    vals = [np.asarray(v, dtype=float) for v in values]
    if not vals or len({v.shape for v in vals}) != 1:
        raise ValueError(
            f"random_checkerboard: values must be a non-empty list of equally shaped scalars "
            f"or tensors, got shapes {[v.shape for v in vals]}"
        )
    p = np.full(len(vals), 1.0 / len(vals)) if probabilities is None else np.asarray(
        probabilities, dtype=float)
    if p.shape != (len(vals),) or np.any(p < 0) or not math.isclose(float(p.sum()), 1.0):
        raise ValueError(
            f"random_checkerboard: probabilities must be {len(vals)} non-negative numbers "
            f"summing to 1, got {probabilities!r}"
        )
    cum = np.cumsum(p)[:-1]
    table = np.stack(vals)  # (n_phases, *T)
    org = np.asarray(origin, dtype=float)

    def a(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        o = org.reshape((-1,) + (1,) * (x.ndim - 1)) if org.ndim else org
        k = np.floor((x - o) / eps).astype(np.int64)
        phase = np.searchsorted(cum, _hash_uniform(k, seed), side="right")
        return np.moveaxis(table[phase], tuple(range(phase.ndim)),
                           tuple(range(table.ndim - 1, table.ndim - 1 + phase.ndim)))

    a.__doc__ = f"random checkerboard, eps = {eps:g}, {len(vals)} phases, seed {seed}"
    return a


def voxel_coefficient(
    image: np.ndarray,
    values: Sequence[Any] | None = None,
    size: Sequence[float] | float = 1.0,
    origin: Sequence[float] | float = 0.0,
    periodic: bool = True,
) -> Callable:
    """Coefficient from a voxel image covering ``origin + [0, size]^d``.

    Parameters
    ----------
    image : ndarray (n_0, ..., n_{d-1})
        Phase ids (ints, with ``values``) or coefficient values (floats,
        isotropic; ``values`` None). Voxel ``[i, j]`` covers
        ``origin + ([i, i+1] h_0, [j, j+1] h_1)``, ``h_a = size_a / n_a``.
    values : sequence, optional
        Coefficient per phase id: scalars, ``(d, d)`` or ``(d, d, d, d)`` tensors.
    size, origin : float or (d,) floats
        Physical box of the image (e.g. one period ``eps``).
    periodic : bool
        Tile the image periodically in space (a periodic microstructure of
        period ``size``); otherwise points outside the box raise ``ValueError``.

    Returns
    -------
    callable
        ``a(x)`` with ``x (d, *pts)``.
    """
    img = np.asarray(image)
    d = img.ndim
    if d not in (2, 3) or img.size == 0:
        raise ValueError(f"voxel_coefficient: image must be a 2D or 3D array, got {img.shape}")
    size_ = np.broadcast_to(np.asarray(size, dtype=float), (d,)).copy()
    org = np.broadcast_to(np.asarray(origin, dtype=float), (d,)).copy()
    if np.any(size_ <= 0):
        raise ValueError(f"voxel_coefficient: size must be positive, got {size!r}")
    if values is None:
        if not np.issubdtype(img.dtype, np.floating) or np.any(img <= 0):
            raise ValueError(
                "voxel_coefficient: without values the image must hold positive float "
                "coefficients; pass values=[...] for an image of phase ids"
            )
        table = img.astype(float).ravel()
        ids = np.arange(img.size).reshape(img.shape)
    else:
        table = np.stack([np.asarray(v, dtype=float) for v in values])
        if not np.issubdtype(img.dtype, np.integer) or img.min() < 0 or img.max() >= len(table):
            raise ValueError(
                f"voxel_coefficient: image must hold integer phase ids 0..{len(table) - 1}, "
                f"got dtype {img.dtype} with range [{img.min()}, {img.max()}]"
            )
        ids = img
    shape = np.array(img.shape)

    def a(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.shape[0] != d:
            raise ValueError(f"voxel_coefficient: points have dim {x.shape[0]}, image is {d}D")
        ext = (slice(None),) + (None,) * (x.ndim - 1)
        k = np.floor((x - org[ext]) / (size_ / shape)[ext]).astype(np.int64)
        if periodic:
            k %= shape[ext]
        else:
            bad = np.any((k < 0) | (k >= shape[ext]), axis=0)
            if np.any(bad):
                first = np.argwhere(bad)[0]
                xf = x[(slice(None),) + tuple(first)]
                raise ValueError(
                    f"voxel_coefficient: point {np.round(xf, 6).tolist()} lies outside the "
                    f"image box origin {org.tolist()}, size {size_.tolist()}"
                )
            k = np.clip(k, 0, shape[ext] - 1)
        phase = ids[tuple(k)]
        out = table[phase]
        return np.moveaxis(out, tuple(range(phase.ndim)),
                           tuple(range(out.ndim - phase.ndim, out.ndim)))

    a.__doc__ = f"voxel coefficient, image {img.shape}, size {size_.tolist()}"
    return a


def _positive(owner: str, name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return v


# ---------------------------------------------------------------- micro structure


class _MicroBox:
    """Reference box ``[-1/2, 1/2]^d``: mesh, basis, constraints and scatter maps (built once)."""

    def __init__(self, dim: int, n: int, order: int, measure: str, mesh: str,
                 coupling: str, intorder: int | None):
        lin = np.linspace(-0.5, 0.5, n + 1)
        if mesh == "quad":
            m = (skfem.MeshQuad if dim == 2 else skfem.MeshHex).init_tensor(*([lin] * dim))
        else:
            m = (skfem.MeshTri if dim == 2 else skfem.MeshTet).init_tensor(*([lin] * dim))
        vector = measure == "strain"
        elem = element_for(m, order, vector)
        self.basis = skfem.Basis(m, elem, intorder=2 * order if intorder is None else intorder)
        self.op = GradientOperator(self.basis, measure)
        op = self.op
        self.dim, self.N = dim, self.basis.N
        self.nel, self.nqp, self.nb, self.nA = op.nel, op.nqp, op.nb, op.nA
        self.Xq = np.array(self.basis.global_coordinates())  # (d, nel, nqp)
        self.dx = op.dx  # (nel, nqp), sums to 1
        self.G = op.gradients  # (nel, nqp, nb, nA)
        self.Gw = self.G * self.dx[:, :, None, None]
        # box [-1/2, 1/2]^d: periodic, dirichlet (KUBC), neumann (TUBC) from the shared
        # constraints; multiplier rows scaled to 1 (the coefficient changes per point)
        cons = micro_constraints(self.basis, coupling).scaled(1.0)
        self.system = system = ConstrainedSystem.for_elements(cons, op.element_dofs)
        self.n = system.n  # reduced dofs plus multipliers
        # element matrices, element loads, adjoint loads and the mean are linear in the
        # coefficient: [ke | fe | fe_adj | mean] (e, p, :) = A (e, p, (q, a, b)) @ M (e, (q, a, b),
        # :), with fe for A e_b and fe_adj for A^T e_a
        nb, nA, nq = self.nb, self.nA, self.nqp
        self.K = nq * nA * nA
        width = nb * nb + 2 * nb * nA + nA * nA
        self.M = None
        if self.nel * self.K * width <= _M_ENTRIES:
            eye = np.eye(nA)
            Mk = np.einsum("eqia,eqjb->eqabij", self.Gw, self.G)
            Mf = np.einsum("eqia,bc->eqabic", self.Gw, eye)  # grad(phi_i) . A e_c
            Mt = np.einsum("eqib,ac->eqabic", self.Gw, eye)  # grad(phi_i) . A^T e_c
            Mm = np.einsum("eq,ac,bd->eqabcd", self.dx, eye, eye)
            self.M = np.ascontiguousarray(np.concatenate(
                [Mk.reshape(self.nel, self.K, -1), Mf.reshape(self.nel, self.K, -1),
                 Mt.reshape(self.nel, self.K, -1), Mm.reshape(self.nel, self.K, -1)], axis=2))


# ---------------------------------------------------------------- the oracle


class HMMSampler(OracleBase):
    """FE-HMM oracle: effective tensor at macro points from micro sampling boxes.

    Parameters
    ----------
    coefficient : callable
        The fine-scale coefficient at physical points: ``a(x)`` or
        ``a(x, y)`` with ``y = x / eps`` (two required positional arguments),
        ``x (d, *pts)``. Returns a scalar field ``(*pts)`` (isotropic
        conductivity) or a tensor ``(d, d, *pts)`` for ``measure="gradient"``;
        a stiffness ``(d, d, d, d, *pts)`` for ``measure="strain"``
        (see :func:`isotropic_elasticity`).
    eps : float
        Fine scale (the period of a periodic medium), length units.
    delta : float
        Side of the sampling box ``I_delta(x) = x + [-delta/2, delta/2]^d``.
        ``delta >= eps`` is required for the periodic coupling.
    coupling : {"periodic", "dirichlet", "neumann"}
        Micro boundary condition (see the module docs).
    micro_h : float, optional
        Micro mesh size; the box gets ``ceil(delta / micro_h)`` elements per
        side (default ``eps / 8``).
    order : {1, 2}
        Micro Lagrange order.
    measure : {"gradient", "strain"}
        Scalar conduction or linear elasticity.
    dim : {2, 3}
        Space dimension.
    mesh : {"quad", "tri"}
        Micro elements: quadrilaterals / hexahedra or triangles / tetrahedra
        on a tensor grid of the box.
    intorder : int, optional
        Micro quadrature order (default ``2 * order``).
    dense_limit : int
        Micro systems with at most this many unknowns are solved as one batch
        of dense LU factorizations; larger ones with a sparse LU per point.
    cache : dict, optional
        An explicit store of computed tensors, keyed by the exact bytes of the
        point coordinates: the micro problems are linear, so ``A_H(x)`` never
        changes and repeated calls at the same points (every Newton iterate,
        every load step) cost a look-up. Pass ``{}`` to enable, share it
        between samplers only if they are identical.

    Notes
    -----
    ``evaluate(g, x)`` with ``g (*idx, *pts)`` (``idx = (d,)`` or ``(d, d)``)
    and ``x (d, *pts)`` returns ``flux = A_H : g`` and ``tangent = A_H``
    ``(*idx, *idx, *pts)``; ``info["micro_dofs"]`` holds the micro system
    size. The macro :class:`fe2.macro.Problem` passes ``x`` because
    ``needs_coordinates`` is True. No history.
    """

    needs_coordinates = True

    def __init__(
        self,
        coefficient: Callable,
        eps: float,
        delta: float,
        coupling: str = "periodic",
        *,
        micro_h: float | None = None,
        order: int = 1,
        measure: str = "gradient",
        dim: int = 2,
        mesh: str = "quad",
        intorder: int | None = None,
        dense_limit: int = 200,
        cache: MutableMapping | None = None,
    ):
        name = "HMMSampler"
        if not callable(coefficient):
            raise ValueError(f"{name}: coefficient must be callable a(x) or a(x, y), got "
                             f"{type(coefficient).__name__}")
        nargs = _n_positional(coefficient)
        if nargs not in (1, 2):
            raise ValueError(f"{name}: coefficient must take (x) or (x, y), it requires {nargs} "
                             "positional arguments")
        self.coefficient = coefficient
        self._two_scale = nargs == 2
        self.eps = _positive(name, "eps", eps)
        self.delta = _positive(name, "delta", delta)
        if coupling not in COUPLINGS:
            raise ValueError(f"{name}: coupling must be one of {', '.join(map(repr, COUPLINGS))}, "
                             f"got {coupling!r}")
        if coupling == "periodic" and self.delta < self.eps * (1 - 1e-12):
            raise ValueError(
                f"{name}: delta = {self.delta:g} < eps = {self.eps:g} with periodic coupling; the "
                "box must hold at least one period (delta a multiple of eps for exact sampling)"
            )
        self.coupling = coupling
        self.micro_h = self.eps / 8 if micro_h is None else _positive(name, "micro_h", micro_h)
        if self.micro_h > self.delta * (1 + 1e-12):
            raise ValueError(f"{name}: micro_h = {self.micro_h:g} exceeds the box side "
                             f"delta = {self.delta:g}")
        if order not in (1, 2):
            raise ValueError(f"{name}: order must be 1 or 2, got {order!r}")
        if measure not in _MEASURES:
            raise ValueError(f"{name}: measure must be 'gradient' (conduction) or 'strain' "
                             f"(elasticity), got {measure!r}")
        if dim not in (2, 3):
            raise ValueError(f"{name}: dim must be 2 or 3, got {dim!r}")
        if mesh not in ("quad", "tri"):
            raise ValueError(f"{name}: mesh must be 'quad' or 'tri', got {mesh!r}")
        self.order, self.measure, self.dim, self.mesh = int(order), measure, int(dim), mesh
        self.intorder = intorder
        self.dense_limit = int(dense_limit)
        if cache is not None and not isinstance(cache, MutableMapping):
            raise ValueError(f"{name}: cache must be a dict-like object or None, got "
                             f"{type(cache).__name__}")
        self.cache = cache
        self.n_div = max(1, int(math.ceil(self.delta / self.micro_h - 1e-9)))
        self._box: _MicroBox | None = None
        self.stats = {"points": 0, "seconds": 0.0}

    def __repr__(self) -> str:
        return (f"HMMSampler(eps={self.eps:g}, delta={self.delta:g}, coupling={self.coupling!r}, "
                f"micro {self.n_div}^{self.dim} {self.mesh} P{self.order}, "
                f"measure={self.measure!r})")

    def __getstate__(self) -> dict:
        st = self.__dict__.copy()
        st["_box"] = None  # rebuilt lazily in the worker
        return st

    @property
    def box(self) -> _MicroBox:
        """The reference micro problem (mesh, basis, constraint pattern), built on first use."""
        if self._box is None:
            self._box = _MicroBox(self.dim, self.n_div, self.order, self.measure, self.mesh,
                                  self.coupling, self.intorder)
            log.debug("%r: %d micro unknowns", self, self._box.n)
        return self._box

    @property
    def micro_dofs(self) -> int:
        """Unknowns of one micro system (reduced dofs plus multipliers)."""
        return self.box.n

    # .............................................................. core

    def _coefficient_at(self, xp: np.ndarray) -> np.ndarray:
        """Coefficient ``(P, nel, nqp, nA, nA)`` at the micro quadrature points, boxes at ``xp``."""
        b = self.box
        X = xp[:, :, None, None] + self.delta * b.Xq[:, None]  # (d, P, nel, nqp)
        pts = X.shape[1:]
        val = self.coefficient(X, X / self.eps) if self._two_scale else self.coefficient(X)
        A = _as_tensor(val, self.measure, self.dim, pts, "HMMSampler")
        A = A.reshape(b.nA, b.nA, *pts)
        if not np.all(np.isfinite(A)):
            raise OracleError("HMMSampler: the coefficient returned non-finite values")
        return np.moveaxis(A, (0, 1), (3, 4))

    def _chunk_tensors(self, xp: np.ndarray) -> np.ndarray:
        """``A_H`` ``(P, nA, nA)`` for box centres ``xp (d, P)``.

        ``A_H[a, b] = <A[a, b]> + int e_a . A grad w_b``: the corrector ``w_b``
        solves ``K w_b = -F_b`` with the loads ``F_b[i] = int grad(phi_i) . A e_b``,
        and the correction is read with the adjoint loads ``F*_a[i] = int
        grad(phi_i) . A^T e_a`` (equal to ``F_a`` only for a symmetric ``A``).
        Every point is solved on its own (batched dense LU, or a fresh sparse
        factorization per point), so the answer does not depend on the points
        solved with it.
        """
        b = self.box
        P = xp.shape[1]
        A = self._coefficient_at(xp)  # (P, nel, nqp, nA, nA)
        nb, nA, nel = b.nb, b.nA, b.nel
        if b.M is not None:
            out = np.matmul(A.reshape(P, nel, b.K).transpose(1, 0, 2), b.M)  # (nel, P, width)
            o1, o2, o3 = nb * nb, nb * nb + nb * nA, nb * nb + 2 * nb * nA
            ke = out[:, :, :o1].transpose(0, 2, 1).reshape(nel * nb * nb, P)
            fe = out[:, :, o1:o2].reshape(nel, P, nb, nA)
            fe = fe.transpose(0, 2, 1, 3).reshape(nel * nb, P * nA)
            fa = out[:, :, o2:o3].reshape(nel, P, nb, nA)
            fa = fa.transpose(0, 2, 1, 3).reshape(nel * nb, P * nA)
            mean = out[:, :, o3:].sum(axis=0).reshape(P, nA, nA)
        else:  # large boxes: batched products per quadrature point
            mean = np.einsum("peqab,eq->pab", A, b.dx)
            T = np.matmul(b.Gw[None], A)  # (P, nel, nqp, nb, nA): grad(phi_i) . A e_b
            ke = np.matmul(T, np.swapaxes(b.G, -1, -2)[None]).sum(axis=2)  # (P, nel, nb, nb)
            ke = ke.reshape(P, -1).T
            fe = T.sum(axis=2).transpose(1, 2, 0, 3).reshape(nel * nb, P * nA)
            Ta = np.matmul(b.Gw[None], np.swapaxes(A, -1, -2)).sum(axis=2)  # A^T: adjoint loads
            fa = Ta.transpose(1, 2, 0, 3).reshape(nel * nb, P * nA)
        system = b.system
        data = system.data(ke).T  # (P, nnz)
        f = (system.element_loads @ fe).reshape(b.n, P, nA).transpose(1, 0, 2)  # (P, n, nA)
        fa = (system.element_loads @ fa).reshape(b.n, P, nA).transpose(1, 0, 2)  # (P, n, nA)
        if b.n <= self.dense_limit:
            K = np.zeros((P, b.n * b.n))
            K[:, system.keys] = data
            w = np.linalg.solve(K.reshape(P, b.n, b.n), -f)
        else:
            from fe2.linalg import FactorKrylov

            solve = FactorKrylov()
            w = np.empty_like(f)
            for p in range(P):
                # a fresh factorization per point: GMRES preconditioned with another
                # point's factors would make the answer depend on chunking and executor
                solve.reset()
                K = sp.csr_matrix((data[p], system.indices, system.indptr), shape=(b.n, b.n))
                w[p] = solve(K, -f[p])
        return mean + np.einsum("pka,pkb->pab", fa, w)

    def effective_tensor(self, x: np.ndarray) -> np.ndarray:
        """Estimated ``A_H`` at physical points ``x (d, *pts)``: ``(*idx, *idx, *pts)``."""
        x = np.asarray(x, dtype=float)
        if x.ndim < 1 or x.shape[0] != self.dim:
            raise OracleError(f"HMMSampler: x must have shape ({self.dim}, *pts), got {x.shape}")
        pts = x.shape[1:]
        ishape = self.input_shape
        key = None
        if self.cache is not None:
            key = (x.shape, hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest())
            if key in self.cache:
                self.stats["cache_hits"] = self.stats.get("cache_hits", 0) + 1
                return self.cache[key].copy()
        xp = x.reshape(self.dim, -1)
        P = xp.shape[1]
        b = self.box
        t0 = time.perf_counter()
        per_point = 8.0 * b.nel * (b.nqp * (b.nA * b.nA + 2 * b.nb * b.nA) + 2 * b.nb * b.nb)
        per_point += 8.0 * b.n * (b.n + b.nA)
        chunk = max(1, int(_BATCH_BYTES // per_point))
        out = np.empty((P, b.nA, b.nA))
        for s in range(0, P, chunk):
            out[s : s + chunk] = self._chunk_tensors(xp[:, s : s + chunk])
        self.stats["points"] += P
        self.stats["seconds"] += time.perf_counter() - t0
        tangent = np.moveaxis(out, 0, -1).reshape(ishape + ishape + pts)
        if key is not None:
            self.cache[key] = tangent.copy()
        return tangent

    def evaluate(self, g: np.ndarray, x: np.ndarray | None = None,
                 state: dict | None = None) -> Response:
        """Flux ``A_H : g`` and tangent ``A_H`` at points ``x (d, *pts)``; ``g (*idx, *pts)``."""
        pts = self.check_input(g)
        if x is None:
            raise OracleError(
                "HMMSampler needs the physical coordinates x (d, *pts) of the macro points "
                "(evaluate(g, x=points)); fe2.macro.Problem passes them automatically"
            )
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dim,) + pts:
            raise OracleError(f"HMMSampler: x has shape {x.shape}, expected {(self.dim,) + pts} "
                              f"to match g {np.shape(g)}")
        tangent = self.effective_tensor(x)
        nI = len(self.input_shape)
        gi = np.asarray(g, dtype=float)
        flux = np.einsum(tangent, list(range(2 * nI)) + [...], gi, list(range(nI, 2 * nI)) + [...],
                         list(range(nI)) + [...])
        info = {"micro_dofs": np.full(pts, self.box.n, dtype=np.int64)}
        return Response(flux=flux, tangent=tangent, state=None, info=info)


# ---------------------------------------------------------------- fine-scale reference


class FineScaleOracle(OracleBase):
    """Linear oracle evaluating the fine-scale coefficient ``a^eps(x)`` at the points.

    For the direct numerical simulation (DNS) with :class:`fe2.macro.Problem`
    on a mesh resolving ``eps``: ``flux = a(x) g``, ``tangent = a(x)``.

    Parameters
    ----------
    coefficient : callable
        As in :class:`HMMSampler`: ``a(x)`` or ``a(x, y)`` with ``y = x / eps``.
    eps : float, optional
        Needed only for a two-argument coefficient.
    measure : {"gradient", "strain"}
    dim : {2, 3}
    """

    needs_coordinates = True

    def __init__(self, coefficient: Callable, eps: float | None = None,
                 measure: str = "gradient", dim: int = 2):
        if not callable(coefficient):
            raise ValueError("FineScaleOracle: coefficient must be callable a(x) or a(x, y)")
        self.coefficient = coefficient
        self._two_scale = _n_positional(coefficient) == 2
        if self._two_scale:
            if eps is None:
                raise ValueError("FineScaleOracle: a coefficient a(x, y) needs eps (y = x / eps)")
            eps = _positive("FineScaleOracle", "eps", eps)
        self.eps = eps
        if measure not in _MEASURES:
            raise ValueError(f"FineScaleOracle: measure must be 'gradient' or 'strain', got "
                             f"{measure!r}")
        self.measure, self.dim = measure, int(dim)

    def evaluate(self, g: np.ndarray, x: np.ndarray | None = None,
                 state: dict | None = None) -> Response:
        """``flux = a(x) : g``, ``tangent = a(x)`` ``(*idx, *idx, *pts)``."""
        pts = self.check_input(g)
        if x is None:
            raise OracleError("FineScaleOracle needs the physical coordinates x (d, *pts)")
        x = np.asarray(x, dtype=float)
        val = self.coefficient(x, x / self.eps) if self._two_scale else self.coefficient(x)
        t = _as_tensor(val, self.measure, self.dim, pts, "FineScaleOracle")
        nI = len(self.input_shape)
        flux = np.einsum(t, list(range(2 * nI)) + [...], np.asarray(g, float),
                         list(range(nI, 2 * nI)) + [...], list(range(nI)) + [...])
        return Response(flux=flux, tangent=t)


def dns_solve(
    coefficient: Callable,
    f: Callable[[np.ndarray], np.ndarray] | float,
    n: int,
    *,
    eps: float | None = None,
    order: int = 1,
    mesh: str = "quad",
    domain: Sequence[Sequence[float]] = ((0.0, 1.0), (0.0, 1.0)),
    boundary_value: float = 0.0,
    solver: Callable | None = None,
):
    """Direct numerical simulation of ``-div(a^eps grad u) = f``, ``u = g`` on the boundary.

    A tensor-product mesh with ``n`` elements per side on the box ``domain``
    (it must resolve ``eps``: several elements per period), the
    :class:`FineScaleOracle` of ``coefficient`` in a scalar
    :class:`fe2.macro.Problem`, one Newton step (the problem is linear).

    Parameters
    ----------
    coefficient : callable
        ``a(x)`` or ``a(x, y)`` (then ``eps`` is needed).
    f : callable or float
        Source ``f(x)`` with ``x (d, *pts)`` returning ``(*pts)``, or a constant.
    n : int
        Elements per side.
    eps : float, optional
        Fine scale, needed for a coefficient ``a(x, y)`` (``y = x / eps``).
    order : {1, 2}
        Lagrange order.
    mesh : {"quad", "tri"}
        Quadrilaterals / hexahedra or triangles / tetrahedra on the tensor grid.
    domain : sequence of (lo, hi)
        One interval per dimension (2D or 3D).
    boundary_value : float
        Dirichlet value on the whole boundary.
    solver : callable, optional
        Linear solver from :mod:`fe2.linalg` (default SciPy direct).

    Returns
    -------
    fe2.macro.Problem
        Solved: ``problem.u`` are the dofs of ``problem.basis``.
    """
    from fe2.macro import NewtonOptions, Problem

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"dns_solve: n must be a positive integer, got {n!r}")
    dim = len(domain)
    axes = [np.linspace(float(lo), float(hi), int(n) + 1) for lo, hi in domain]
    if mesh == "quad":
        m = (skfem.MeshQuad if dim == 2 else skfem.MeshHex).init_tensor(*axes)
    elif mesh == "tri":
        m = (skfem.MeshTri if dim == 2 else skfem.MeshTet).init_tensor(*axes)
    else:
        raise ValueError(f"dns_solve: mesh must be 'quad' or 'tri', got {mesh!r}")
    m = m.with_boundaries({"boundary": lambda x: np.ones(x.shape[1], dtype=bool)})
    oracle = FineScaleOracle(coefficient, eps=eps, dim=dim)
    prob = Problem(m, oracle, kind="scalar", order=order, solver=solver, name=f"DNS {n}^{dim}")
    prob.dirichlet("boundary", boundary_value)
    src = f if callable(f) else (lambda x, v=float(f): np.full(x.shape[1:], v))
    prob.body_load(lambda x, t: t * np.asarray(src(x)))
    prob.solve(NewtonOptions(rtol=1e-8, max_iter=3))
    return prob
