"""On-the-fly tabulation of a micro equation of state: micro calls per distinct state.

:class:`TabulatedFlux` wraps any ``"conserved"`` flux oracle (:class:`fe2.gas.IdealGas`,
:class:`fe2.gas.KineticFlux`, a molecular model) and asks it only for states *at rest*
``(rho, 0, rho e)``, reading the equilibrium pressure ``p(rho, e)`` (the diagonal of the
momentum flux) and the sound speed ``c(rho, e)`` (``info["wave_speed"]`` at rest). Those
are stored in a table over ``(log rho, log (e - e_floor))`` and interpolated; the micro oracle is
called again only where the interpolation error estimate exceeds ``tol`` or the state
leaves the tabulated region, so the number of micro calls grows with the number of
distinct thermodynamic states, not with cells x steps.

Assumptions
-----------
The micro model is Galilean invariant with an isotropic equilibrium pressure and no
viscous stress or heat flux, so the full Euler flux at velocity ``u`` follows from ``p``::

    F_mass = rho u,   F_mom = rho u u^T + p I,   F_E = (E + p) u.

Interpolation and error estimate
--------------------------------
Coordinates ``(x, y) = (log rho, log (e - e_floor))``, value ``log p``, where ``e_floor`` is
the oracle's ``energy_floor`` attribute (a lower bound of the specific internal energy: 0
for an ideal gas, the default; negative for a liquid, whose configurational energy is).
The table is the Delaunay
triangulation (:class:`scipy.spatial.Delaunay`) of the stored states; a query takes the
linear interpolant of ``log p`` on its triangle. Its error is estimated by the difference
from a local quadratic least-squares fit of ``log p`` on a 2D stencil: the triangle's
vertices, the opposite vertices of its neighbours and the nearest stored states
(:class:`scipy.spatial.cKDTree`); that difference is, to first order, the relative error
of ``p``. Queries within ``0.1 tol`` (log units) of a stored state take the linear value
without estimate (a resolution floor that bounds the refinement). Queries whose estimate
exceeds ``tol`` (or whose fit is rank deficient) are sent
to the micro oracle, in one batched :func:`fe2.oracle.evaluate` call per flux evaluation
(after removing duplicate states), and their results are stored and used exactly.

The tabulated region is a box in ``(x, y)`` whose four corners are micro states, so every
query inside the box lies inside the triangulation. A query outside the box grows the box
(with a margin) and adds its new corners; the hull thus expands geometrically, not state
by state. Linear interpolation of ``log p`` is exact for an ideal gas (``log p = x + y +
const``), so with :class:`IdealGas` the table holds little more than the box corners.

A noisy micro oracle (e.g. :class:`KineticFlux`) needs ``tol`` above its noise level,
otherwise the estimate never falls below ``tol`` and every state is a micro call.

Wave speed: ``|u| + c`` with ``c`` the oracle's wave speed *at rest*, interpolated
linearly in ``log c`` on the same triangle (not covered by the ``tol`` estimate).

The table lives in this object: evaluate it in-process (do not hand ``TabulatedFlux``
itself to a process executor, whose workers would update copies); pass ``executor`` here
to run the micro calls in parallel.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial import Delaunay, cKDTree

from fe2.oracle import OracleBase, OracleError, Response
from fe2.oracle import evaluate as oracle_evaluate

from .flux import euler_flux, rest_state

__all__ = ["TabulatedFlux"]

log = logging.getLogger(__name__)

_K_NEAREST = 10
_MIN_MARGIN = 0.05  # smallest box margin in log units


class TabulatedFlux(OracleBase):
    """Euler flux from a tabulated equilibrium pressure, refined on the fly by a micro oracle.

    Parameters
    ----------
    oracle : oracle
        Micro flux oracle with measure ``"conserved"`` and ``dim`` in 1..3, evaluated only
        at rest states ``(rho, 0, rho e)``; ``flux[k, 1 + k]`` is read as the pressure and
        ``info["wave_speed"]`` as the sound speed.
    tol : float
        Relative tolerance on the interpolated pressure, ``0 < tol < 1``.
    margin : float
        Relative growth of the tabulated box when a state falls outside it (> 0): each
        side moves out by ``margin`` times the box extent (at least 0.05 in log units). The first
        box is seeded with a 3 x 3 grid of micro states.
    executor : concurrent.futures.Executor, optional
        Where the micro calls run (:func:`fe2.oracle.evaluate`).

    Notes
    -----
    ``evaluate(U)`` takes ``U (dim + 2, *pts)`` and returns ``flux (dim, dim + 2, *pts)``
    and ``info["wave_speed"] (pts)``, like the wrapped oracle. ``self.stats`` counts
    ``queries`` (points asked), ``micro_calls`` (batched oracle calls), ``micro_states``
    (states stored), ``refined`` (states added because the estimate exceeded ``tol``)
    and ``expansions`` (box growths).
    """

    measure = "conserved"

    def __init__(self, oracle, tol: float = 1e-4, margin: float = 0.25, executor=None):
        try:
            tol_f = float(tol)
        except (TypeError, ValueError):
            raise ValueError(
                f"TabulatedFlux: tol must be a number in (0, 1), got {tol!r}"
            ) from None
        if isinstance(tol, bool) or not (0.0 < tol_f < 1.0):
            raise ValueError(f"TabulatedFlux: tol must be a number in (0, 1), got {tol!r}")
        margin_f = float(margin)
        if not (np.isfinite(margin_f) and margin_f > 0):
            raise ValueError(f"TabulatedFlux: margin must be a finite number > 0, got {margin!r}")
        if getattr(oracle, "measure", None) != "conserved":
            raise ValueError(
                f"TabulatedFlux: oracle must have measure 'conserved', got "
                f"{getattr(oracle, 'measure', None)!r}"
            )
        dim = getattr(oracle, "dim", 1)
        if dim not in (1, 2, 3):
            raise ValueError(f"TabulatedFlux: oracle dim must be 1, 2 or 3, got {dim!r}")
        self.oracle = oracle
        self.tol = tol_f
        self.margin = margin_f
        self.executor = executor
        self.dim = int(dim)
        self.ncons = self.dim + 2
        self.n_conserved = self.ncons
        self.energy_floor = float(getattr(oracle, "energy_floor", 0.0))
        if hasattr(oracle, "gamma"):
            self.gamma = oracle.gamma  # used by shock_tube to convert primitive states
        self._pts = np.empty((0, 2))  # (n, 2): log rho, log e
        self._logp = np.empty(0)
        self._logc = np.empty(0)
        self._box: np.ndarray | None = None  # [[xmin, ymin], [xmax, ymax]]
        self._tri: Delaunay | None = None
        self._tree: cKDTree | None = None
        self.stats = {"queries": 0, "micro_calls": 0, "micro_states": 0, "refined": 0,
                      "expansions": 0}

    def __repr__(self) -> str:
        return f"TabulatedFlux({self.oracle!r}, tol={self.tol:g})"

    # ------------------------------------------------------------ table

    def _micro(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ask the oracle at rest states ``xy (n, 2)``; store and return ``log p, log c``."""
        d = self.dim
        rho, e = np.exp(xy[:, 0]), self.energy_floor + np.exp(xy[:, 1])
        U = np.zeros((d + 2, len(xy)))
        U[0], U[d + 1] = rho, rho * e
        r = oracle_evaluate(self.oracle, U, executor=self.executor)
        flux = np.asarray(r.flux)
        p = np.mean([flux[k, 1 + k] for k in range(d)], axis=0)
        c = np.asarray(r.info["wave_speed"], dtype=float).reshape(-1)
        bad = ~((p > 0) & (c > 0) & np.isfinite(p) & np.isfinite(c))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise OracleError(
                f"TabulatedFlux: micro oracle gave pressure {p[i]:.6g} and sound speed "
                f"{c[i]:.6g} at rest state rho={rho[i]:.6g}, e={e[i]:.6g}; both must be > 0"
            )
        self.stats["micro_calls"] += 1
        self._pts = np.concatenate([self._pts, xy])
        self._logp = np.concatenate([self._logp, np.log(p)])
        self._logc = np.concatenate([self._logc, np.log(c)])
        self.stats["micro_states"] = len(self._pts)
        self._tri = self._tree = None
        return np.log(p), np.log(c)

    def _grow(self, xy: np.ndarray) -> None:
        """Grow the box to hold ``xy (n, 2)`` with a margin and add its new corners."""
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        if self._box is not None:
            if np.all(lo >= self._box[0]) and np.all(hi <= self._box[1]):
                return
            lo, hi = np.minimum(lo, self._box[0]), np.maximum(hi, self._box[1])
        pad = np.maximum(self.margin * (hi - lo), _MIN_MARGIN)
        if self._box is not None:  # move out only the sides that were crossed
            pad = np.where(lo < self._box[0], pad, 0.0), np.where(hi > self._box[1], pad, 0.0)
        else:
            pad = (pad, pad)
        lo, hi = lo - pad[0], hi + pad[1]
        first = self._box is None
        self._box = np.array([lo, hi])
        if first or len(self._pts) < 9:  # first box: a 3 x 3 grid (quadratic fit)
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 3), np.linspace(lo[1], hi[1], 3))
            corners = np.stack([gx.ravel(), gy.ravel()], axis=1)
        else:
            corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [lo[0], hi[1]], [hi[0], hi[1]]])
        self.stats["expansions"] += 1
        log.debug("TabulatedFlux: box grown to log rho %s, log e %s", self._box[:, 0],
                  self._box[:, 1])
        self._micro(corners)

    def _interpolate(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linear ``log p``, ``log c`` and error estimate at ``xy (n, 2)`` inside the box."""
        if self._tri is None:
            self._tri = Delaunay(self._pts)
            self._tree = cKDTree(self._pts)
        tri = self._tri
        s = tri.find_simplex(xy)
        if np.any(s < 0):  # pragma: no cover - the box corners make the hull the box
            raise OracleError("TabulatedFlux: state outside the triangulation (internal error)")
        T = tri.transform[s]  # (n, 3, 2)
        b = np.einsum("nij,nj->ni", T[:, :2], xy - T[:, 2])
        bary = np.concatenate([b, 1.0 - b.sum(axis=1, keepdims=True)], axis=1)
        verts = tri.simplices[s]  # (n, 3)
        lin_p = np.sum(bary * self._logp[verts], axis=1)
        lin_c = np.sum(bary * self._logc[verts], axis=1)
        # quadratic least squares on a 2D stencil: the triangle, the opposite vertices of
        # its neighbours (the triangle's own vertex where there is none) and the nearest states
        nb = tri.neighbors[s]  # (n, 3), -1 on the hull
        opp = verts.copy()
        for j in range(3):  # the vertex of neighbour j not shared with the triangle
            nbv = tri.simplices[np.maximum(nb[:, j], 0)]  # (n, 3)
            shared = (nbv[:, :, None] == verts[:, None, :]).any(axis=2)
            other = nbv[np.arange(len(xy)), np.argmin(shared, axis=1)]
            opp[:, j] = np.where(nb[:, j] >= 0, other, verts[:, j])
        k = min(_K_NEAREST - 4, len(self._pts))
        dist, near = self._tree.query(xy, k=k)
        idx = np.concatenate([verts, opp, near.reshape(len(xy), k)], axis=1)
        d2 = self._pts[idx] - xy[:, None, :]  # (n, m, 2)
        h = np.maximum(np.max(np.hypot(d2[..., 0], d2[..., 1]), axis=1), 1e-300)[:, None]
        dx, dy = d2[..., 0] / h, d2[..., 1] / h
        A = np.stack([np.ones_like(dx), dx, dy, dx * dx, dx * dy, dy * dy], axis=2)
        u, sv, vt = np.linalg.svd(A, full_matrices=False)  # (n, m, 6), (n, 6), (n, 6, 6)
        ok = sv[:, -1] > 1e-8 * sv[:, 0]
        rhs = np.einsum("nki,nk->ni", u, self._logp[idx]) / np.where(ok[:, None], sv, 1.0)
        coef0 = np.einsum("ni,ni->n", vt[:, :, 0], rhs)
        est = np.where(ok, np.abs(coef0 - lin_p), np.inf)
        # within the resolution floor of a stored state the table is taken as exact
        # (|log p| changes by ~|grad log p| * 0.1 tol there): this bounds the refinement
        dist0 = np.asarray(dist).reshape(len(xy), -1)[:, 0]
        est = np.where(dist0 <= 0.1 * self.tol, 0.0, est)
        return lin_p, lin_c, est

    # ------------------------------------------------------------ oracle

    def evaluate(self, U, x=None, state=None) -> Response:
        """Euler flux ``(dim, dim + 2, *pts)`` and ``info["wave_speed"] (pts)`` from the table.

        Raises
        ------
        OracleError
            For non-finite input, ``rho <= 0`` or non-positive internal energy (the table is
            in ``log (e - e_floor)``), naming the first bad point.
        """
        st = rest_state("TabulatedFlux", self, U, e_min=self.energy_floor, strict=True)
        n, u = st.n, st.u
        self.stats["queries"] += n
        xy_all = np.stack([np.log(st.rho), np.log(st.e - self.energy_floor)], axis=1)
        xy, inverse = np.unique(xy_all, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        self._grow(xy)
        logp, logc, est = self._interpolate(xy)
        need = est > self.tol
        if np.any(need):
            self.stats["refined"] += int(need.sum())
            logp[need], logc[need] = self._micro(xy[need])
        p = np.exp(logp)[inverse]
        c = np.exp(logc)[inverse]
        flux = euler_flux(st, p)
        speed = np.sqrt(np.sum(u * u, axis=0)) + c
        return Response(flux=flux, tangent=None, info={"wave_speed": speed.reshape(st.pts)})
