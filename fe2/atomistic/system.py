"""Full atomistic reference: pair-potential energy, forces, Hessian and relaxation.

An :class:`AtomisticSystem` holds the potential, the (current) periodic box and
the fixed atoms; its methods take current positions ``x (n, d)``:

* :meth:`~AtomisticSystem.energy_and_gradient`: ``E = sum_pairs w_ab phi(|x_b - x_a + H m_ab|)``
  and ``dE/dx (n, d)``;
* :meth:`~AtomisticSystem.hessian`: the sparse ``(n d, n d)`` Hessian;
* :meth:`~AtomisticSystem.relax`: energy minimization over the free atoms by
  SciPy's trust-region Newton with the analytic sparse Hessian (converges to
  round-off) or SciPy's L-BFGS with analytic forces.

The box ``H (d, d)`` has the periodic vectors as columns; a homogeneously deformed
periodic crystal uses ``x = F X`` and ``H = F H0``. Neighbour pairs come from a
:class:`NeighbourList` (numba cell list over the atoms and their periodic images,
Verlet skin, :mod:`fe2.atomistic.neighbours`; rebuilt when an atom has moved by more
than half the skin or the box changed). Each pair is stored once as ``(a, b, m)`` with integer image
``m``. A bonded potential (:class:`~fe2.atomistic.potentials.HarmonicSpring`) acts on
the pairs closer than ``bond_radius`` in the reference configuration, for good.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import minimize

from fe2.atomistic.kernels import pair_sum
from fe2.atomistic.lattice import Crystal
from fe2.atomistic.neighbours import NeighbourList, build_pairs
from fe2.atomistic.potentials import PairPotential, check_potential

__all__ = ["AtomisticSystem", "Relaxation", "minimize_energy", "pair_energy"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- energy kernels


def pair_energy(
    potential: PairPotential,
    x: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    box: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    hessian: bool = False,
    blocks: bool = False,
):
    """Energy, gradient ``(n, d)`` and (optionally) sparse Hessian of a weighted pair sum.

    ``E = sum_q weight_q phi(|x[b_q] - x[a_q] + box @ m_q|)`` over ``pairs = (a, b, m)``.
    Returns ``(E, grad, H or None)``; H is ``(n d, n d)`` CSR, or with ``blocks`` the
    per-pair blocks ``d2 E / dr2`` ``(np, d, d)``.
    """
    hessian = hessian or blocks
    x = np.ascontiguousarray(x, dtype=float)
    n, d = x.shape
    pi, pj, pm = pairs
    H = np.zeros((d, d)) if box is None else np.ascontiguousarray(box, dtype=float)
    w = np.ones(len(pi)) if weight is None else np.ascontiguousarray(weight, dtype=float)
    grad = np.empty((n, d))
    K = np.empty((len(pi) if hessian else 0, d, d))
    tiny2 = 1e-12 * (potential.r_min**2)
    E, bad = pair_sum(x, H, pi, pj, pm, w, potential.kind, potential.params,
                          potential.bonded, tiny2, grad, hessian, K)
    if bad:
        raise ValueError(f"{bad} pairs of atoms overlap (distance ~ 0); positions are invalid")
    if not hessian:
        return E, grad, None
    if blocks:
        return E, grad, K
    return E, grad, assemble_pair_hessian(K, pi, pj, n)


def assemble_pair_hessian(K: np.ndarray, pi: np.ndarray, pj: np.ndarray, n: int) -> sp.csr_matrix:
    """Sparse ``(n d, n d)`` Hessian from per-pair blocks ``K (np, d, d)``."""
    d = K.shape[1]
    comp = np.arange(d)
    di = pi[:, None] * d + comp[None, :]  # (np, d)
    dj = pj[:, None] * d + comp[None, :]
    rows, cols, vals = [], [], []
    for ra, ca, sgn in ((di, di, 1.0), (dj, dj, 1.0), (di, dj, -1.0), (dj, di, -1.0)):
        rows.append(np.repeat(ra, d, axis=1).ravel())
        cols.append(np.tile(ca, (1, d)).ravel())
        vals.append(sgn * K.reshape(len(K), d * d).ravel())
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n * d, n * d)
    )


# ---------------------------------------------------------------- the system


@dataclass(frozen=True)
class Relaxation:
    """Result of an energy minimization.

    Attributes
    ----------
    positions : ndarray
        ``(n, d)`` relaxed positions.
    energy : float
        Energy at the relaxed positions.
    max_force : float
        Largest force component on a free atom (or dof).
    iterations : int
    converged : bool
    method : str
    seconds : float
    """

    positions: np.ndarray
    energy: float
    max_force: float
    iterations: int
    converged: bool
    method: str
    seconds: float


class AtomisticSystem:
    """Atoms interacting by a pair potential, with a periodic box and fixed atoms.

    Parameters
    ----------
    potential : PairPotential
        LennardJones, Morse or HarmonicSpring.
    box : ndarray, optional
        ``(d, d)``, periodic vectors as columns (current configuration).
    periodic : bool or tuple of bool
        Periodic box axes (needs ``box``).
    fixed : ndarray, optional
        Boolean mask ``(n,)`` or indices of atoms held at their given positions.
    reference : ndarray, optional
        ``(n, d)`` reference positions; needed for a bonded potential (the bonds
        are the reference pairs closer than ``bond_radius``).
    reference_box : ndarray, optional
        ``(d, d)`` box of the reference configuration (default: ``box``).
    bond_radius : float, optional
        For a bonded potential: between the first and second neighbour distances.
    skin : float
        Verlet skin of the neighbour list.
    """

    def __init__(
        self,
        potential: PairPotential,
        box: np.ndarray | None = None,
        periodic: bool | tuple[bool, ...] = False,
        fixed: np.ndarray | None = None,
        reference: np.ndarray | None = None,
        bond_radius: float | None = None,
        skin: float | None = None,
        reference_box: np.ndarray | None = None,
    ):
        name = type(self).__name__
        self.potential = check_potential(name, potential)
        self.box = None if box is None else np.array(box, dtype=float)
        d = None if self.box is None else self.box.shape[0]
        if isinstance(periodic, bool | np.bool_):
            per = None if d is None else (bool(periodic),) * d
            if periodic and d is None:
                raise ValueError(f"{name}: periodic=True needs the box (d, d)")
        else:
            per = tuple(bool(p) for p in periodic)
            if any(per) and self.box is None:
                raise ValueError(f"{name}: periodic={periodic!r} needs the box (d, d)")
        self.periodic = per
        self.fixed = fixed
        self._bonds = None
        if potential.bonded:
            if reference is None or bond_radius is None:
                raise ValueError(
                    f"{name}: a bonded potential ({potential!r}) needs reference positions and "
                    f"bond_radius (e.g. AtomisticSystem.from_crystal)"
                )
            rbox = self.box if reference_box is None else np.asarray(reference_box, float)
            self._bonds = build_pairs(np.asarray(reference, float), float(bond_radius),
                                      rbox, self.periodic)
            self._nl = None
        else:
            sk = 0.3 * potential.cutoff if skin is None else float(skin)
            self._nl = NeighbourList(potential.cutoff, sk, self.periodic)

    @classmethod
    def from_crystal(
        cls,
        crystal: Crystal,
        potential: PairPotential,
        F: np.ndarray | None = None,
        fixed: np.ndarray | None = None,
    ) -> AtomisticSystem:
        """System of a :class:`~fe2.atomistic.lattice.Crystal` whose box is deformed by ``F``."""
        d = crystal.dim
        Fm = np.eye(d) if F is None else np.asarray(F, dtype=float)
        box = Fm @ crystal.box
        radius = crystal.lattice.bond_radius() * crystal.lattice_constant
        return cls(potential, box, crystal.periodic, fixed, reference=crystal.positions,
                   bond_radius=radius, reference_box=crystal.box)

    def pairs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Current neighbour pairs ``(a, b, image)`` for positions ``x (n, d)``."""
        if self._bonds is not None:
            return self._bonds
        return self._nl.update(x, self.box)

    def energy(self, x: np.ndarray) -> float:
        """Total energy at positions ``x (n, d)``."""
        return self.energy_and_gradient(x)[0]

    def energy_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Energy and ``dE/dx (n, d)`` (minus the forces)."""
        x = np.ascontiguousarray(x, dtype=float)
        E, g, _ = pair_energy(self.potential, x, self.pairs(x), self.box)
        return E, g

    def forces(self, x: np.ndarray) -> np.ndarray:
        """Forces ``-dE/dx (n, d)``."""
        return -self.energy_and_gradient(x)[1]

    def hessian(self, x: np.ndarray) -> sp.csr_matrix:
        """Sparse Hessian ``(n d, n d)`` at ``x``, dof ``a * d + k``."""
        x = np.ascontiguousarray(x, dtype=float)
        return pair_energy(self.potential, x, self.pairs(x), self.box, hessian=True)[2]

    def relax(
        self,
        x0: np.ndarray,
        method: Literal["newton", "lbfgs"] = "newton",
        gtol: float = 1e-10,
        max_iter: int = 200,
    ) -> Relaxation:
        """Minimize the energy over the free atoms from ``x0 (n, d)``.

        ``gtol``: largest free force component at convergence [energy / length].
        """
        x0 = np.array(x0, dtype=float)
        n, d = x0.shape
        free = _free(self, n, d)

        def fg(xf):
            x = x0.copy().ravel()
            x[free] = xf
            E, g = self.energy_and_gradient(x.reshape(n, d))
            return E, g.ravel()[free]

        def hess(xf):
            x = x0.copy().ravel()
            x[free] = xf
            return self.hessian(x.reshape(n, d))[free][:, free]

        xf, E, gmax, it, ok, dt = minimize_energy(fg, hess, x0.ravel()[free], method, gtol,
                                                  max_iter)
        x = x0.ravel().copy()
        x[free] = xf
        return Relaxation(x.reshape(n, d), E, gmax, it, ok, method, dt)


def _free(system: AtomisticSystem, n: int, d: int) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    if system.fixed is not None:
        f = np.asarray(system.fixed)
        if f.dtype == bool:
            if f.shape != (n,):
                raise ValueError(
                    f"AtomisticSystem: fixed mask has shape {f.shape}, expected ({n},)"
                )
            mask &= ~f
        else:
            mask[f.astype(np.int64)] = False
    elif system.periodic is not None and all(system.periodic):
        mask[0] = False  # remove the rigid translation of a fully periodic system
    return np.where(np.repeat(mask, d))[0]


def minimize_energy(fg, hess, x0, method="newton", gtol=1e-10, max_iter=200):
    """Minimize ``E(x)`` given ``fg(x) -> (E, grad)`` and ``hess(x) -> sparse``.

    ``x0 (m,)``: start; ``gtol``: largest gradient component at convergence.
    ``"newton"``: SciPy's trust-region Newton with the sparse Hessian
    (``scipy.optimize.minimize(method="trust-krylov")``: the trust-region
    subproblem solved in a Krylov space by the GLTR method, so negative curvature
    near a saddle or an unstable start is handled by the trust region), stopped
    when ``|grad|_2 <= gtol`` (which implies ``max|grad| <= gtol``), then finished
    by Newton steps judged by the gradient (:func:`_polish`). ``"lbfgs"``:
    SciPy's ``L-BFGS-B`` without bounds. Returns ``(x, E, max|grad|, iterations,
    converged, seconds)``; ``converged`` means ``max|grad| <= gtol``.
    """
    if method not in ("newton", "lbfgs"):
        raise ValueError(f"method must be 'newton' or 'lbfgs', got {method!r}")
    t0 = time.perf_counter()
    x = np.array(x0, dtype=float)
    if x.size == 0:
        E, _ = fg(x)
        return x, float(E), 0.0, 0, True, time.perf_counter() - t0
    if method == "lbfgs":
        res = minimize(fg, x, jac=True, method="L-BFGS-B",
                       options=dict(maxiter=max_iter * 50, maxcor=30, gtol=gtol, ftol=0.0,
                                    maxfun=max_iter * 100))
    else:
        cache: dict = {}

        def hessp(v, p):  # one sparse Hessian per iterate, reused by the Krylov products
            if cache.get("x") is None or not np.array_equal(cache["x"], v):
                cache["x"], cache["H"] = v.copy(), sp.csr_matrix(hess(v))
            return cache["H"] @ p

        res = minimize(fg, x, jac=True, hessp=hessp, method="trust-krylov",
                       options=dict(gtol=gtol, maxiter=max_iter))
    x = res.x
    E, g = fg(x)
    gmax = float(np.max(np.abs(g)))
    if method == "newton" and gmax > gtol:
        x, E, g, gmax = _polish(fg, hess, x, E, g, gmax, gtol)
    log.debug("%s: %d iterations, E=%.12g, max|g|=%.3e (%s)", method, res.nit, E, gmax,
              res.message)
    return x, float(E), gmax, int(res.nit), gmax <= gtol, time.perf_counter() - t0


_POLISH_STEPS = 6


def _polish(fg, hess, x, E, g, gmax, gtol):
    """Finish a trust-region minimization with Newton steps judged by the gradient.

    SciPy's trust-region methods accept a step by the ratio of the actual to the
    predicted energy decrease; once ``|grad|`` is about 1e-9 that decrease is below
    the round-off of ``E`` and they stop ("failure to predict improvement"). Near a
    strict minimum plain Newton steps ``H dx = -grad`` converge quadratically, so a
    few of them, each kept only if it reduces ``max|grad|``, reach round-off.
    """
    for _ in range(_POLISH_STEPS):
        try:
            lu = spla.splu(sp.csc_matrix(hess(x)), permc_spec="MMD_AT_PLUS_A")
        except RuntimeError:  # singular Hessian: leave it to the caller's converged flag
            break
        x1 = x + lu.solve(-g)
        E1, g1 = fg(x1)
        gmax1 = float(np.max(np.abs(g1)))
        if not gmax1 < gmax:
            break
        x, E, g, gmax = x1, E1, g1, gmax1
        if gmax <= gtol:
            break
    return x, E, g, gmax
