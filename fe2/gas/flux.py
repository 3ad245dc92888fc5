"""What every flux oracle shares: reading a conserved state, the Euler flux, seeding by content.

- :func:`rest_state` checks ``U (dim + 2, *pts)`` and returns density, velocity and
  specific internal energy, with one error message format for every oracle.
- :func:`euler_flux` assembles the flux of a fluid without viscous stress or heat flux
  from ``U`` and its pressure (scalar or tensor): ``F_mass = rho u``,
  ``F_mom = rho u u^T + P``, ``F_E = E u + P u``. For a Galilean-invariant micro model
  whose pressure is measured at rest, this is the whole flux.
- :func:`content_seed` seeds a point's random stream by the bytes of its state, so a
  stochastic oracle gives the same answer whatever the chunking, executor or order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from fe2.oracle import OracleError

__all__ = ["RestState", "content_seed", "euler_flux", "rest_state"]


@dataclass(frozen=True)
class RestState:
    """A batch of conserved states, flattened: ``n`` points of shape ``pts``.

    Attributes
    ----------
    pts : tuple of int
        Point shape of the input.
    U : ndarray
        ``(dim + 2, n)`` conserved variables.
    rho : ndarray
        ``(n,)`` density.
    u : ndarray
        ``(dim, n)`` velocity.
    e : ndarray
        ``(n,)`` specific internal energy ``E / rho - |u|^2 / 2``.
    """

    pts: tuple[int, ...]
    U: np.ndarray
    rho: np.ndarray
    u: np.ndarray
    e: np.ndarray

    @property
    def n(self) -> int:
        """Number of points."""
        return self.rho.shape[0]


def _point_error(owner: str, bad: np.ndarray, pts: tuple[int, ...], what: str,
                 values: np.ndarray, expected: str) -> OracleError:
    first = int(np.argmax(bad))
    idx = tuple(int(i) for i in np.unravel_index(first, pts)) if pts else ()
    return OracleError(
        f"{owner}: {what} at {int(bad.sum())} points, first at point index {idx} "
        f"(value {values[first]:.6g}); expected {expected}"
    )


def rest_state(owner: str, oracle, U: np.ndarray, e_min: float = 0.0,
               strict: bool = False, energy_words: str = "internal energy") -> RestState:
    """Check ``U (dim + 2, *pts)`` for ``oracle`` and split it into density, velocity, energy.

    Parameters
    ----------
    owner : str
        Name for the messages (the oracle's class).
    oracle : OracleBase
        Its ``check_input`` checks the shape and finiteness.
    U : array_like
        Conserved states ``(rho, rho u_1, ..., rho u_dim, E)``.
    e_min : float
        Lowest admissible specific internal energy.
    strict : bool
        Require ``e > e_min`` (else ``e >= e_min``).
    energy_words : str
        How the energy condition is named in the message.

    Raises
    ------
    OracleError
        For non-finite entries, ``rho <= 0`` or ``e`` below ``e_min``, naming the count,
        the first point index and its value.
    """
    U = np.asarray(U, dtype=float)
    pts = oracle.check_input(U)
    m = U.shape[0]
    n = int(np.prod(pts)) if pts else 1
    Uf = U.reshape(m, n)
    rho = Uf[0]
    bad = ~(rho > 0)
    if np.any(bad):
        raise _point_error(owner, bad, pts, "density rho <= 0", rho,
                           "rho > 0 and E >= rho |u|^2 / 2")
    u = Uf[1 : m - 1] / rho
    e = Uf[m - 1] / rho - 0.5 * np.sum(u * u, axis=0)
    bad = ~(e > e_min) if strict else ~(e >= e_min)
    if np.any(bad):
        op = ">" if strict else ">="
        raise _point_error(owner, bad, pts, f"{energy_words} e below {e_min:g}", e,
                           f"rho > 0 and e = E / rho - |u|^2 / 2 {op} {e_min:g}")
    return RestState(pts=pts, U=Uf, rho=rho, u=u, e=e)


def euler_flux(state: RestState, pressure: np.ndarray) -> np.ndarray:
    """Inviscid flux ``(dim, dim + 2, *pts)`` of ``state`` with pressure ``pressure``.

    ``pressure`` is ``(n,)`` (isotropic) or ``(dim, dim, n)`` (a pressure tensor, the
    diagonal block of the micro model's tensor in the macro directions).
    """
    Uf, u = state.U, state.u
    d = u.shape[0]
    n = state.n
    P = np.asarray(pressure, dtype=float)
    if P.shape == (n,):
        P = P[None, None, :] * np.eye(d)[:, :, None]
    flux = np.empty((d, d + 2, n))
    for k in range(d):
        flux[k, 0] = Uf[1 + k]
        for m in range(d):
            flux[k, 1 + m] = Uf[1 + m] * u[k] + P[k, m]
        flux[k, d + 1] = Uf[d + 1] * u[k] + np.sum(P[k] * u, axis=0)
    return flux.reshape((d, d + 2) + state.pts)


def content_seed(seed: int, state: np.ndarray) -> np.random.SeedSequence:
    """Seed of one point's stream from ``seed`` and the float64 bytes of its ``state``.

    The BLAKE2b hash of the state (``-0.0`` read as ``0.0``) makes the stream a function
    of the state alone: equal states get equal streams, different states and seeds
    independent ones.
    """
    data = np.ascontiguousarray(np.asarray(state, dtype=np.float64) + 0.0)
    digest = hashlib.blake2b(data.tobytes(), digest_size=16).digest()
    return np.random.SeedSequence([int(seed), int.from_bytes(digest, "little")])
