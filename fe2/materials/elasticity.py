"""Small-strain isotropic linear elasticity (3D, plane strain, plane stress)."""

from __future__ import annotations

import numpy as np

from fe2.materials import common as c
from fe2.oracle import OracleBase, Response
from fe2.tensors import isotropic_stiffness, lame

__all__ = ["LinearElastic"]

PLANES: tuple[str | None, ...] = ("strain", "stress", None)


class LinearElastic(OracleBase):
    """Isotropic Hooke's law ``sigma = C : eps = lam tr(eps) I + 2 mu eps``.

    Parameters
    ----------
    E : float
        Young's modulus [Pa, or any stress unit], > 0.
    nu : float
        Poisson's ratio, in (-1, 0.5).
    plane : {"strain", "stress", None}
        None: 3D (``dim = 3``). ``"strain"``: plane strain (``dim = 2``,
        ``eps_i3 = 0``, same ``lam``, ``mu`` as 3D). ``"stress"``: plane stress
        (``dim = 2``, ``sigma_i3 = 0``) with the reduced
        ``lam* = 2 lam mu / (lam + 2 mu)``.

    Notes
    -----
    Measure ``"strain"``: ``evaluate(eps)`` with the small strain ``eps``
    (dimensionless) of shape ``(d, d, *pts)`` returns the Cauchy stress
    ``(d, d, *pts)`` (units of ``E``) and ``tangent = C`` broadcast to
    ``(d, d, d, d, *pts)`` (a read-only view). Only the symmetric part of
    ``eps`` enters (``C`` has the minor symmetries). No history.

    Attributes
    ----------
    E, nu : float
        The elastic constants given.
    lam, mu : float
        Lamé constants used in ``dim`` dimensions (``lam*`` for plane stress).
    plane : str or None
    """

    measure = "strain"

    def __init__(self, E: float, nu: float, plane: str | None = None):
        name = type(self).__name__
        self.E, self.nu = c.young_poisson(name, E, nu)
        if plane not in PLANES:
            raise ValueError(
                f"{name}: plane must be one of 'strain', 'stress' or None (3D), got {plane!r}"
            )
        self.plane = plane
        self.dim = 3 if plane is None else 2
        lam, mu = lame(self.E, self.nu)
        if plane == "stress":
            lam = 2.0 * lam * mu / (lam + 2.0 * mu)
        self.lam, self.mu = float(lam), float(mu)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(E={self.E!r}, nu={self.nu!r}, plane={self.plane!r})"

    def stiffness(self) -> np.ndarray:
        """Stiffness ``C_ijkl = lam d_ij d_kl + mu (d_ik d_jl + d_il d_jk)``, ``(d, d, d, d)``."""
        return isotropic_stiffness(self.lam, self.mu, self.dim)

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: dict | None = None
    ) -> Response:
        """Stress ``(d, d, *pts)`` and tangent ``(d, d, d, d, *pts)`` at strain ``(d, d, *pts)``."""
        pts = self.check_input(g)
        eps = np.asarray(g, dtype=float)
        d = self.dim
        eps = 0.5 * (eps + np.swapaxes(eps, 0, 1))
        tr = np.einsum("ii...->...", eps)
        stress = self.lam * tr * c.eye_like(d, len(pts)) + 2.0 * self.mu * eps
        C = self.stiffness().reshape((d,) * 4 + (1,) * len(pts))
        return Response(flux=stress, tangent=np.broadcast_to(C, (d,) * 4 + pts))
