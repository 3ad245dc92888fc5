"""Published equations of state of the Lennard-Jones fluid: the reference for the MD models.

Two fits of the full (untruncated) Lennard-Jones 12-6 fluid, each given by its residual
Helmholtz energy per particle ``a_res(rho*, T*)`` in reduced units (``rho* = n sigma^3``,
``T* = k T / epsilon``, ``a* = a / epsilon``):

- ``"jzg"``: Johnson, Zollweg & Gubbins, *Mol. Phys.* 78 (1993) 591, the modified
  Benedict–Webb–Rubin form with 32 coefficients and ``gamma = 3`` (their Tables 5–7).
- ``"kn"``: Kolafa & Nezbeda, *Fluid Phase Equilib.* 100 (1994) 1, a hard-sphere
  (Boublík–Nezbeda) reference with the Barker–Henderson diameter plus a double power series.

Everything else follows from ``a_res`` by thermodynamics, the same for both fits:
``p = n k T + n^2 da_res/dn``, the internal energy per particle
``u = 3/2 k T + a_res - T da_res/dT``, ``c_v = du/dT`` and the adiabatic sound speed
``c^2 = (dp/drho)_T + T (dp/dT)_rho^2 / (rho^2 c_v)`` (per unit mass). First
derivatives are taken by the complex step (exact to round-off; both fits are analytic
functions), second derivatives by central differences of those.

:class:`LennardJonesEOS` works in mass density ``rho = m n`` and specific (per unit
mass) internal energy ``e``, the variables of the gas solvers, and in any consistent
units set by ``epsilon``, ``sigma``, ``mass`` and ``k_B = 1`` (temperatures in energy
units). Both fits are for the full potential; a simulation with a cutoff matches them
after the usual long-range corrections (``g(r) = 1`` beyond the cutoff), see
:func:`tail_corrections`.

>>> eos = LennardJonesEOS("jzg")
>>> round(float(eos.pressure(0.5, 2.0)), 3)  # rho* = 0.5, T* = 2
1.077
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["JZG_COEFFICIENTS", "LennardJonesEOS", "MODELS", "tail_corrections"]

MODELS = ("jzg", "kn")

# ---------------------------------------------------------------- Johnson et al. 1993

#: x_1 .. x_32 of Johnson, Zollweg & Gubbins (1993), in their numbering from 1
JZG_COEFFICIENTS = np.array([
    0.8623085097507421, 2.976218765822098, -8.402230115796038, 0.1054136629203555,
    -0.8564583828174598, 1.582759470107601, 0.7639421948305453, 1.753173414312048,
    2.798291772190376e03, -4.8394220260857657e-2, 0.9963265197721935, -3.698000291272493e01,
    2.084012299434647e01, 8.305402124717285e01, -9.574799715203068e02, -1.477746229234994e02,
    6.398607852471505e01, 1.603993673294834e01, 6.805916615864377e01, -2.791293578795945e03,
    -6.245128304568454, -8.116836104958410e03, 1.488735559561229e01, -1.059346754655084e04,
    -1.131607632802822e02, -8.867771540418822e03, -3.986982844450543e01, -4.689270299917261e03,
    2.593535277438717e02, -2.694523589434903e03, -7.218487631550215e02, 1.721802063863269e02,
])
_JZG_GAMMA = 3.0
# a_i(T) and b_i(T) as sums of x_k T^n: (k (1-based), n) per term (their Tables 5 and 6)
_JZG_A = (
    ((1, 1.0), (2, 0.5), (3, 0.0), (4, -1.0), (5, -2.0)),
    ((6, 1.0), (7, 0.0), (8, -1.0), (9, -2.0)),
    ((10, 1.0), (11, 0.0), (12, -1.0)),
    ((13, 0.0),),
    ((14, -1.0), (15, -2.0)),
    ((16, -1.0),),
    ((17, -1.0), (18, -2.0)),
    ((19, -2.0),),
)
_JZG_B = (
    ((20, -2.0), (21, -3.0)),
    ((22, -2.0), (23, -4.0)),
    ((24, -2.0), (25, -3.0)),
    ((26, -2.0), (27, -4.0)),
    ((28, -2.0), (29, -3.0)),
    ((30, -2.0), (31, -3.0), (32, -4.0)),
)


def _series(terms, T):
    return sum(JZG_COEFFICIENTS[k - 1] * T**n for k, n in terms)


def _a_res_jzg(n, T):
    """Residual Helmholtz energy per particle of the JZG fit (reduced units)."""
    F = np.exp(-_JZG_GAMMA * n * n)
    out = sum(_series(t, T) * n ** (i + 1) / (i + 1) for i, t in enumerate(_JZG_A))
    G = (1.0 - F) / (2.0 * _JZG_GAMMA)  # G_1, then the recursion of their Table 7
    for i, t in enumerate(_JZG_B, start=1):
        if i > 1:
            G = -(F * n ** (2 * (i - 1)) - 2.0 * (i - 1) * G) / (2.0 * _JZG_GAMMA)
        out = out + _series(t, T) * G
    return out


# ---------------------------------------------------------------- Kolafa & Nezbeda 1994

_KN_DHBH = ((-2, 0.011117524), (-1, -0.076383859), (0, 1.080142248), (1, 0.000693129))
_KN_DHBH_LN = -0.063920968
_KN_DB2 = ((-7, -0.58544978), (-6, 0.43102052), (-5, 0.87361369), (-4, -4.13749995),
           (-3, 2.90616279), (-2, -7.02181962), (0, 0.02459877))
_KN_C = (
    (0, 2, 2.01546797), (0, 3, -28.17881636), (0, 4, 28.28313847), (0, 5, -10.42402873),
    (-1, 2, -19.58371655), (-1, 3, 75.62340289), (-1, 4, -120.70586598),
    (-1, 5, 93.92740328), (-1, 6, -27.37737354),
    (-2, 2, 29.34470520), (-2, 3, -112.3535693), (-2, 4, 170.64908980),
    (-2, 5, -123.06669187), (-2, 6, 34.42288969),
    (-4, 2, -13.37031968), (-4, 3, 65.38059570), (-4, 4, -115.09233113),
    (-4, 5, 88.91973082), (-4, 6, -25.62099890),
)
_KN_GAMMA = 1.92907278


def _a_res_kn(n, T):
    """Residual Helmholtz energy per particle of the Kolafa–Nezbeda fit (reduced units)."""
    d = sum(c * T ** (i / 2) for i, c in _KN_DHBH) + _KN_DHBH_LN * np.log(T)
    z = math.pi / 6.0 * n * d**3
    a_hs = T * (5.0 / 3.0 * np.log(1.0 - z) + z * (34.0 - 33.0 * z + 4.0 * z * z)
                / (6.0 * (1.0 - z) ** 2))
    db2 = sum(c * T ** (i / 2) for i, c in _KN_DB2)
    series = sum(c * T ** (i / 2) * n**j for i, j, c in _KN_C)
    return a_hs + np.exp(-_KN_GAMMA * n * n) * n * T * db2 + series


_A_RES = {"jzg": _a_res_jzg, "kn": _a_res_kn}
_T_RANGE = (0.8, 10.0)  # reduced temperatures searched (JZG is not monotone in T below ~0.77)


def tail_corrections(density: float, cutoff: float) -> tuple[float, float]:
    """Long-range corrections of the Lennard-Jones fluid truncated at ``cutoff``, reduced units.

    With ``g(r) = 1`` beyond ``r_c`` (``s = sigma / r_c``, ``n`` the number density):
    energy per particle ``u_tail = 8/3 pi n (s^9 / 3 - s^3)`` and pressure
    ``p_tail = 16/3 pi n^2 (2/3 s^9 - s^3)``.

    Returns
    -------
    (u_tail, p_tail) : floats
        In units of ``epsilon`` and ``epsilon / sigma^3``.
    """
    s3 = (1.0 / cutoff) ** 3
    s9 = s3**3
    return (8.0 / 3.0 * math.pi * density * (s9 / 3.0 - s3),
            16.0 / 3.0 * math.pi * density**2 * (2.0 / 3.0 * s9 - s3))


class LennardJonesEOS:
    """Equation of state of the full Lennard-Jones fluid from a published fit.

    Parameters
    ----------
    model : {"jzg", "kn"}
        Johnson–Zollweg–Gubbins 1993 or Kolafa–Nezbeda 1994 (see the module docstring).
    epsilon, sigma, mass : float
        Well depth [energy], length scale [length] and particle mass [mass], all > 0.

    All methods take mass density ``rho`` [mass / length^3] and temperature ``T``
    [energy, ``k_B = 1``] (or specific internal energy ``e`` [energy / mass]) as
    arrays of any common shape and return arrays of that shape. The fits are stated
    for ``T* <= 6`` and ``rho* <= 1.2`` (JZG) or similar (KN); outside, they are
    extrapolations. Inside the vapour–liquid dome (``T* < 1.31``) they give the
    metastable/unstable single-phase branch.
    """

    def __init__(self, model: str = "jzg", epsilon: float = 1.0, sigma: float = 1.0,
                 mass: float = 1.0):
        if model not in MODELS:
            raise ValueError(
                f"LennardJonesEOS: model must be one of {', '.join(map(repr, MODELS))}, "
                f"got {model!r}"
            )
        for name, v in (("epsilon", epsilon), ("sigma", sigma), ("mass", mass)):
            if isinstance(v, bool) or not (isinstance(v, int | float) and math.isfinite(v)
                                           and v > 0):
                raise ValueError(f"LennardJonesEOS: {name} must be a finite number > 0, "
                                 f"got {v!r}")
        self.model = model
        self.epsilon, self.sigma, self.mass = float(epsilon), float(sigma), float(mass)
        self._a_res = _A_RES[model]

    def __repr__(self) -> str:
        return (f"LennardJonesEOS({self.model!r}, epsilon={self.epsilon!r}, "
                f"sigma={self.sigma!r}, mass={self.mass!r})")

    # reduced variables -----------------------------------------------------
    def _reduced(self, rho, T):
        rho = np.asarray(rho, dtype=float)
        T = np.asarray(T, dtype=float)
        n = rho / self.mass * self.sigma**3
        t = T / self.epsilon
        if np.any(~(n > 0)) or np.any(~(t > 0)):
            raise ValueError("LennardJonesEOS: density and temperature must be > 0, got "
                             f"rho={rho.min() if rho.size else rho!r}, "
                             f"T={T.min() if T.size else T!r}")
        return np.broadcast_arrays(n, t)

    def _derivs(self, n, t):
        """``(da/dn, da/dT)`` of ``a_res`` by the complex step, reduced units."""
        h = 1e-30
        a_n = np.imag(self._a_res(n + 1j * h, t)) / h
        a_t = np.imag(self._a_res(n, t + 1j * h)) / h
        return a_n, a_t

    def _p_u(self, n, t):
        """Reduced pressure and internal energy per particle."""
        a_n, a_t = self._derivs(n, t)
        p = n * t + n * n * a_n
        u = 1.5 * t + self._a_res(n, t) - t * a_t
        return p, u

    # public, in the user's units -------------------------------------------
    def helmholtz_residual(self, rho, T) -> np.ndarray:
        """Residual Helmholtz energy per unit mass [energy / mass]."""
        n, t = self._reduced(rho, T)
        return self._a_res(n, t) * self.epsilon / self.mass

    def pressure(self, rho, T) -> np.ndarray:
        """Pressure [energy / length^3] at mass density ``rho`` and temperature ``T``."""
        n, t = self._reduced(rho, T)
        return self._p_u(n, t)[0] * self.epsilon / self.sigma**3

    def energy(self, rho, T) -> np.ndarray:
        """Specific internal energy ``e`` [energy / mass] (kinetic ``3/2 T`` + configurational)."""
        n, t = self._reduced(rho, T)
        return self._p_u(n, t)[1] * self.epsilon / self.mass

    def sound_speed(self, rho, T) -> np.ndarray:
        """Adiabatic sound speed [length / time] (time unit ``sigma sqrt(mass / epsilon)``)."""
        n, t = self._reduced(rho, T)
        dn, dt = 1e-5 * n, 1e-5 * t
        p_np, _ = self._p_u(n + dn, t)
        p_nm, _ = self._p_u(n - dn, t)
        p_tp, u_tp = self._p_u(n, t + dt)
        p_tm, u_tm = self._p_u(n, t - dt)
        dp_dn = (p_np - p_nm) / (2 * dn)
        dp_dt = (p_tp - p_tm) / (2 * dt)
        cv = (u_tp - u_tm) / (2 * dt)
        c2 = dp_dn + t * dp_dt**2 / (n * n * cv)  # reduced, per particle mass 1
        if np.any(~(c2 > 0)):
            i = int(np.argmax(~(c2 > 0)))
            raise ValueError(
                f"LennardJonesEOS: mechanically unstable state (c^2 = {c2.flat[i]:.4g} <= 0) at "
                f"rho* = {n.flat[i]:.4g}, T* = {t.flat[i]:.4g}: inside the spinodal"
            )
        return np.sqrt(c2 * self.epsilon / self.mass)

    def temperature(self, rho, e, tol: float = 1e-12, maxiter: int = 100) -> np.ndarray:
        """Temperature ``T`` with ``energy(rho, T) = e`` (Newton, safeguarded by bisection).

        Raises
        ------
        ValueError
            When ``e`` is not reached for ``T`` in ``(0.8, 10) epsilon``, naming the state.
        """
        rho, e = np.broadcast_arrays(np.asarray(rho, dtype=float), np.asarray(e, dtype=float))
        target = e.ravel() * self.mass / self.epsilon  # reduced energy per particle
        return self._solve_T(rho, target, 1, "specific energy e", e.ravel(), tol, maxiter)

    def temperature_from_pressure(self, rho, p, tol: float = 1e-12,
                                  maxiter: int = 100) -> np.ndarray:
        """Temperature ``T`` with ``pressure(rho, T) = p`` (Newton, safeguarded by bisection).

        Raises
        ------
        ValueError
            When ``p`` is not reached for ``T`` in ``(0.8, 10) epsilon``, naming the state.
        """
        rho, p = np.broadcast_arrays(np.asarray(rho, dtype=float), np.asarray(p, dtype=float))
        target = p.ravel() * self.sigma**3 / self.epsilon
        return self._solve_T(rho, target, 0, "pressure p", p.ravel(), tol, maxiter)

    def _solve_T(self, rho, target, col, what, given, tol, maxiter):
        """Reduced ``T`` with ``_p_u(n, T)[col] = target`` on ``_T_RANGE``, shape of ``rho``."""
        shape = rho.shape
        r = rho.ravel()
        n = r / self.mass * self.sigma**3
        lo = np.full(n.shape, _T_RANGE[0])
        hi = np.full(n.shape, _T_RANGE[1])
        f_lo = self._p_u(n, lo)[col] - target
        f_hi = self._p_u(n, hi)[col] - target
        bad = ~((f_lo < 0) & (f_hi > 0))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(
                f"LennardJonesEOS: {what} = {given[i]:.6g} is not reached at "
                f"rho = {r[i]:.6g} for T* in {_T_RANGE}, where the fits hold"
            )
        t = np.clip(np.full(n.shape, 2.0), lo, hi)
        for _ in range(maxiter):
            f = self._p_u(n, t)[col] - target
            lo = np.where(f < 0, t, lo)
            hi = np.where(f > 0, t, hi)
            dt = 1e-6 * t
            slope = (self._p_u(n, t + dt)[col] - self._p_u(n, t - dt)[col]) / (2 * dt)
            t_new = t - f / np.where(slope > 0, slope, np.inf)
            outside = ~((t_new > lo) & (t_new < hi)) | ~(slope > 0)
            t_new = np.where(outside, 0.5 * (lo + hi), t_new)
            done = np.abs(t_new - t) <= tol * t
            t = t_new
            if np.all(done):
                break
        return (t * self.epsilon).reshape(shape)
