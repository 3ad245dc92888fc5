"""Numba kernels of the atomistic models, in one module.

numba's on-disk cache (``cache=True``) is invalidated only when the file that
defines a function changes; the kernels inline :func:`pair`, so they all live
here and a change to a potential recompiles every kernel that uses it.

All kernels take points (or atoms, or bonds) first: the callers reshape at
their boundary (``fe2.atomistic.lattice.CauchyBorn._compute`` for the oracle layout
``(d, d, *pts)``).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def raw_pair(kind, prm, r):  # pragma: no cover - compiled
    """Untruncated ``phi, phi', phi''`` at ``r``."""
    if kind == 0:  # Lennard-Jones
        eps = prm[0]
        sr2 = (prm[1] / r) ** 2
        sr6 = sr2 * sr2 * sr2
        sr12 = sr6 * sr6
        return (
            4.0 * eps * (sr12 - sr6),
            4.0 * eps * (-12.0 * sr12 + 6.0 * sr6) / r,
            4.0 * eps * (156.0 * sr12 - 42.0 * sr6) / (r * r),
        )
    if kind == 1:  # Morse
        D = prm[0]
        a = prm[1]
        e = math.exp(-a * (r - prm[2]))
        return (
            D * (e * e - 2.0 * e),
            2.0 * D * a * (e - e * e),
            2.0 * D * a * a * (2.0 * e * e - e),
        )
    # harmonic spring
    k = prm[0]
    dr = r - prm[1]
    return 0.5 * k * dr * dr, k * dr, k


@numba.njit(cache=True, inline="always")
def pair(kind, prm, r):  # pragma: no cover - compiled
    """``(phi, phi', phi'')`` of potential ``kind`` with parameters ``prm`` at distance ``r``.

    Truncated and shifted: zero at and beyond ``prm[3]`` (the cutoff), else
    ``phi_raw(r) - prm[4] - prm[5] r`` (the shift ``phi(rc) + phi'(rc) (r - rc)``
    written as ``c0 + c1 r``).
    """
    if r >= prm[3]:
        return 0.0, 0.0, 0.0
    p0, p1, p2 = raw_pair(kind, prm, r)
    return p0 - prm[4] - prm[5] * r, p1 - prm[5], p2


@numba.njit(cache=True)
def pair_array(kind, prm, r, phi, dphi, ddphi):  # pragma: no cover - compiled
    """:func:`pair` over a flat array ``r (n,)`` into ``phi``, ``dphi``, ``ddphi (n,)``."""
    for m in range(r.size):
        a, b, c = pair(kind, prm, r[m])
        phi[m] = a
        dphi[m] = b
        ddphi[m] = c


@numba.njit(cache=True)
def lambda_min(F):  # pragma: no cover - compiled
    """Smallest eigenvalue of ``C = F^T F`` for a 2x2 or 3x3 ``F``."""
    d = F.shape[0]
    C = np.zeros((d, d))
    for a in range(d):
        for b in range(d):
            s = 0.0
            for k in range(d):
                s += F[k, a] * F[k, b]
            C[a, b] = s
    if d == 2:
        tr = C[0, 0] + C[1, 1]
        det = C[0, 0] * C[1, 1] - C[0, 1] * C[1, 0]
        disc = max(0.25 * tr * tr - det, 0.0)
        return 0.5 * tr - math.sqrt(disc)
    p1 = C[0, 1] ** 2 + C[0, 2] ** 2 + C[1, 2] ** 2
    q = (C[0, 0] + C[1, 1] + C[2, 2]) / 3.0
    p2 = (C[0, 0] - q) ** 2 + (C[1, 1] - q) ** 2 + (C[2, 2] - q) ** 2 + 2.0 * p1
    p = math.sqrt(p2 / 6.0)
    if p < 1e-300:
        return q
    b00 = (C[0, 0] - q) / p
    b11 = (C[1, 1] - q) / p
    b22 = (C[2, 2] - q) / p
    b01 = C[0, 1] / p
    b02 = C[0, 2] / p
    b12 = C[1, 2] / p
    r = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02)
               + b02 * (b01 * b12 - b11 * b02))
    r = min(1.0, max(-1.0, r))
    phi = math.acos(r) / 3.0
    return q + 2.0 * p * math.cos(phi + 2.0 * math.pi / 3.0)


@numba.njit(cache=True)
def cb_simple(F, dX, dd, sym, upos, kind, prm, bonded, scale, rnext, tiny2,
               W, P, A, status):  # pragma: no cover - compiled
    """Simple lattice: ``F (n, d, d)`` -> ``W (n,)``, ``P (n, d, d)``, ``A (n, d, d, d, d)``.

    ``dX (nbond, d)`` half bond list, ``dd (nbond, nu)`` the products ``dX_J dX_L``
    over the ``nu`` symmetric index pairs ``sym (nu, 2)``; ``upos (d, d)`` maps an
    index pair to its position in ``sym``. ``status``: 0 ok, 1 shell outside the
    list may enter the cutoff, 2 overlapping atoms.
    """
    n = F.shape[0]
    d = F.shape[1]
    nb = dX.shape[0]
    nu = sym.shape[0]
    rc = prm[3]
    rc2 = rc * rc
    r = np.empty(d)
    rr = np.empty(nu)
    T = np.empty((nu, nu))
    B = np.empty(nu)
    for m in range(n):
        Fm = F[m]
        st = 0
        if not bonded:
            lm = lambda_min(Fm)
            if lm <= 0.0 or math.sqrt(lm) * rnext <= rc:
                st = 1
        w = 0.0
        for i in range(d):
            for J in range(d):
                P[m, i, J] = 0.0
        T[:, :] = 0.0
        B[:] = 0.0
        for b in range(nb):
            r2 = 0.0
            for i in range(d):
                s = 0.0
                for J in range(d):
                    s += Fm[i, J] * dX[b, J]
                r[i] = s
                r2 += s * s
            if not bonded and r2 >= rc2:
                continue
            if r2 < tiny2:
                st = 2
                continue
            rl = math.sqrt(r2)
            phi, d1, d2 = pair(kind, prm, rl)
            beta = d1 / rl
            alpha = (d2 - beta) / r2
            w += phi
            for i in range(d):
                bi = beta * r[i]
                for J in range(d):
                    P[m, i, J] += bi * dX[b, J]
            for u in range(nu):
                rr[u] = alpha * r[sym[u, 0]] * r[sym[u, 1]]
            for v in range(nu):
                ddv = dd[b, v]
                B[v] += beta * ddv
                for u in range(nu):
                    T[u, v] += rr[u] * ddv
        W[m] = scale * w
        for i in range(d):
            for J in range(d):
                P[m, i, J] *= scale
                for k in range(d):
                    u = upos[i, k]
                    for L in range(d):
                        v = upos[J, L]
                        a = T[u, v]
                        if i == k:
                            a += B[v]
                        A[m, i, J, k, L] = scale * a
        status[m] = st


@numba.njit(cache=True)
def chol_solve(H, rhs, out, ns):  # pragma: no cover - compiled
    """Solve ``H out = rhs`` by Cholesky (``H`` s.p.d. ``(ns, ns)``); False if not s.p.d."""
    L = np.zeros((ns, ns))
    for i in range(ns):
        for j in range(i + 1):
            s = H[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if s <= 0.0:
                    return False
                L[i, i] = math.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    nr = rhs.shape[1]
    for c in range(nr):
        for i in range(ns):
            s = rhs[i, c]
            for k in range(i):
                s -= L[i, k] * out[k, c]
            out[i, c] = s / L[i, i]
        for i in range(ns - 1, -1, -1):
            s = out[i, c]
            for k in range(i + 1, ns):
                s -= L[k, i] * out[k, c]
            out[i, c] = s / L[i, i]
    return True


@numba.njit(cache=True)
def multi_pass(Fm, p, dX, ia, ib, kind, prm, bonded, tiny2, order, g, H, PF, AF, Fs):
    # pragma: no cover - compiled
    """One sweep over the bonds of a multilattice at ``(F, p)`` (unscaled sums).

    ``order`` 0: energy only; 1: also ``g = dW/dp`` and ``H = d2W/dp2``; 2: also
    ``PF = dW/dF``, ``AF = d2W/dF2`` ``(d*d, d*d)`` and ``Fs = d2W/dF dp``.
    Returns ``(energy, ok)``; ``ok`` is False when two atoms overlap.
    """
    d = Fm.shape[0]
    nbond = dX.shape[0]
    rc = prm[3]
    rc2 = rc * rc
    r = np.empty(d)
    K = np.empty((d, d))
    if order >= 1:
        g[:] = 0.0
        H[:, :] = 0.0
    if order >= 2:
        PF[:] = 0.0
        AF[:, :] = 0.0
        Fs[:, :] = 0.0
    w = 0.0
    ok = True
    for b in range(nbond):
        A_ = ia[b]
        B_ = ib[b]
        r2 = 0.0
        for i in range(d):
            s = p[B_, i] - p[A_, i]
            for J in range(d):
                s += Fm[i, J] * dX[b, J]
            r[i] = s
            r2 += s * s
        if not bonded and r2 >= rc2:
            continue
        if r2 < tiny2:
            ok = False
            continue
        rl = math.sqrt(r2)
        phi, d1, d2 = pair(kind, prm, rl)
        w += phi
        if order == 0:
            continue
        beta = d1 / rl
        alpha = (d2 - beta) / r2
        for i in range(d):
            for k in range(d):
                K[i, k] = alpha * r[i] * r[k]
            K[i, i] += beta
        # shift blocks: end B_ has sign +1, end A_ sign -1; sublattice 0 is fixed
        for e1 in range(2):
            c1 = B_ if e1 == 0 else A_
            s1 = 1.0 if e1 == 0 else -1.0
            if c1 == 0:
                continue
            o1 = (c1 - 1) * d
            for i in range(d):
                g[o1 + i] += s1 * beta * r[i]
            for e2 in range(2):
                c2 = B_ if e2 == 0 else A_
                s2 = 1.0 if e2 == 0 else -1.0
                if c2 == 0:
                    continue
                o2 = (c2 - 1) * d
                for i in range(d):
                    for k in range(d):
                        H[o1 + i, o2 + k] += s1 * s2 * K[i, k]
            if order >= 2:
                for i in range(d):
                    for J in range(d):
                        for k in range(d):
                            Fs[i * d + J, o1 + k] += s1 * K[i, k] * dX[b, J]
        if order >= 2:
            for i in range(d):
                for J in range(d):
                    PF[i * d + J] += beta * r[i] * dX[b, J]
                    for k in range(d):
                        for L in range(d):
                            AF[i * d + J, k * d + L] += K[i, k] * dX[b, J] * dX[b, L]
    return w, ok


@numba.njit(cache=True)
def cb_multi(F, dX, ia, ib, nb, kind, prm, bonded, scale, rnext, tiny2, alen, tol, maxit,
              W, P, A, S, status, iters):  # pragma: no cover - compiled
    """Multilattice: relax the inner shifts ``S (n, nb, d)`` per point, then condense.

    ``status``: 0 ok, 1 shell may enter the cutoff, 2 overlapping atoms,
    3 shift relaxation not converged.
    """
    n = F.shape[0]
    d = F.shape[1]
    ns = (nb - 1) * d
    dd = d * d
    rc = prm[3]
    p = np.zeros((nb, d))
    pt = np.zeros((nb, d))
    g = np.zeros(ns)
    H = np.zeros((ns, ns))
    Hm = np.zeros((ns, ns))
    rhs = np.zeros((ns, 1))
    dp = np.zeros((ns, 1))
    PF = np.zeros(dd)
    AF = np.zeros((dd, dd))
    Fs = np.zeros((ns, dd)).T.copy()
    X = np.zeros((ns, dd))
    FsT = np.zeros((ns, dd))
    for m in range(n):
        Fm = F[m]
        p[:, :] = 0.0
        st = 0
        conv = False
        iters[m] = 0
        for _ in range(maxit):
            iters[m] += 1
            e0, ok = multi_pass(Fm, p, dX, ia, ib, kind, prm, bonded, tiny2, 1, g, H, PF, AF, Fs)
            if not ok:
                st = 2
                break
            for i in range(ns):
                rhs[i, 0] = -g[i]
            mu = 0.0
            hscale = 0.0
            for i in range(ns):
                hscale = max(hscale, abs(H[i, i]))
            solved = False
            for _ in range(60):
                for i in range(ns):
                    for k in range(ns):
                        Hm[i, k] = H[i, k]
                    Hm[i, i] += mu
                if chol_solve(Hm, rhs, dp, ns):
                    solved = True
                    break
                mu = max(2.0 * mu, 1e-8 * hscale + 1e-300)
            if not solved:
                break
            step = 0.0
            slope = 0.0
            for i in range(ns):
                step = max(step, abs(dp[i, 0]))
                slope += g[i] * dp[i, 0]
            t = 1.0
            if step > 1e-6 * alen or mu > 0.0:
                # damped step: backtrack on the energy (Armijo)
                for _ in range(40):
                    for c in range(nb):
                        for i in range(d):
                            pt[c, i] = p[c, i] + (t * dp[(c - 1) * d + i, 0] if c > 0 else 0.0)
                    e1, ok1 = multi_pass(Fm, pt, dX, ia, ib, kind, prm, bonded, tiny2, 0,
                                          g, H, PF, AF, Fs)
                    if ok1 and e1 <= e0 + 1e-4 * t * slope:
                        break
                    t *= 0.5
            for c in range(1, nb):
                for i in range(d):
                    p[c, i] += t * dp[(c - 1) * d + i, 0]
            if t * step <= tol and mu == 0.0:
                conv = True
                break
        if st == 0 and not conv:
            st = 3
        e, ok = multi_pass(Fm, p, dX, ia, ib, kind, prm, bonded, tiny2, 2, g, H, PF, AF, Fs)
        if not ok:
            st = 2
        # condensation A = AF - Fs H^-1 Fs^T
        for i in range(ns):
            for k in range(dd):
                FsT[i, k] = Fs[k, i]
        okh = chol_solve(H, FsT, X, ns)
        if not okh and st == 0:
            st = 3
        for a in range(dd):
            for b in range(dd):
                s = AF[a, b]
                if okh:
                    for i in range(ns):
                        s -= Fs[a, i] * X[i, b]
                A[m, a // d, a % d, b // d, b % d] = scale * s
            P[m, a // d, a % d] = scale * PF[a]
        W[m] = scale * e
        pmax = 0.0
        for c in range(nb):
            nrm = 0.0
            for i in range(d):
                S[m, c, i] = p[c, i]
                nrm += p[c, i] ** 2
            pmax = max(pmax, math.sqrt(nrm))
        if not bonded and st == 0:
            lm = lambda_min(Fm)
            if lm <= 0.0 or math.sqrt(lm) * rnext - 2.0 * pmax <= rc:
                st = 1
        status[m] = st


# ---------------------------------------------------------------- the oracle


@numba.njit(cache=True)
def cell_pairs(P, orig, img, nreal, rl2, cid, starts, order, ncell, offsets, active, fill,
                out_i, out_j, out_m):  # pragma: no cover - compiled
    """Pairs ``(i real, point p)`` closer than ``sqrt(rl2)``, each physical pair once.

    ``P (N, d)`` points (real atoms first, then images), ``orig (N,)`` atom of each
    point, ``img (N, d)`` its image, ``cid (N, d)`` cell of each point, cells
    sorted by ``order`` with ``starts`` offsets into it. A pair is kept when
    ``orig[p] > i``, or ``orig[p] == i`` with a lexicographically positive image,
    and one of its atoms is active. With ``fill`` False only counts.
    """
    d = P.shape[1]
    cnt = 0
    cc = np.empty(d, dtype=np.int64)
    for i in range(nreal):
        for o in range(offsets.shape[0]):
            flat = 0
            inside = True
            for k in range(d):
                cc[k] = cid[i, k] + offsets[o, k]
                if cc[k] < 0 or cc[k] >= ncell[k]:
                    inside = False
                flat = flat * ncell[k] + cc[k]
            if not inside:
                continue
            for q in range(starts[flat], starts[flat + 1]):
                p = order[q]
                j = orig[p]
                if j < i:
                    continue
                if j == i:
                    pos = False
                    for k in range(d):
                        if img[p, k] > 0:
                            pos = True
                            break
                        if img[p, k] < 0:
                            break
                    if not pos:
                        continue
                if not (active[i] or active[j]):
                    continue
                r2 = 0.0
                for k in range(d):
                    t = P[p, k] - P[i, k]
                    r2 += t * t
                if r2 >= rl2:
                    continue
                if fill:
                    out_i[cnt] = i
                    out_j[cnt] = j
                    for k in range(d):
                        out_m[cnt, k] = img[p, k]
                cnt += 1
    return cnt


@numba.njit(cache=True)
def pair_sum(x, H, pi, pj, pm, weight, kind, prm, bonded, tiny2, grad, hess, K):
    # pragma: no cover - compiled
    """Energy ``sum_q weight[q] phi(r_q)``, ``grad (n, d)`` and per-pair Hessian blocks.

    ``K (np, d, d)`` receives ``weight (alpha r r^T + beta I)`` when ``hess``.
    Returns ``(energy, n_overlaps)``.
    """
    d = x.shape[1]
    npairs = pi.shape[0]
    rc = prm[3]
    rc2 = rc * rc
    r = np.empty(d)
    E = 0.0
    bad = 0
    grad[:, :] = 0.0
    for q in range(npairs):
        a = pi[q]
        b = pj[q]
        r2 = 0.0
        for k in range(d):
            s = x[b, k] - x[a, k]
            for l in range(d):
                s += H[k, l] * pm[q, l]
            r[k] = s
            r2 += s * s
        if hess:
            K[q, :, :] = 0.0
        if not bonded and r2 >= rc2:
            continue
        if r2 < tiny2:
            bad += 1
            continue
        rl = math.sqrt(r2)
        phi, d1, d2 = pair(kind, prm, rl)
        w = weight[q]
        E += w * phi
        beta = d1 / rl
        for k in range(d):
            f = w * beta * r[k]
            grad[b, k] += f
            grad[a, k] -= f
        if hess:
            alpha = (d2 - beta) / r2
            for k in range(d):
                for l in range(d):
                    K[q, k, l] = w * alpha * r[k] * r[l]
                K[q, k, k] += w * beta
    return E, bad


@numba.njit(cache=True)
def locate(points, transform, lo, hi, glo, size, ncell, tol):  # pragma: no cover
    """Simplex of each point ``(n, d)`` (-1 when outside any).

    Simplex bounding boxes ``lo, hi (m, d)`` are binned on a grid of cell ``size``
    from ``glo`` with ``ncell (d,)`` cells; ``transform`` is scipy's barycentric map.
    """
    n, d = points.shape
    m = lo.shape[0]
    ntot = 1
    for k in range(d):
        ntot *= ncell[k]
    a = np.empty(d, dtype=np.int64)
    b = np.empty(d, dtype=np.int64)
    c = np.empty(d, dtype=np.int64)
    counts = np.zeros(ntot + 1, dtype=np.int64)
    for pas in range(2):
        if pas == 1:
            for i in range(ntot):
                counts[i + 1] += counts[i]
            fill = counts[:-1].copy()
            items = np.empty(counts[ntot], dtype=np.int64)
        for e in range(m):
            for k in range(d):
                a[k] = min(ncell[k] - 1, max(0, int((lo[e, k] - glo[k]) / size)))
                b[k] = min(ncell[k] - 1, max(0, int((hi[e, k] - glo[k]) / size)))
                c[k] = a[k]
            while True:
                flat = 0
                for k in range(d):
                    flat = flat * ncell[k] + c[k]
                if pas == 0:
                    counts[flat + 1] += 1
                else:
                    items[fill[flat]] = e
                    fill[flat] += 1
                k = d - 1
                while k >= 0:
                    c[k] += 1
                    if c[k] <= b[k]:
                        break
                    c[k] = a[k]
                    k -= 1
                if k < 0:
                    break
    out = np.full(n, -1, dtype=np.int64)
    lam = np.empty(d + 1)
    for i in range(n):
        flat = 0
        for k in range(d):
            ck = min(ncell[k] - 1, max(0, int((points[i, k] - glo[k]) / size)))
            flat = flat * ncell[k] + ck
        best = -1e300
        for q in range(counts[flat], counts[flat + 1]):
            e = items[q]
            s = 0.0
            for j in range(d):
                v = 0.0
                for k in range(d):
                    v += transform[e, j, k] * (points[i, k] - transform[e, d, k])
                lam[j] = v
                s += v
            lam[d] = 1.0 - s
            mn = lam[0]
            for j in range(1, d + 1):
                mn = min(mn, lam[j])
            if mn >= -tol and mn > best:
                best = mn
                out[i] = e
    return out


@numba.njit(cache=True)
def pair_coefficients(pi, pj, indptr, indices, data, width, cI, cv, cn):  # pragma: no cover
    """Rep-atom coefficients of each pair's difference ``Phi[b] - Phi[a]``.

    ``Phi`` is CSR ``(indptr, indices, data)``; per pair ``q`` the merged list of
    rep atoms ``cI[q, :cn[q]]`` and coefficients ``cv[q, :cn[q]]`` (at most ``width``).
    """
    for q in range(pi.shape[0]):
        n = 0
        for s, atom in ((1.0, pj[q]), (-1.0, pi[q])):
            for k in range(indptr[atom], indptr[atom + 1]):
                rep = indices[k]
                found = False
                for u in range(n):
                    if cI[q, u] == rep:
                        cv[q, u] += s * data[k]
                        found = True
                        break
                if not found and n < width:
                    cI[q, n] = rep
                    cv[q, n] = s * data[k]
                    n += 1
        cn[q] = n


@numba.njit(cache=True)
def project_hessian(K, cv, cn, pos, out):  # pragma: no cover
    """Rep-atom Hessian blocks ``out[pos[q, u, v]] += cv[q, u] cv[q, v] K[q]`` (BSR data)."""
    out[:, :, :] = 0.0
    d = K.shape[1]
    for q in range(K.shape[0]):
        for u in range(cn[q]):
            for v in range(cn[q]):
                c = cv[q, u] * cv[q, v]
                b = pos[q, u, v]
                for i in range(d):
                    for j in range(d):
                        out[b, i, j] += c * K[q, i, j]


@numba.njit(cache=True)
def block_positions(cI, cn, indptr, indices, pos):  # pragma: no cover
    """Position ``pos[q, u, v]`` of block ``(cI[q, u], cI[q, v])`` in a sorted CSR pattern."""
    for q in range(cI.shape[0]):
        for u in range(cn[q]):
            row = cI[q, u]
            lo0 = indptr[row]
            hi0 = indptr[row + 1]
            for v in range(cn[q]):
                col = cI[q, v]
                lo = lo0
                hi = hi0
                while lo < hi:
                    mid = (lo + hi) // 2
                    if indices[mid] < col:
                        lo = mid + 1
                    else:
                        hi = mid
                pos[q, u, v] = lo


# ---------------------------------------------------------------- molecular dynamics


@numba.njit(cache=True)
def md_forces(x, L, pi, pj, pm, kind, prm, f, obs):  # pragma: no cover - compiled
    """Forces and pair observables of atoms ``x (n, 3)`` in a cubic periodic box of side ``L``.

    Pairs ``(pi, pj, pm)`` from a neighbour list (bond ``x[pj] - x[pi] + L pm``); only
    those closer than the cutoff ``prm[3]`` act. Writes the forces into ``f (n, 3)`` and
    into ``obs (10,)``: potential energy (of the shifted potential), number of pairs
    inside the cutoff, the Born sum ``sum (r phi' + r^2 phi'')`` and the pair virial
    ``sum d (x) f`` as ``xx, yy, zz, xy, xz, yz`` (``d`` the bond, ``f = -phi' d / r``
    the force on the second atom), then zero.
    """
    rc2 = prm[3] * prm[3]
    for i in range(f.shape[0]):
        f[i, 0] = 0.0
        f[i, 1] = 0.0
        f[i, 2] = 0.0
    for k in range(10):
        obs[k] = 0.0
    for q in range(pi.shape[0]):
        a = pi[q]
        b = pj[q]
        d0 = x[b, 0] - x[a, 0] + L * pm[q, 0]
        d1 = x[b, 1] - x[a, 1] + L * pm[q, 1]
        d2 = x[b, 2] - x[a, 2] + L * pm[q, 2]
        r2 = d0 * d0 + d1 * d1 + d2 * d2
        if r2 >= rc2:
            continue
        r = math.sqrt(r2)
        p0, p1, p2 = pair(kind, prm, r)
        s = -p1 / r  # force on b along d, per unit length of d
        add_pair_force(f, a, b, s, d0, d1, d2)
        obs[0] += p0
        obs[1] += 1.0
        obs[2] += r * p1 + r2 * p2
        obs[3] += s * d0 * d0
        obs[4] += s * d1 * d1
        obs[5] += s * d2 * d2
        obs[6] += s * d0 * d1
        obs[7] += s * d0 * d2
        obs[8] += s * d1 * d2


@numba.njit(cache=True)
def md_verlet(x, v, f, x_list, half_skin2, L, pi, pj, pm, kind, prm, mass, dt, nmax,
              series, row):  # pragma: no cover - compiled
    """Up to ``nmax`` velocity-Verlet steps at constant energy; returns the steps taken.

    Stops early (before moving) when a step would carry an atom more than half the
    neighbour-list skin (``half_skin2`` squared) from its position ``x_list`` at the
    last list build: the caller rebuilds the list and calls again. ``f`` holds the
    forces at ``x`` on entry and exit. After each step, row ``row + s`` of ``series``
    receives: kinetic energy, the 10 pair observables of :func:`md_forces` (slots 1-9)
    and the kinetic tensor ``sum m v (x) v`` as ``xx, yy, zz, xy, xz, yz`` (slots 10-15).
    """
    n = x.shape[0]
    obs = np.empty(10)
    vh = np.empty((n, 3))
    for s in range(nmax):
        too_far = False
        for i in range(n):
            dd = 0.0
            for c in range(3):
                vh[i, c] = v[i, c] + 0.5 * dt * f[i, c] / mass
                t = x[i, c] + dt * vh[i, c] - x_list[i, c]
                dd += t * t
            if dd > half_skin2:
                too_far = True
                break
        if too_far:
            return s
        for i in range(n):
            for c in range(3):
                x[i, c] += dt * vh[i, c]
        md_forces(x, L, pi, pj, pm, kind, prm, f, obs)
        kin = 0.0
        kt = np.zeros(6)
        for i in range(n):
            for c in range(3):
                v[i, c] = vh[i, c] + 0.5 * dt * f[i, c] / mass
            kt[0] += mass * v[i, 0] * v[i, 0]
            kt[1] += mass * v[i, 1] * v[i, 1]
            kt[2] += mass * v[i, 2] * v[i, 2]
            kt[3] += mass * v[i, 0] * v[i, 1]
            kt[4] += mass * v[i, 0] * v[i, 2]
            kt[5] += mass * v[i, 1] * v[i, 2]
        kin = 0.5 * (kt[0] + kt[1] + kt[2])
        series[row + s, 0] = kin
        for k in range(9):
            series[row + s, 1 + k] = obs[k]
        for k in range(6):
            series[row + s, 10 + k] = kt[k]
    return nmax


@numba.njit(cache=True, inline="always")
def add_pair_force(f, a, b, s, d0, d1, d2):  # pragma: no cover - compiled
    """Equal and opposite pair forces: ``s d`` on atom ``b``, ``-s d`` on atom ``a``."""
    f[b, 0] += s * d0
    f[b, 1] += s * d1
    f[b, 2] += s * d2
    f[a, 0] -= s * d0
    f[a, 1] -= s * d1
    f[a, 2] -= s * d2


@numba.njit(cache=True, inline="always")
def md_add_pair(x, i, j, L, rl2, cnt, out_i, out_j, out_m):  # pragma: no cover - compiled
    """Store pair ``(i, j)`` (minimum image) when closer than ``sqrt(rl2)``; the new count."""
    d0 = x[j, 0] - x[i, 0]
    d1 = x[j, 1] - x[i, 1]
    d2 = x[j, 2] - x[i, 2]
    m0 = -math.floor(d0 / L + 0.5)
    m1 = -math.floor(d1 / L + 0.5)
    m2 = -math.floor(d2 / L + 0.5)
    d0 += L * m0
    d1 += L * m1
    d2 += L * m2
    if d0 * d0 + d1 * d1 + d2 * d2 >= rl2:
        return cnt
    if cnt < out_i.shape[0]:
        out_i[cnt] = i
        out_j[cnt] = j
        out_m[cnt, 0] = int(m0)
        out_m[cnt, 1] = int(m1)
        out_m[cnt, 2] = int(m2)
    return cnt + 1


@numba.njit(cache=True)
def md_pairs(x, L, rl, out_i, out_j, out_m):  # pragma: no cover - compiled
    """Pairs of atoms ``x (n, 3)`` closer than ``rl`` in a cubic periodic box of side ``L > 2 rl``.

    Minimum image (each pair once, ``i < j``); image ``m`` such that the bond is
    ``x[j] - x[i] + L m`` (positions need not be wrapped). Cell list with ``floor(L / rl)``
    cells per side when that is at least 3, else all pairs. Fills ``out_*`` up to their
    length and returns the number of pairs (larger than the length: call again).
    """
    n = x.shape[0]
    rl2 = rl * rl
    nc = int(math.floor(L / rl))
    cnt = 0
    if nc < 3:
        for i in range(n):
            for j in range(i + 1, n):
                cnt = md_add_pair(x, i, j, L, rl2, cnt, out_i, out_j, out_m)
        return cnt
    # cell list over wrapped positions
    cell = np.empty(n, dtype=np.int64)
    head = -np.ones(nc * nc * nc, dtype=np.int64)
    nxt = -np.ones(n, dtype=np.int64)
    for i in range(n):
        c0 = int(math.floor((x[i, 0] / L - math.floor(x[i, 0] / L)) * nc)) % nc
        c1 = int(math.floor((x[i, 1] / L - math.floor(x[i, 1] / L)) * nc)) % nc
        c2 = int(math.floor((x[i, 2] / L - math.floor(x[i, 2] / L)) * nc)) % nc
        k = (c0 * nc + c1) * nc + c2
        cell[i] = k
        nxt[i] = head[k]
        head[k] = i
    for i in range(n):
        k = cell[i]
        c0 = k // (nc * nc)
        c1 = (k // nc) % nc
        c2 = k % nc
        for o0 in range(-1, 2):
            for o1 in range(-1, 2):
                for o2 in range(-1, 2):
                    kk = (((c0 + o0) % nc) * nc + (c1 + o1) % nc) * nc + (c2 + o2) % nc
                    j = head[kk]
                    while j >= 0:
                        if j > i:
                            cnt = md_add_pair(x, i, j, L, rl2, cnt, out_i, out_j, out_m)
                        j = nxt[j]
    return cnt
