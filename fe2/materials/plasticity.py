"""Small-strain J2 (von Mises) plasticity with linear isotropic and kinematic hardening."""

from __future__ import annotations

import math

import numba
import numpy as np

from fe2.materials import common as c
from fe2.oracle import OracleBase, OracleError, Response
from fe2.tensors import lame

__all__ = ["J2Plasticity"]

_SQ23 = math.sqrt(2.0 / 3.0)


class J2Plasticity(OracleBase):
    """Rate-independent von Mises plasticity, radial return, consistent tangent.

    Parameters
    ----------
    E : float
        Young's modulus [Pa, or any stress unit], > 0.
    nu : float
        Poisson's ratio, in (-1, 0.5).
    sigma_y : float
        Initial uniaxial yield stress [units of ``E``], > 0.
    H_iso : float
        Linear isotropic hardening modulus [units of ``E``], >= 0.
    H_kin : float
        Linear kinematic (Prager) hardening modulus [units of ``E``], >= 0.
        In uniaxial tension the plastic modulus is ``H = H_iso + H_kin`` and
        the elastoplastic modulus ``E H / (E + H)``.
    dim : int
        3, or 2 for plane strain (internally 3x3 tensors with ``eps_i3 = 0``).
    backend : {"numba", "numpy"}
        Per-point numba kernel (default) or the vectorised numpy reference.

    Notes
    -----
    Yield function, flow and hardening (Simo & Hughes 1998, Box 3.1–3.2)::

        f = |dev(sigma) - beta| - sqrt(2/3) (sigma_y + H_iso alpha)
        d eps_p = dgamma n,   n = (dev(sigma) - beta) / |dev(sigma) - beta|
        d alpha = sqrt(2/3) dgamma,   d beta = 2/3 H_kin dgamma n

    Return mapping from the trial state ``xi = 2 mu dev(eps - eps_p) - beta``:
    plastic when ``f_trial > 1e-12 sqrt(2/3) sigma_y``, then
    ``dgamma = f_trial / (2 mu + 2/3 (H_iso + H_kin))``,
    ``sigma = sigma_trial - 2 mu dgamma n``, and the algorithmic tangent::

        C_ep = K 1x1 + 2 mu theta (I_sym - 1/3 1x1) - 2 mu theta_bar n x n
        theta = 1 - 2 mu dgamma / |xi|
        theta_bar = 1 / (1 + (H_iso + H_kin) / (3 mu)) - (1 - theta)

    with the bulk modulus ``K = lam + 2 mu / 3`` (``C_ep = C`` at elastic points).

    Shapes: strain ``eps`` (dimensionless) and stress ``(d, d, *pts)``,
    tangent ``(d, d, d, d, *pts)``; only the symmetric part of ``eps`` enters.
    For ``dim = 2`` the 2x2 block of the stress and the (2, 2, 2, 2) block of
    the tangent are returned, and ``info["sigma33"]`` holds the out-of-plane
    stress ``(*pts)``. ``info["plastic"]`` is the bool mask ``(*pts)`` of
    points that yielded in this step.

    History (``state``; arrays always 3x3, point axes last):

    - ``"eps_p"``: plastic strain ``(3, 3, *pts)``
    - ``"alpha"``: equivalent plastic strain ``(*pts)``
    - ``"beta"``: back stress ``(3, 3, *pts)`` [units of ``E``]

    ``evaluate`` takes the committed history (zeros when ``state`` is None) and
    returns the trial history; it never modifies its inputs.
    """

    measure = "strain"
    STATE_FIELDS: tuple[str, ...] = ("eps_p", "alpha", "beta")

    def __init__(
        self,
        E: float,
        nu: float,
        sigma_y: float,
        H_iso: float = 0.0,
        H_kin: float = 0.0,
        dim: int = 3,
        backend: str = "numba",
    ):
        name = type(self).__name__
        self.E, self.nu = c.young_poisson(name, E, nu)
        self.sigma_y = c.positive(name, "yield stress", "sigma_y", sigma_y)
        self.H_iso = c.non_negative(name, "isotropic hardening modulus", "H_iso", H_iso)
        self.H_kin = c.non_negative(name, "kinematic hardening modulus", "H_kin", H_kin)
        self.dim = c.dimension(name, dim)
        self.backend = c.backend(name, backend)
        lam, mu = lame(self.E, self.nu)
        self.lam, self.mu = float(lam), float(mu)
        self.yield_tol = 1e-12 * _SQ23 * self.sigma_y

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(E={self.E!r}, nu={self.nu!r}, sigma_y={self.sigma_y!r}, "
            f"H_iso={self.H_iso!r}, H_kin={self.H_kin!r}, dim={self.dim}, "
            f"backend={self.backend!r})"
        )

    def initial_state(self, pts: tuple[int, ...] | int) -> dict[str, np.ndarray]:
        """Virgin history: zero plastic strain, equivalent plastic strain and back stress."""
        pts = (pts,) if isinstance(pts, int | np.integer) else tuple(pts)
        return {
            "eps_p": np.zeros((3, 3) + pts),
            "alpha": np.zeros(pts),
            "beta": np.zeros((3, 3) + pts),
        }

    def yield_function(
        self, stress: np.ndarray, state: dict[str, np.ndarray], sigma33: np.ndarray | None = None
    ) -> np.ndarray:
        """``f = |dev sigma - beta| - sqrt(2/3) (sigma_y + H_iso alpha)`` ``(*pts)``.

        ``stress`` is ``(d, d, *pts)``; for ``dim = 2`` pass the out-of-plane
        stress ``sigma33`` ``(*pts)`` (``Response.info["sigma33"]``).
        """
        s3 = self._embed(np.asarray(stress, dtype=float), sigma33)
        xi = s3 - np.einsum("ii...->...", s3) / 3.0 * c.eye_like(3, s3.ndim - 2) - state["beta"]
        nxi = np.sqrt(np.einsum("ij...,ij...->...", xi, xi))
        return nxi - _SQ23 * (self.sigma_y + self.H_iso * state["alpha"])

    def _embed(self, a: np.ndarray, a33: np.ndarray | None = None) -> np.ndarray:
        """``(d, d, *pts)`` into ``(3, 3, *pts)`` with zeros (``a33`` at 33 when given)."""
        if self.dim == 3:
            return a
        out = np.zeros((3, 3) + a.shape[2:])
        out[:2, :2] = a
        if a33 is not None:
            out[2, 2] = a33
        return out

    def _committed(self, state, pts) -> dict[str, np.ndarray]:
        if state is None:
            return self.initial_state(pts)
        out = {}
        for k, shape in (("eps_p", (3, 3) + pts), ("alpha", pts), ("beta", (3, 3) + pts)):
            if k not in state:
                raise OracleError(
                    f"{type(self).__name__}: state lacks field {k!r}; expected fields "
                    f"{', '.join(self.STATE_FIELDS)}"
                )
            v = np.asarray(state[k], dtype=float)
            if v.shape != shape:
                raise OracleError(
                    f"{type(self).__name__}: state field {k!r} has shape {v.shape}, "
                    f"expected {shape}"
                )
            out[k] = v
        return out

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: dict | None = None
    ) -> Response:
        """Stress ``(d, d, *pts)``, tangent ``(d, d, d, d, *pts)``, trial state, ``info``.

        ``g`` is the total strain ``(d, d, *pts)``, ``state`` the committed
        history (see the class docs) or None for the virgin state.
        """
        pts = self.check_input(g)
        eps = np.asarray(g, dtype=float)
        eps = self._embed(0.5 * (eps + np.swapaxes(eps, 0, 1)))
        st = self._committed(state, pts)
        if self.backend == "numba":
            sig, C, new, plastic = self._evaluate_numba(eps, st, pts)
        else:
            sig, C, new, plastic = self._evaluate_numpy(eps, st, pts)
        info: dict[str, np.ndarray] = {"plastic": plastic}
        if self.dim == 2:
            info["sigma33"] = np.ascontiguousarray(sig[2, 2])
            sig = np.ascontiguousarray(sig[:2, :2])
            C = np.ascontiguousarray(C[:2, :2, :2, :2])
        return Response(flux=sig, tangent=C, state=new, info=info)

    def _evaluate_numpy(self, eps, st, pts):
        lam, mu, Hi, Hk = self.lam, self.mu, self.H_iso, self.H_kin
        npa = len(pts)
        eye = c.eye_like(3, npa)
        ee = eps - st["eps_p"]
        tr = np.einsum("ii...->...", ee)
        xi = 2.0 * mu * (ee - tr / 3.0 * eye) - st["beta"]
        nxi = np.sqrt(np.einsum("ij...,ij...->...", xi, xi))
        f = nxi - _SQ23 * (self.sigma_y + Hi * st["alpha"])
        plastic = np.asarray(f > self.yield_tol)
        dgamma = np.where(plastic, f, 0.0) / (2.0 * mu + 2.0 / 3.0 * (Hi + Hk))
        n = np.divide(xi, nxi, out=np.zeros_like(xi), where=plastic[None, None])
        sig = lam * tr * eye + 2.0 * mu * ee - 2.0 * mu * dgamma * n
        new = {
            "eps_p": st["eps_p"] + dgamma * n,
            "alpha": st["alpha"] + _SQ23 * dgamma,
            "beta": st["beta"] + 2.0 / 3.0 * Hk * dgamma * n,
        }
        ratio = np.divide(dgamma, nxi, out=np.zeros_like(dgamma), where=plastic)
        theta = 1.0 - 2.0 * mu * ratio
        theta_bar = np.where(plastic, 1.0 / (1.0 + (Hi + Hk) / (3.0 * mu)) - (1.0 - theta), 0.0)
        e3 = np.eye(3)
        one = np.einsum("ij,kl->ijkl", e3, e3)
        isym = 0.5 * (np.einsum("ik,jl->ijkl", e3, e3) + np.einsum("il,jk->ijkl", e3, e3))
        shape4 = (3,) * 4 + (1,) * npa
        K = lam + 2.0 * mu / 3.0
        C = (
            K * one.reshape(shape4)
            + 2.0 * mu * theta * (isym - one / 3.0).reshape(shape4)
            - 2.0 * mu * theta_bar * np.einsum("ij...,kl...->ijkl...", n, n)
        )
        return sig, C, new, plastic

    def _evaluate_numba(self, eps, st, pts):
        """Adapter: point axes flattened and moved first for :func:`_j2_kernel`."""
        ef = c.points_first(eps, 2)
        n = ef.shape[0]
        sig = np.empty((n, 3, 3))
        C = np.empty((n, 3, 3, 3, 3))
        eps_p = np.empty((n, 3, 3))
        beta = np.empty((n, 3, 3))
        alpha = np.empty(n)
        plastic = np.empty(n, dtype=np.bool_)
        _j2_kernel(
            ef,
            c.points_first(st["eps_p"], 2),
            np.ascontiguousarray(st["alpha"], dtype=float).reshape(n),
            c.points_first(st["beta"], 2),
            self.lam,
            self.mu,
            self.sigma_y,
            self.H_iso,
            self.H_kin,
            self.yield_tol,
            sig,
            C,
            eps_p,
            alpha,
            beta,
            plastic,
        )
        new = {
            "eps_p": c.points_last(eps_p, pts),
            "alpha": alpha.reshape(pts),
            "beta": c.points_last(beta, pts),
        }
        return c.points_last(sig, pts), c.points_last(C, pts), new, plastic.reshape(pts)


@numba.njit(cache=True)
def _j2_kernel(
    eps, eps_p0, alpha0, beta0, lam, mu, sigma_y, Hi, Hk, tol, sig, C, eps_p, alpha, beta, plastic
):  # pragma: no cover - compiled
    """Radial return per point; all tensors ``(n, 3, 3)``, tangents ``(n, 3, 3, 3, 3)``."""
    n = eps.shape[0]
    ee = np.empty((3, 3))
    xi = np.empty((3, 3))
    nn = np.empty((3, 3))
    sq23 = np.sqrt(2.0 / 3.0)
    K = lam + 2.0 * mu / 3.0
    for m in range(n):
        tr = 0.0
        for i in range(3):
            for j in range(3):
                ee[i, j] = eps[m, i, j] - eps_p0[m, i, j]
            tr += ee[i, i]
        nxi2 = 0.0
        for i in range(3):
            for j in range(3):
                v = 2.0 * mu * ee[i, j] - beta0[m, i, j]
                if i == j:
                    v -= 2.0 * mu * tr / 3.0
                xi[i, j] = v
                nxi2 += v * v
        nxi = np.sqrt(nxi2)
        f = nxi - sq23 * (sigma_y + Hi * alpha0[m])
        if f > tol:
            plastic[m] = True
            dgamma = f / (2.0 * mu + 2.0 / 3.0 * (Hi + Hk))
            theta = 1.0 - 2.0 * mu * (dgamma / nxi)
            theta_bar = 1.0 / (1.0 + (Hi + Hk) / (3.0 * mu)) - (1.0 - theta)
            for i in range(3):
                for j in range(3):
                    nn[i, j] = xi[i, j] / nxi
        else:
            plastic[m] = False
            dgamma = 0.0
            theta = 1.0
            theta_bar = 0.0
            nn[:, :] = 0.0
        alpha[m] = alpha0[m] + sq23 * dgamma
        for i in range(3):
            for j in range(3):
                s = 2.0 * mu * ee[i, j] - 2.0 * mu * dgamma * nn[i, j]
                if i == j:
                    s += lam * tr
                sig[m, i, j] = s
                eps_p[m, i, j] = eps_p0[m, i, j] + dgamma * nn[i, j]
                beta[m, i, j] = beta0[m, i, j] + 2.0 / 3.0 * Hk * dgamma * nn[i, j]
                for k in range(3):
                    for l in range(3):
                        a = -2.0 * mu * theta_bar * nn[i, j] * nn[k, l]
                        if i == j and k == l:
                            a += K - 2.0 * mu * theta / 3.0
                        if i == k and j == l:
                            a += mu * theta
                        if i == l and j == k:
                            a += mu * theta
                        C[m, i, j, k, l] = a
