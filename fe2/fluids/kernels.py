"""numba kernels: dumbbell ensembles and SLLOD molecular dynamics.

Dumbbells: twins of the numpy steps in :mod:`.dumbbells`. SLLOD with Lees–Edwards
boundaries: the micro model of :mod:`.nemd`.

Dumbbell layout at this boundary: ``Q`` ``(2, N, n)`` (component, dumbbell, point), ``L``
``(2, 2, n)``, noise ``(m, 2, N)`` (micro step, component, dumbbell; the same at every
point). Each kernel advances ``Q`` in place by ``m`` micro steps of size ``h``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from fe2.atomistic.kernels import pair

__all__ = ["fene_steps", "hookean_steps", "kramers", "le_forces", "noise_block", "sllod_steps"]


@numba.njit(cache=True, parallel=False)
def hookean_steps(Q, L, noise, h, lam):  # pragma: no cover - compiled
    """Heun steps of ``dQ = (L Q - Q / (2 lam)) dt + dW`` (``noise`` holds ``dW``)."""
    m = noise.shape[0]
    N = Q.shape[1]
    n = Q.shape[2]
    c = 0.5 / lam
    for d in range(N):  # points innermost: Q[:, d, :] is contiguous
        for p in range(n):
            a00 = L[0, 0, p] - c
            a01 = L[0, 1, p]
            a10 = L[1, 0, p]
            a11 = L[1, 1, p] - c
            x = Q[0, d, p]
            y = Q[1, d, p]
            for k in range(m):
                w0 = noise[k, 0, d]
                w1 = noise[k, 1, d]
                fx = a00 * x + a01 * y
                fy = a10 * x + a11 * y
                xp = x + fx * h + w0
                yp = y + fy * h + w1
                gx = a00 * xp + a01 * yp
                gy = a10 * xp + a11 * yp
                x = x + 0.5 * (fx + gx) * h + w0
                y = y + 0.5 * (fy + gy) * h + w1
            Q[0, d, p] = x
            Q[1, d, p] = y


@numba.njit(cache=True)
def _length(r, b, c):  # pragma: no cover - compiled
    """Root in ``[0, sqrt(b))`` of ``l (1 + c / (1 - l^2/b)) = r`` (Newton on a bracket)."""
    lo = 0.0
    hi = math.sqrt(b)
    x = min(r, 0.5 * (lo + hi)) if r < hi else 0.5 * (lo + hi)
    for _ in range(100):
        s = 1.0 - x * x / b
        f = x * (1.0 + c / s) - r
        if f > 0:
            hi = x
        else:
            lo = x
        df = 1.0 + c / s + 2.0 * c * x * x / (b * s * s)
        xn = x - f / df
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) < 1e-14 * (1.0 + x):
            return xn
        x = xn
    return x


@numba.njit(cache=True)
def fene_steps(Q, L, noise, h, lam, b, clipped):  # pragma: no cover - compiled
    """Öttinger's semi-implicit predictor–corrector for FENE springs; counts clips per point."""
    m = noise.shape[0]
    N = Q.shape[1]
    n = Q.shape[2]
    c2 = 0.5 / lam
    c4 = h / (4.0 * lam)
    lim = (1.0 - 1e-6) * b
    for d in range(N):  # points innermost: Q[:, d, :] is contiguous
        for p in range(n):
            l00 = L[0, 0, p]
            l01 = L[0, 1, p]
            l10 = L[1, 0, p]
            l11 = L[1, 1, p]
            x = Q[0, d, p]
            y = Q[1, d, p]
            for k in range(m):
                w0 = noise[k, 0, d]
                w1 = noise[k, 1, d]
                s = 1.0 / (1.0 - (x * x + y * y) / b)
                Fx = s * x
                Fy = s * y
                kx = l00 * x + l01 * y
                ky = l10 * x + l11 * y
                xp = x + (kx - c2 * Fx) * h + w0
                yp = y + (ky - c2 * Fy) * h + w1
                Rx = x + 0.5 * (kx + l00 * xp + l01 * yp) * h - c4 * Fx + w0
                Ry = y + 0.5 * (ky + l10 * xp + l11 * yp) * h - c4 * Fy + w1
                r = math.sqrt(Rx * Rx + Ry * Ry)
                if r > 0:
                    ln = _length(r, b, c4)
                    x = Rx * ln / r
                    y = Ry * ln / r
                else:
                    x = 0.0
                    y = 0.0
                q2 = x * x + y * y
                if q2 >= lim:
                    f = math.sqrt(lim / q2)
                    x *= f
                    y *= f
                    clipped[p] += 1
            Q[0, d, p] = x
            Q[1, d, p] = y


@numba.njit(cache=True)
def kramers(Q, b, out_mean, out_se):  # pragma: no cover - compiled
    """Ensemble means of ``Q_i F_j`` and their standard errors.

    ``out_mean`` ``(3, n)``: xx, xy, yy; ``out_se`` ``(2, n)``: of xy and xx - yy.
    ``b <= 0`` means Hookean springs.
    """
    N = Q.shape[1]
    n = Q.shape[2]
    acc = np.zeros((5, n))
    for d in range(N):
        for p in range(n):
            x = Q[0, d, p]
            y = Q[1, d, p]
            s = 1.0 if b <= 0 else 1.0 / (1.0 - (x * x + y * y) / b)
            a = s * x * x
            e = s * x * y
            c = s * y * y
            acc[0, p] += a
            acc[1, p] += e
            acc[2, p] += c
            acc[3, p] += e * e
            acc[4, p] += (a - c) * (a - c)
    for p in range(n):
        mxx = acc[0, p] / N
        mxy = acc[1, p] / N
        myy = acc[2, p] / N
        out_mean[0, p] = mxx
        out_mean[1, p] = mxy
        out_mean[2, p] = myy
        vxy = max(acc[3, p] / N - mxy * mxy, 0.0) * N / (N - 1)
        vn1 = max(acc[4, p] / N - (mxx - myy) ** 2, 0.0) * N / (N - 1)
        out_se[0, p] = math.sqrt(vxy / N)
        out_se[1, p] = math.sqrt(vn1 / N)


def noise_block(seed: int, k0: int, m: int, N: int, scale: float) -> np.ndarray:
    """Wiener increments ``(m, 2, N)`` of micro steps ``k0 .. k0 + m - 1``, ``scale`` * N(0, 1)."""
    out = np.empty((m, 2, N))
    for k in range(m):
        out[k] = scale * np.random.default_rng([seed, k0 + k]).standard_normal((2, N))
    return out


# ---------------------------------------------------------------- NEMD (SLLOD + Lees-Edwards)


@numba.njit(cache=True)
def le_forces(x, L, offset, kind, prm, f, vir):  # pragma: no cover - compiled
    """Pair forces in a cubic box with Lees–Edwards images (all pairs, minimum image).

    The image of a particle one box up (``+L`` in y) sits ``offset`` further in x. Writes
    the forces into ``f (n, 3)`` and the pair virial ``sum d (x) f`` (``d`` the bond,
    ``f`` the force on its second atom) into ``vir (4,)`` as ``xx, yy, zz, xy``.
    """
    n = x.shape[0]
    rc2 = prm[3] * prm[3]
    for i in range(n):
        f[i, 0] = 0.0
        f[i, 1] = 0.0
        f[i, 2] = 0.0
    for k in range(4):
        vir[k] = 0.0
    for a in range(n):
        for b in range(a + 1, n):
            d1 = x[b, 1] - x[a, 1]
            ny = math.floor(d1 / L + 0.5)
            d1 -= ny * L
            d0 = x[b, 0] - x[a, 0] - ny * offset
            d0 -= L * math.floor(d0 / L + 0.5)
            d2 = x[b, 2] - x[a, 2]
            d2 -= L * math.floor(d2 / L + 0.5)
            r2 = d0 * d0 + d1 * d1 + d2 * d2
            if r2 >= rc2:
                continue
            r = math.sqrt(r2)
            p0, p1, p2 = pair(kind, prm, r)
            s = -p1 / r
            f[b, 0] += s * d0
            f[b, 1] += s * d1
            f[b, 2] += s * d2
            f[a, 0] -= s * d0
            f[a, 1] -= s * d1
            f[a, 2] -= s * d2
            vir[0] += s * d0 * d0
            vir[1] += s * d1 * d1
            vir[2] += s * d2 * d2
            vir[3] += s * d0 * d1


@numba.njit(cache=True)
def sllod_steps(x, p, state, L, rate, kind, prm, dt, nsteps, temperature, acc):  # pragma: no cover
    """``nsteps`` SLLOD steps in planar Couette flow ``u = (rate y, 0, 0)``, unit masses.

    ``x (n, 3)`` positions in ``[0, L)^3``, ``p (n, 3)`` peculiar momenta, ``state[0]`` the
    Lees–Edwards offset (advanced by ``rate L dt`` per step, kept in ``[0, L)``). Velocity
    Verlet with the SLLOD terms (``dx/dt = p + rate y e_x``, ``dp/dt = F - rate p_y e_x``)
    and an isokinetic thermostat (peculiar momenta rescaled to ``temperature`` after every
    step, ``3 (n - 1)`` degrees of freedom). Adds to ``acc (6,)`` per step: the pressure
    tensor ``xx, yy, zz, xy`` (kinetic + virial, over ``L^3``), ``xy^2`` and 1.
    """
    n = x.shape[0]
    V = L * L * L
    f = np.empty((n, 3))
    vir = np.empty(4)
    le_forces(x, L, state[0], kind, prm, f, vir)
    for _ in range(nsteps):
        for i in range(n):
            p[i, 0] += 0.5 * dt * (f[i, 0] - rate * p[i, 1])
            p[i, 1] += 0.5 * dt * f[i, 1]
            p[i, 2] += 0.5 * dt * f[i, 2]
        for i in range(n):
            x[i, 0] += dt * (p[i, 0] + rate * (x[i, 1] + 0.5 * dt * p[i, 1]))
            x[i, 1] += dt * p[i, 1]
            x[i, 2] += dt * p[i, 2]
        off = state[0] + rate * L * dt
        off -= L * math.floor(off / L)
        state[0] = off
        for i in range(n):
            if x[i, 1] >= L:
                x[i, 1] -= L
                x[i, 0] -= off
            elif x[i, 1] < 0.0:
                x[i, 1] += L
                x[i, 0] += off
            x[i, 0] -= L * math.floor(x[i, 0] / L)
            x[i, 2] -= L * math.floor(x[i, 2] / L)
        le_forces(x, L, off, kind, prm, f, vir)
        kin = 0.0
        for i in range(n):
            p[i, 0] += 0.5 * dt * (f[i, 0] - rate * p[i, 1])
            p[i, 1] += 0.5 * dt * f[i, 1]
            p[i, 2] += 0.5 * dt * f[i, 2]
            kin += p[i, 0] * p[i, 0] + p[i, 1] * p[i, 1] + p[i, 2] * p[i, 2]
        scale = math.sqrt(temperature * 3.0 * (n - 1) / kin) if kin > 0 else 1.0
        kxx = 0.0
        kyy = 0.0
        kzz = 0.0
        kxy = 0.0
        for i in range(n):
            p[i, 0] *= scale
            p[i, 1] *= scale
            p[i, 2] *= scale
            kxx += p[i, 0] * p[i, 0]
            kyy += p[i, 1] * p[i, 1]
            kzz += p[i, 2] * p[i, 2]
            kxy += p[i, 0] * p[i, 1]
        pxy = (kxy + vir[3]) / V
        acc[0] += (kxx + vir[0]) / V
        acc[1] += (kyy + vir[1]) / V
        acc[2] += (kzz + vir[2]) / V
        acc[3] += pxy
        acc[4] += pxy * pxy
        acc[5] += 1.0
