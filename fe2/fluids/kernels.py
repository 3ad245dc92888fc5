"""numba kernels: dumbbell ensembles and SLLOD molecular dynamics.

Dumbbells: twins of the numpy steps in :mod:`.dumbbells`. SLLOD with Lees–Edwards
boundaries (simple shear) or in a box deforming with a general planar flow and remapped by
lattice reduction: the micro models of :mod:`.nemd`.

Dumbbell layout at this boundary: ``Q`` ``(2, N, n)`` (component, dumbbell, point), ``L``
``(2, 2, n)``, noise ``(m, 2, N)`` (micro step, component, dumbbell; the same at every
point). Each kernel advances ``Q`` in place by ``m`` micro steps of size ``h``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from fe2.atomistic.kernels import add_pair_force, pair

__all__ = ["box_forces", "fene_steps", "hookean_steps", "kramers", "le_forces", "noise_block",
           "reduce_basis", "sllod_box_steps", "sllod_steps"]


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


@numba.njit(cache=True, inline="always")
def add_pair(f, vir, a, b, d0, d1, d2, r2, rc2, kind, prm):  # pragma: no cover - compiled
    """Add pair ``(a, b)``'s forces and virial when it is inside the cutoff.

    ``d = x_b - x_a`` is the bond of the chosen image and ``r2 = |d|^2``; forces go into
    ``f (n, 3)`` and ``d (x) f`` into ``vir (4,)`` as ``xx, yy, zz, xy``.
    """
    if r2 >= rc2:
        return
    r = math.sqrt(r2)
    s = -pair(kind, prm, r)[1] / r
    add_pair_force(f, a, b, s, d0, d1, d2)
    vir[0] += s * d0 * d0
    vir[1] += s * d1 * d1
    vir[2] += s * d2 * d2
    vir[3] += s * d0 * d1


@numba.njit(cache=True, inline="always")
def rescale(p, temperature, kin, kt):  # pragma: no cover - compiled
    """Isokinetic thermostat and kinetic tensor.

    Peculiar momenta ``p (n, 3)`` with ``sum p^2 = kin`` are rescaled to ``temperature``
    (``3 (n - 1)`` degrees of freedom); ``sum p (x) p`` goes into ``kt (4,)`` as
    ``xx, yy, zz, xy``.
    """
    n = p.shape[0]
    scale = math.sqrt(temperature * 3.0 * (n - 1) / kin) if kin > 0 else 1.0
    for k in range(4):
        kt[k] = 0.0
    for i in range(n):
        p[i, 0] *= scale
        p[i, 1] *= scale
        p[i, 2] *= scale
        kt[0] += p[i, 0] * p[i, 0]
        kt[1] += p[i, 1] * p[i, 1]
        kt[2] += p[i, 2] * p[i, 2]
        kt[3] += p[i, 0] * p[i, 1]


@numba.njit(cache=True, inline="always")
def accumulate(acc, kt, vir, V):  # pragma: no cover - compiled
    """Add the Irving–Kirkwood pressure tensor ``(kt + vir) / V`` to the running sums.

    ``acc`` holds ``xx, yy, zz, xy, xy^2``.
    """
    pxy = (kt[3] + vir[3]) / V
    acc[0] += (kt[0] + vir[0]) / V
    acc[1] += (kt[1] + vir[1]) / V
    acc[2] += (kt[2] + vir[2]) / V
    acc[3] += pxy
    acc[4] += pxy * pxy


@numba.njit(cache=True)
def le_forces(x, L, offset, kind, prm, f, vir):  # pragma: no cover - compiled
    """Pair forces in a cubic box with Lees–Edwards images (all pairs, minimum image).

    The image of a particle one box up (``+L`` in y) sits ``offset`` further in x. Writes
    the forces into ``f (n, 3)`` and the pair virial ``sum d (x) f`` (``d`` the bond,
    ``f`` the force on its second atom) into ``vir (4,)`` as ``xx, yy, zz, xy``.
    """
    n = x.shape[0]
    rc2 = prm[3] * prm[3]
    f[:, :] = 0.0
    vir[:] = 0.0
    for a in range(n):
        for b in range(a + 1, n):
            d1 = x[b, 1] - x[a, 1]
            ny = math.floor(d1 / L + 0.5)
            d1 -= ny * L
            d0 = x[b, 0] - x[a, 0] - ny * offset
            d0 -= L * math.floor(d0 / L + 0.5)
            d2 = x[b, 2] - x[a, 2]
            d2 -= L * math.floor(d2 / L + 0.5)
            add_pair(f, vir, a, b, d0, d1, d2, d0 * d0 + d1 * d1 + d2 * d2, rc2, kind, prm)


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
    kt = np.empty(4)
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
        rescale(p, temperature, kin, kt)
        accumulate(acc, kt, vir, V)
        acc[5] += 1.0


# --------------------------------------------- NEMD (SLLOD in a deforming, remapped box)


@numba.njit(cache=True)
def reduce_basis(h):  # pragma: no cover - compiled
    """Lagrange–Gauss reduction of the in-plane basis (columns of ``h (2, 2)``), in place.

    Afterwards ``|a| <= |b|`` and ``|a . b| <= |a|^2 / 2`` (``a = h[:, 0]``, ``b = h[:, 1]``):
    ``a`` is a shortest lattice vector and the angle lies in [60, 120] degrees. The lattice
    (hence the periodic system) is unchanged. Returns the number of basis changes.
    """
    changes = 0
    for _ in range(1000):
        aa = h[0, 0] * h[0, 0] + h[1, 0] * h[1, 0]
        bb = h[0, 1] * h[0, 1] + h[1, 1] * h[1, 1]
        if bb < aa:  # (a, b) <- (b, -a): same lattice, same orientation
            for r in range(2):
                t = h[r, 0]
                h[r, 0] = h[r, 1]
                h[r, 1] = -t
            aa, bb = bb, aa
            changes += 1
        ab = h[0, 0] * h[0, 1] + h[1, 0] * h[1, 1]
        k = math.floor(ab / aa + 0.5)
        if k == 0:
            break
        h[0, 1] -= k * h[0, 0]
        h[1, 1] -= k * h[1, 0]
        changes += 1
    return changes


@numba.njit(cache=True)
def box_forces(x, h, lz, kind, prm, f, vir):  # pragma: no cover - compiled
    """Pair forces in a periodic box with in-plane basis ``h (2, 2)`` and height ``lz``.

    Nearest image of every pair: fractional rounding in the plane, then the 3 x 3 nearby
    images (exact for a Lagrange–Gauss reduced basis); needs the shortest lattice vector
    to exceed twice the cutoff (then no pair has two images within it). Writes ``f (n, 3)``
    and the pair virial ``sum d (x) f`` into ``vir (4,)``: ``xx, yy, zz, xy``.
    """
    n = x.shape[0]
    rc2 = prm[3] * prm[3]
    det = h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]
    i00 = h[1, 1] / det
    i01 = -h[0, 1] / det
    i10 = -h[1, 0] / det
    i11 = h[0, 0] / det
    f[:, :] = 0.0
    vir[:] = 0.0
    for a in range(n):
        for b in range(a + 1, n):
            e0 = x[b, 0] - x[a, 0]
            e1 = x[b, 1] - x[a, 1]
            s0 = i00 * e0 + i01 * e1
            s1 = i10 * e0 + i11 * e1
            s0 -= math.floor(s0 + 0.5)
            s1 -= math.floor(s1 + 0.5)
            c0 = h[0, 0] * s0 + h[0, 1] * s1
            c1 = h[1, 0] * s0 + h[1, 1] * s1
            d0 = c0
            d1 = c1
            best = c0 * c0 + c1 * c1
            for ka in range(-1, 2):
                for kb in range(-1, 2):
                    g0 = c0 + ka * h[0, 0] + kb * h[0, 1]
                    g1 = c1 + ka * h[1, 0] + kb * h[1, 1]
                    q = g0 * g0 + g1 * g1
                    if q < best:
                        best = q
                        d0 = g0
                        d1 = g1
            d2 = x[b, 2] - x[a, 2]
            d2 -= lz * math.floor(d2 / lz + 0.5)
            add_pair(f, vir, a, b, d0, d1, d2, best + d2 * d2, rc2, kind, prm)


@numba.njit(cache=True)
def _wrap(x, h, lz):  # pragma: no cover - compiled
    det = h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]
    for i in range(x.shape[0]):
        s0 = (h[1, 1] * x[i, 0] - h[0, 1] * x[i, 1]) / det
        s1 = (-h[1, 0] * x[i, 0] + h[0, 0] * x[i, 1]) / det
        s0 -= math.floor(s0)
        s1 -= math.floor(s1)
        x[i, 0] = h[0, 0] * s0 + h[0, 1] * s1
        x[i, 1] = h[1, 0] * s0 + h[1, 1] * s1
        x[i, 2] -= lz * math.floor(x[i, 2] / lz)


@numba.njit(cache=True)
def sllod_box_steps(x, p, h, lz, L, M, N, kind, prm, dt, nsteps, temperature, x0, p0, h0,
                    warmup, acc, counts):  # pragma: no cover - compiled
    """``nsteps`` SLLOD steps under the in-plane velocity gradient ``L (2, 2)`` (traceless).

    ``dx/dt = p + L x``, ``dp/dt = F - L p`` (unit masses), z undeformed. The box deforms
    with the flow, ``h' = L h``: each step ``h <- M h`` with ``M = exp(L dt)``; the drift is
    exact for constant ``p``: ``x <- M x + N p`` with ``N = dt (M - I) (L dt)^-1``. After
    each step the basis ``h (2, 2)`` (columns, updated in place) is Lagrange–Gauss reduced
    when it is no longer reduced (an exact remap: same lattice), atoms are wrapped into the
    cell, and an isokinetic thermostat rescales the peculiar momenta to ``temperature``.
    When the shortest lattice vector falls below twice the cutoff the box is re-initialised
    from ``x0, p0, h0`` and the next ``warmup`` steps are not averaged.

    Adds to ``acc (6,)`` per averaged step the pressure tensor ``xx, yy, zz, xy`` (kinetic +
    virial over the volume), ``xy^2`` and 1. ``counts (2,)`` += remaps, re-initialisations.
    """
    n = x.shape[0]
    V = abs(h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]) * lz
    rc2x4 = 4.0 * prm[3] * prm[3]
    f = np.empty((n, 3))
    vir = np.empty(4)
    kt = np.empty(4)
    box_forces(x, h, lz, kind, prm, f, vir)
    skip = 0
    for _ in range(nsteps):
        for i in range(n):
            p[i, 0] += 0.5 * dt * (f[i, 0] - L[0, 0] * p[i, 0] - L[0, 1] * p[i, 1])
            p[i, 1] += 0.5 * dt * (f[i, 1] - L[1, 0] * p[i, 0] - L[1, 1] * p[i, 1])
            p[i, 2] += 0.5 * dt * f[i, 2]
        for i in range(n):
            a0 = M[0, 0] * x[i, 0] + M[0, 1] * x[i, 1] + N[0, 0] * p[i, 0] + N[0, 1] * p[i, 1]
            a1 = M[1, 0] * x[i, 0] + M[1, 1] * x[i, 1] + N[1, 0] * p[i, 0] + N[1, 1] * p[i, 1]
            x[i, 0] = a0
            x[i, 1] = a1
            x[i, 2] += dt * p[i, 2]
        for c in range(2):
            a0 = M[0, 0] * h[0, c] + M[0, 1] * h[1, c]
            a1 = M[1, 0] * h[0, c] + M[1, 1] * h[1, c]
            h[0, c] = a0
            h[1, c] = a1
        aa = h[0, 0] * h[0, 0] + h[1, 0] * h[1, 0]
        bb = h[0, 1] * h[0, 1] + h[1, 1] * h[1, 1]
        ab = h[0, 0] * h[0, 1] + h[1, 0] * h[1, 1]
        if bb < aa or 2.0 * abs(ab) > aa:
            counts[0] += 1
            reduce_basis(h)
            aa = h[0, 0] * h[0, 0] + h[1, 0] * h[1, 0]
        if aa < rc2x4:
            counts[1] += 1
            x[:, :] = x0
            p[:, :] = p0
            h[:, :] = h0
            skip = warmup
        _wrap(x, h, lz)
        box_forces(x, h, lz, kind, prm, f, vir)
        kin = 0.0
        for i in range(n):
            p[i, 0] += 0.5 * dt * (f[i, 0] - L[0, 0] * p[i, 0] - L[0, 1] * p[i, 1])
            p[i, 1] += 0.5 * dt * (f[i, 1] - L[1, 0] * p[i, 0] - L[1, 1] * p[i, 1])
            p[i, 2] += 0.5 * dt * f[i, 2]
            kin += p[i, 0] * p[i, 0] + p[i, 1] * p[i, 1] + p[i, 2] * p[i, 2]
        rescale(p, temperature, kin, kt)
        if skip > 0:
            skip -= 1
            continue
        accumulate(acc, kt, vir, V)
        acc[5] += 1.0
