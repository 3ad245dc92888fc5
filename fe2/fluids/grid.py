"""The staggered (MAC) grid: layout, wall and periodic boundaries, discrete operators.

A rectangle ``[0, lx] x [0, ly]`` cut into ``nx x ny`` cells of size ``hx x hy``.
Pressure lives at cell centres ``(nx, ny)``; ``u`` on the x-faces (``x = i hx``,
``y = (j + 1/2) hy``) and ``v`` on the y-faces (``x = (i + 1/2) hx``, ``y = j hy``).
The horizontal walls ``y = 0`` and ``y = ly`` are always no-slip walls that may slide
(``u = wall speed``); in x the domain is either closed by two fixed walls (cavity) or
periodic (channel).

Velocity arrays carry one ghost layer (``U``: ``(nx + 3, ny + 2)``, index ``U[i + 1,
j + 1]`` is face ``i``, cell row ``j``; ``V``: ``(nx + 2, ny + 3)``); :meth:`MACGrid.fill`
sets the ghosts so that the wall values hold on the wall to second order
(``u_ghost = 2 u_wall - u_inside``). Every operator is the standard second-order
central MAC stencil; the pressure Laplacian is exactly ``div grad``, so the projected
velocity is divergence free to round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["MACGrid"]


def _lap1d(n: int, h: float, kind: str) -> sp.csr_matrix:
    """1D second difference ``(n, n)``.

    ``node`` (Dirichlet values on the boundary nodes), ``cell`` (Dirichlet by ghost
    reflection), ``neumann`` (cell-centred, zero flux) or ``periodic``.
    """
    main = -2.0 * np.ones(n)
    off = np.ones(n - 1)
    if kind == "cell":
        main[[0, -1]] = -3.0
    elif kind == "neumann":
        main[[0, -1]] = -1.0
    A = sp.diags([off, main, off], [-1, 0, 1], shape=(n, n), format="lil")
    if kind == "periodic":
        if n == 1:  # one cell is its own neighbour on both sides
            return sp.csr_matrix((1, 1))
        A[0, n - 1] += 1.0
        A[n - 1, 0] += 1.0
    return (A.tocsr() / h**2).tocsr()


@dataclass(frozen=True)
class MACGrid:
    """Staggered grid on ``[0, lx] x [0, ly]``.

    Parameters
    ----------
    nx, ny : int
        Cells in x and y (>= 3; ``nx >= 1`` when periodic in x: ``nx = 1`` is a
        channel whose flow cannot vary along x).
    lx, ly : float
        Side lengths.
    periodic_x : bool
        Periodic in x (channel) instead of closed by walls (cavity).
    wall_speed : (float or callable, float or callable)
        Tangential speed of the bottom and top walls (lid-driven cavity: ``(0, 1)``);
        a callable ``speed(x)`` gives a profile along the wall (e.g. the regularised lid
        ``16 x^2 (1 - x)^2``).
    """

    nx: int
    ny: int
    lx: float = 1.0
    ly: float = 1.0
    periodic_x: bool = False
    wall_speed: tuple = (0.0, 0.0)

    def __post_init__(self):
        for name in ("nx", "ny"):
            n = getattr(self, name)
            low = 1 if (name == "nx" and self.periodic_x) else 3
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < low:
                raise ValueError(f"MACGrid: {name} must be an integer >= {low}, got {n!r}")
        for k, w in enumerate(self.wall_speed):
            if not callable(w) and not np.isfinite(w):
                raise ValueError(f"MACGrid: wall_speed[{k}] must be a number or a callable, "
                                 f"got {w!r}")
        for name in ("lx", "ly"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"MACGrid: {name} must be a positive length, got {v!r}")

    # ------------------------------------------------------------------ geometry
    @property
    def hx(self) -> float:
        """Cell width."""
        return self.lx / self.nx

    @property
    def hy(self) -> float:
        """Cell height."""
        return self.ly / self.ny

    @property
    def xc(self) -> np.ndarray:
        """Cell-centre x ``(nx,)``."""
        return (np.arange(self.nx) + 0.5) * self.hx

    @property
    def yc(self) -> np.ndarray:
        """Cell-centre y ``(ny,)``."""
        return (np.arange(self.ny) + 0.5) * self.hy

    @property
    def xf(self) -> np.ndarray:
        """Abscissae of the x-faces ``(nx + 1,)``."""
        return np.arange(self.nx + 1) * self.hx

    @property
    def yf(self) -> np.ndarray:
        """Ordinates of the y-faces ``(ny + 1,)``."""
        return np.arange(self.ny + 1) * self.hy

    def zeros_u(self) -> np.ndarray:
        """A padded ``u`` array ``(nx + 3, ny + 2)``."""
        return np.zeros((self.nx + 3, self.ny + 2))

    def zeros_v(self) -> np.ndarray:
        """A padded ``v`` array ``(nx + 2, ny + 3)``."""
        return np.zeros((self.nx + 2, self.ny + 3))

    # ------------------------------------------------------------------ unknowns
    @property
    def u_faces(self) -> slice:
        """x-faces carrying unknown ``u`` (index into the face block ``0..nx``)."""
        return slice(0, self.nx) if self.periodic_x else slice(1, self.nx)

    @property
    def v_faces(self) -> slice:
        """y-faces carrying unknown ``v`` (index into ``0..ny``)."""
        return slice(1, self.ny)

    def u_block(self, U: np.ndarray) -> np.ndarray:
        """Face values ``(nx + 1, ny)`` (faces ``0..nx``) of a padded ``U``."""
        return U[1 : self.nx + 2, 1 : self.ny + 1]

    def v_block(self, V: np.ndarray) -> np.ndarray:
        """Face values ``(nx, ny + 1)`` of a padded ``V``."""
        return V[1 : self.nx + 1, 1 : self.ny + 2]

    def wall_u(self, k: int, x: np.ndarray | None = None) -> np.ndarray:
        """Tangential speed of wall ``k`` (0: bottom, 1: top) at ``x``.

        Default ``x``: the ``nx + 3`` padded ``u`` columns; returns an array of its shape.
        """
        if x is None:
            x = (np.arange(self.nx + 3) - 1) * self.hx
        x = np.asarray(x, float)
        w = self.wall_speed[k]
        return np.asarray(w(x), float) * np.ones_like(x) if callable(w) else np.full(x.shape,
                                                                                     float(w))

    def fill(self, U: np.ndarray, V: np.ndarray) -> None:
        """Set wall values and ghosts of padded ``U``, ``V`` in place."""
        nx, ny = self.nx, self.ny
        ub, ut = self.wall_u(0), self.wall_u(1)
        if self.periodic_x:
            U[nx + 1] = U[1]
            U[0] = U[nx]
            U[nx + 2] = U[2]
            V[0] = V[nx]
            V[nx + 1] = V[1]
        else:
            U[1] = 0.0
            U[nx + 1] = 0.0
            U[0] = -U[2]
            U[nx + 2] = -U[nx]
            V[0] = -V[1]
            V[nx + 1] = -V[nx]
        U[:, 0] = 2.0 * ub - U[:, 1]
        U[:, ny + 1] = 2.0 * ut - U[:, ny]
        V[:, 1] = 0.0
        V[:, ny + 1] = 0.0
        V[:, 0] = -V[:, 2]
        V[:, ny + 2] = -V[:, ny]

    # ------------------------------------------------------------------ operators
    def divergence(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """Cell divergence ``(nx, ny)`` of filled ``U``, ``V``."""
        nx, ny = self.nx, self.ny
        return (U[2 : nx + 2, 1 : ny + 1] - U[1 : nx + 1, 1 : ny + 1]) / self.hx + (
            V[1 : nx + 1, 2 : ny + 2] - V[1 : nx + 1, 1 : ny + 1]
        ) / self.hy

    def gradient(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pressure gradient at the unknown faces: ``(dp/dx on u faces, dp/dy on v faces)``."""
        if self.periodic_x:
            px = (p - np.roll(p, 1, axis=0)) / self.hx
        else:
            px = np.diff(p, axis=0) / self.hx
        return px, np.diff(p, axis=1) / self.hy

    def laplacian(self, U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Five-point Laplacians on the face blocks ``(nx + 1, ny)`` and ``(nx, ny + 1)``."""
        nx, ny, hx2, hy2 = self.nx, self.ny, self.hx**2, self.hy**2
        c = U[1 : nx + 2, 1 : ny + 1]
        lu = (U[2 : nx + 3, 1 : ny + 1] - 2 * c + U[0 : nx + 1, 1 : ny + 1]) / hx2 + (
            U[1 : nx + 2, 2 : ny + 2] - 2 * c + U[1 : nx + 2, 0:ny]
        ) / hy2
        c = V[1 : nx + 1, 1 : ny + 2]
        lv = (V[2 : nx + 2, 1 : ny + 2] - 2 * c + V[0:nx, 1 : ny + 2]) / hx2 + (
            V[1 : nx + 1, 2 : ny + 3] - 2 * c + V[1 : nx + 1, 0 : ny + 1]
        ) / hy2
        return lu, lv

    def advection(self, U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Conservative central ``div(u u)`` on the face blocks (second order)."""
        nx, ny, hx, hy = self.nx, self.ny, self.hx, self.hy
        # x-momentum at faces I = 1..nx+1, rows J = 1..ny
        I = slice(1, nx + 2)  # noqa: E741
        J = slice(1, ny + 1)
        ur = 0.5 * (U[2 : nx + 3, J] + U[I, J])
        ul = 0.5 * (U[I, J] + U[0 : nx + 1, J])
        ut = 0.5 * (U[I, J] + U[I, 2 : ny + 2])
        ub = 0.5 * (U[I, 0:ny] + U[I, J])
        vt = 0.5 * (V[0 : nx + 1, 2 : ny + 2] + V[1 : nx + 2, 2 : ny + 2])
        vb = 0.5 * (V[0 : nx + 1, J] + V[1 : nx + 2, J])
        au = (ur**2 - ul**2) / hx + (ut * vt - ub * vb) / hy
        # y-momentum at cells I = 1..nx, faces J = 1..ny+1
        I = slice(1, nx + 1)  # noqa: E741
        J = slice(1, ny + 2)
        vt = 0.5 * (V[I, 2 : ny + 3] + V[I, J])
        vb = 0.5 * (V[I, 0 : ny + 1] + V[I, J])
        ur = 0.5 * (U[2 : nx + 2, 0 : ny + 1] + U[2 : nx + 2, J])
        ul = 0.5 * (U[I, 0 : ny + 1] + U[I, J])
        vr = 0.5 * (V[I, J] + V[2 : nx + 2, J])
        vl = 0.5 * (V[0:nx, J] + V[I, J])
        av = (vt**2 - vb**2) / hy + (ur * vr - ul * vl) / hx
        return au, av

    def velocity_gradient(self, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """``L[i, j] = du_i/dx_j`` at cell centres ``(2, 2, nx, ny)``.

        The normal derivatives are the compact face differences; the cross
        derivatives are the averages of the four corner differences around the cell
        (walls enter through the ghosts).
        """
        nx, ny, hx, hy = self.nx, self.ny, self.hx, self.hy
        L = np.empty((2, 2, nx, ny))
        L[0, 0] = (U[2 : nx + 2, 1 : ny + 1] - U[1 : nx + 1, 1 : ny + 1]) / hx
        L[1, 1] = (V[1 : nx + 1, 2 : ny + 2] - V[1 : nx + 1, 1 : ny + 1]) / hy
        cu = (U[1 : nx + 2, 1 : ny + 2] - U[1 : nx + 2, 0 : ny + 1]) / hy  # corners (nx+1, ny+1)
        cv = (V[1 : nx + 2, 1 : ny + 2] - V[0 : nx + 1, 1 : ny + 2]) / hx
        L[0, 1] = 0.25 * (cu[:-1, :-1] + cu[1:, :-1] + cu[:-1, 1:] + cu[1:, 1:])
        L[1, 0] = 0.25 * (cv[:-1, :-1] + cv[1:, :-1] + cv[:-1, 1:] + cv[1:, 1:])
        return L

    def _pad_cells(self, a: np.ndarray) -> np.ndarray:
        """Cell array ``(nx, ny)`` with one ghost layer.

        Wrapped (periodic) or linearly extrapolated (walls), so that ghost/inside
        averages sit on the boundary.
        """
        p = np.empty((self.nx + 2, self.ny + 2))
        p[1:-1, 1:-1] = a
        if self.periodic_x:
            p[0, 1:-1] = a[-1]
            p[-1, 1:-1] = a[0]
        else:
            p[0, 1:-1] = 2 * a[0] - a[1]
            p[-1, 1:-1] = 2 * a[-1] - a[-2]
        p[:, 0] = 2 * p[:, 1] - p[:, 2]
        p[:, -1] = 2 * p[:, -2] - p[:, -3]
        return p

    def stress_divergence(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``div tau`` on the face blocks from a cell-centred stress ``(2, 2, nx, ny)``.

        Normal stresses are differenced across the face between the two cells; the
        shear stress is first averaged to the cell corners (four cells inside, linear
        extrapolation to corners on a wall) and differenced along the face, the
        staggered-grid placement of ``tau_xy``. Second order in ``h``.
        """
        hx, hy = self.hx, self.hy
        txx = self._pad_cells(tau[0, 0])
        tyy = self._pad_cells(tau[1, 1])
        txy = self._pad_cells(0.5 * (tau[0, 1] + tau[1, 0]))
        c = 0.25 * (txy[:-1, :-1] + txy[1:, :-1] + txy[:-1, 1:] + txy[1:, 1:])  # (nx+1, ny+1)
        fu = (txx[1:, 1:-1] - txx[:-1, 1:-1]) / hx + (c[:, 1:] - c[:, :-1]) / hy
        fv = (c[1:, :] - c[:-1, :]) / hx + (tyy[1:-1, 1:] - tyy[1:-1, :-1]) / hy
        return fu, fv

    # ------------------------------------------------------------------ matrices
    def pressure_matrix(self) -> sp.csr_matrix:
        """SPD ``-div grad`` on cells ``(nx ny, nx ny)``, one cell pinned (C-order ``p.ravel()``).

        With a compatible right-hand side (zero sum, as every discrete divergence of a
        velocity with no net boundary flux is) the pin only selects the additive constant.
        """
        kx = "periodic" if self.periodic_x else "neumann"
        Lx = _lap1d(self.nx, self.hx, kx)
        Ly = _lap1d(self.ny, self.hy, "neumann")
        A = -(sp.kron(Lx, sp.identity(self.ny)) + sp.kron(sp.identity(self.nx), Ly)).tolil()
        A[0, 0] += 1.0 / self.hx**2
        return A.tocsr()

    def viscous_matrices(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Homogeneous Laplacians on the unknown ``u`` and ``v`` (flattened C-order)."""
        nxu = self.nx if self.periodic_x else self.nx - 1
        Lux = _lap1d(nxu, self.hx, "periodic" if self.periodic_x else "node")
        Luy = _lap1d(self.ny, self.hy, "cell")
        Lvx = _lap1d(self.nx, self.hx, "periodic" if self.periodic_x else "cell")
        Lvy = _lap1d(self.ny - 1, self.hy, "node")
        Lu = sp.kron(Lux, sp.identity(self.ny)) + sp.kron(sp.identity(nxu), Luy)
        Lv = sp.kron(Lvx, sp.identity(self.ny - 1)) + sp.kron(sp.identity(self.nx), Lvy)
        return Lu.tocsr(), Lv.tocsr()
