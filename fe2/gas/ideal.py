"""The ideal-gas flux oracle: closed-form Euler fluxes, the reference for the gas solvers.

Conserved variables per point (rows, the ``"conserved"`` measure):
``U = (rho, rho u_1, ..., rho u_dim, E)`` with density ``rho`` [kg/m^dim],
momentum density ``rho u`` and total energy per volume ``E = p / (gamma - 1) + rho |u|^2 / 2``.
"""

from __future__ import annotations

import numpy as np

from fe2.oracle import OracleBase, Response

from .flux import euler_flux, rest_state

__all__ = ["IdealGas", "conserved", "fluid_of", "primitive"]


def _check_gamma(gamma: float) -> float:
    g = float(gamma)
    if not np.isfinite(g) or g <= 1.0:
        raise ValueError(f"IdealGas: gamma must be a finite number > 1, got {gamma!r}")
    return g


def fluid_of(flux, gamma=None):
    """What converts primitive and conserved states for ``flux``: a ``gamma`` or a fluid.

    ``gamma`` when given; else ``flux`` (or the oracle a :class:`fe2.gas.TabulatedFlux`
    wraps) when it has ``primitive_state`` and ``conserved_state`` methods (a real
    fluid, e.g. :class:`fe2.gas.EOSFlux`); else its ``gamma``; else 1.4.
    """
    if gamma is not None:
        return gamma
    for f in (flux, getattr(flux, "oracle", None)):
        if f is not None and hasattr(f, "primitive_state") and hasattr(f, "conserved_state"):
            return f
        if f is not None and hasattr(f, "gamma"):
            return float(f.gamma)
    return 1.4


def _is_fluid(gamma) -> bool:
    return hasattr(gamma, "primitive_state") and hasattr(gamma, "conserved_state")


def conserved(rho, u, p, gamma: float = 1.4) -> np.ndarray:
    """Conserved variables from primitive ones.

    Parameters
    ----------
    rho : array_like
        Density, shape ``pts``.
    u : array_like
        Velocity, shape ``(dim, *pts)`` (or ``pts`` in 1D).
    p : array_like
        Pressure, shape ``pts``.
    gamma : float or fluid
        Ratio of specific heats (> 1), or an object with ``conserved_state(rho, u, p)``
        (see :func:`fluid_of`) for a real fluid.

    Returns
    -------
    ndarray
        ``U`` of shape ``(dim + 2, *pts)``: ``(rho, rho u, E)``.
    """
    if _is_fluid(gamma):
        return gamma.conserved_state(rho, u, p)
    gamma = _check_gamma(gamma)
    rho = np.asarray(rho, dtype=float)
    p = np.asarray(p, dtype=float)
    u = np.asarray(u, dtype=float)
    if u.shape == rho.shape:
        u = u[None]
    rho, p = np.broadcast_arrays(rho, p)
    u = np.broadcast_to(u, (u.shape[0],) + rho.shape)
    E = p / (gamma - 1.0) + 0.5 * rho * np.sum(u * u, axis=0)
    return np.concatenate([rho[None], rho[None] * u, E[None]], axis=0)


def primitive(U, gamma: float = 1.4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density, velocity and pressure from conserved variables (no checks).

    Parameters
    ----------
    U : array_like
        Conserved variables, shape ``(dim + 2, *pts)``.
    gamma : float or fluid
        Ratio of specific heats, or an object with ``primitive_state(U)`` (a real fluid).

    Returns
    -------
    rho : ndarray, shape ``pts``
    u : ndarray, shape ``(dim, *pts)``
    p : ndarray, shape ``pts``
    """
    if _is_fluid(gamma):
        return gamma.primitive_state(U)
    U = np.asarray(U, dtype=float)
    rho = U[0]
    u = U[1:-1] / rho
    p = (gamma - 1.0) * (U[-1] - 0.5 * rho * np.sum(u * u, axis=0))
    return rho, u, p


class IdealGas(OracleBase):
    """Euler flux of a calorically perfect gas, ``p = (gamma - 1) (E - rho |u|^2 / 2)``.

    Parameters
    ----------
    gamma : float
        Ratio of specific heats (> 1), default 1.4 (air).
    dim : {1, 2, 3}
        Space dimension.

    ``evaluate(U)`` takes ``U`` of shape ``(dim + 2, *pts)`` and returns a
    :class:`fe2.oracle.Response` with ``flux`` of shape ``(dim, dim + 2, *pts)``
    (row ``k``: the flux in direction ``k`` of every conserved component),
    ``tangent = None`` and ``info["wave_speed"]`` of shape ``pts``: the largest
    ``|u_k| + c`` over the directions, ``c = sqrt(gamma p / rho)``.
    """

    measure = "conserved"

    def __init__(self, gamma: float = 1.4, dim: int = 1):
        self.gamma = _check_gamma(gamma)
        if isinstance(dim, bool) or dim not in (1, 2, 3):
            raise ValueError(f"IdealGas: dim must be 1, 2 or 3, got {dim!r}")
        self.dim = int(dim)
        self.n_conserved = self.dim + 2
        self.ncons = self.n_conserved

    def __repr__(self) -> str:
        return f"IdealGas(gamma={self.gamma}, dim={self.dim})"

    def pressure(self, U: np.ndarray) -> np.ndarray:
        """Pressure ``(gamma - 1)(E - rho |u|^2 / 2)`` of ``U (dim + 2, *pts)``, shape ``pts``."""
        return primitive(U, self.gamma)[2]

    def evaluate(self, U, x=None, state=None) -> Response:
        """Euler flux ``(dim, dim + 2, *pts)`` and wave speed bound at every point.

        Raises
        ------
        fe2.oracle.OracleError
            For non-finite input, ``rho <= 0`` or negative pressure, naming the first point.
        """
        st = rest_state("IdealGas", self, U, energy_words="negative pressure: internal energy")
        p = (self.gamma - 1.0) * st.rho * st.e
        flux = euler_flux(st, p)
        rho, u = st.rho.reshape(st.pts), st.u.reshape((self.dim,) + st.pts)
        p = p.reshape(st.pts)
        c = np.sqrt(self.gamma * p / rho)
        speed = np.max(np.abs(u), axis=0) + c
        return Response(flux=flux, tangent=None, info={"wave_speed": speed})
