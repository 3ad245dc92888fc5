"""Supernodal multifrontal sparse Cholesky factorization (numba).

Factorizes a symmetric positive definite matrix ``A`` (scipy sparse, ``(n, n)``)
as ``A[perm][:, perm] = L L^T`` and solves ``A x = b`` for ``b`` of shape
``(n,)`` or ``(n, k)``. Written for the many same-pattern factorizations of the
micro (RVE) solver: :class:`SparseCholesky` analyses a sparsity pattern once,
:meth:`SparseCholesky.factor` makes one numeric factorization of a matrix with
that pattern (a :class:`CholeskyFactor`), :meth:`CholeskyFactor.solve` solves.

Only the lower triangle of ``A`` is read (entries ``A[i, j]`` with ``i >= j``,
which must be stored); ``A`` is assumed symmetric, which is not checked (that
is the caller's job).

Algorithm
---------
Symbolic (:class:`SparseCholesky`; numba, O(nnz(L)) time, no Python loop over
columns):

1. fill-reducing ordering ``perm``: given, or :func:`mmd_ordering` (SuperLU's
   multiple minimum degree on ``A^T + A``);
2. elimination tree (Liu's algorithm with path compression), column counts by
   row subtrees, and a postorder that visits the child with the largest column
   count last, so that it sits next to its parent;
3. fundamental supernodes (chains of columns with nested structures), then
   relaxed amalgamation: a child supernode is merged into its adjacent parent
   when the merged block is small or has few explicit zeros (CHOLMOD's rule,
   thresholds ``_NRELAX``/``_ZRELAX``);
4. row structure of every supernode, its relative index map into the parent's
   frontal matrix, the scatter map of ``A``'s entries into ``L`` and the
   layout of the update matrices in one work buffer: two stacks, by the parity
   of the supernode's depth in the tree, so that an update matrix is built in
   place while its children's, on the other stack, are still being read.

Numeric (:meth:`SparseCholesky.factor`, one numba call): multifrontal, in
postorder. The frontal matrix of a supernode with ``nc`` columns and ``m``
rows is its dense ``m x nc`` block of ``L`` plus its packed lower-triangular
``(m - nc) x (m - nc)`` update matrix. ``A``'s entries are scattered into it,
the children's update matrices are added (extend-add), then a blocked
right-looking partial Cholesky factorization: the ``nc`` pivot columns are
factorized and ``L21 L21^T`` is subtracted from the update matrix by a
register-blocked kernel (two columns by four pivots; LLVM vectorizes the
inner loops).

Solve (:meth:`CholeskyFactor.solve`): a forward and a backward sweep over the
supernodal blocks, four columns of ``L`` at a time; ``k`` right-hand sides are
carried through the same sweep, each block being applied to all of them while
it is in cache.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> A = sp.csr_array(np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]]))
>>> S = SparseCholesky(A)             # symbolic analysis, once per pattern
>>> F = S.factor(A)                   # numeric factorization, once per matrix
>>> x = F.solve(np.array([1.0, 2.0, 3.0]))
>>> bool(np.allclose(A @ x, [1.0, 2.0, 3.0]))
True
>>> S.n, S.nnz_L, S.n_supernodes
(3, 5, 1)
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from fe2.linalg._base import PatternKey, SolverError, _Counters, check_residual

__all__ = [
    "CholeskyDirect",
    "CholeskyFactor",
    "NotPositiveDefinite",
    "SparseCholesky",
    "cholesky",
    "cholesky_direct",
    "mmd_ordering",
]

_I64 = np.int64

# relaxed amalgamation: merge a child into its parent supernode when the merged
# supernode has at most _NRELAX[t] columns and a fraction of explicit zeros
# below _ZRELAX[t], for some t (CHOLMOD's rule; thresholds tuned for speed).
_NRELAX = (16, 32, 64)
_ZRELAX = (0.8, 0.1, 0.05)
# LLVM fast-math flags for the dense kernels: reassociation and contraction (FMA),
# but not "no NaNs/Infs", which would let LLVM drop the pivot checks
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# column block width of the dense partial factorization of a front
_BLOCK = 16


class NotPositiveDefinite(ValueError):
    """A pivot of the Cholesky factorization was not positive (or not finite).

    Attributes
    ----------
    column
        The column of ``A`` (original numbering) whose pivot failed.
    pivot
        The pivot value (the diagonal entry of the Schur complement).
    """

    def __init__(self, column: int, pivot: float):
        self.column = int(column)
        self.pivot = float(pivot)
        super().__init__(
            f"matrix is not positive definite: pivot {self.pivot:.6g} at column {self.column}"
        )


# ---------------------------------------------------------------------------- symbolic


@numba.njit(cache=True, nogil=True)
def _lower_by_rows(n, indptr, indices, pinv):
    """Strict lower triangle of ``C = P A P^T`` grouped by row (from ``tril(A)``).

    Returns ``(rowptr, colind)``: row ``k`` of ``C`` holds columns
    ``colind[rowptr[k]:rowptr[k+1]]`` (all ``< k``).
    """
    rowptr = np.zeros(n + 1, _I64)
    for r in range(n):
        i = pinv[r]
        for e in range(indptr[r], indptr[r + 1]):
            c = indices[e]
            if c < r:
                j = pinv[c]
                rowptr[max(i, j) + 1] += 1
    for k in range(n):
        rowptr[k + 1] += rowptr[k]
    colind = np.empty(rowptr[n], _I64)
    fill = rowptr[:n].copy()
    for r in range(n):
        i = pinv[r]
        for e in range(indptr[r], indptr[r + 1]):
            c = indices[e]
            if c < r:
                j = pinv[c]
                hi = max(i, j)
                colind[fill[hi]] = min(i, j)
                fill[hi] += 1
    return rowptr, colind


@numba.njit(cache=True, nogil=True)
def _etree_colcounts(n, rowptr, colind):
    """Elimination tree and column counts of ``L`` (diagonal included).

    ``rowptr``/``colind``: strict lower triangle by rows. Column counts by
    traversing each row subtree once: O(nnz(L)).
    """
    parent = np.full(n, -1, _I64)
    anc = np.full(n, -1, _I64)
    for k in range(n):
        for p in range(rowptr[k], rowptr[k + 1]):
            i = colind[p]
            while i != -1 and i < k:
                inext = anc[i]
                anc[i] = k
                if inext == -1:
                    parent[i] = k
                i = inext
    count = np.zeros(n, _I64)
    mark = np.full(n, -1, _I64)
    for k in range(n):
        count[k] += 1
        mark[k] = k
        for p in range(rowptr[k], rowptr[k + 1]):
            j = colind[p]
            while mark[j] != k:
                count[j] += 1
                mark[j] = k
                j = parent[j]
    return parent, count


@numba.njit(cache=True, nogil=True)
def _postorder(n, parent, weight):
    """Postorder of a forest; children visited by increasing ``weight`` (largest last)."""
    head = np.full(n, -1, _I64)
    nxt = np.full(n, -1, _I64)
    # counting sort of the nodes by weight (integers in [0, n])
    bucket = np.zeros(n + 2, _I64)
    for j in range(n):
        bucket[weight[j] + 1] += 1
    for w in range(n + 1):
        bucket[w + 1] += bucket[w]
    order = np.empty(n, _I64)
    for j in range(n):
        order[bucket[weight[j]]] = j
        bucket[weight[j]] += 1
    for t in range(n - 1, -1, -1):
        j = order[t]
        p = parent[j]
        if p != -1:
            nxt[j] = head[p]
            head[p] = j
    post = np.empty(n, _I64)
    stack = np.empty(n, _I64)
    k = 0
    for r in range(n):
        if parent[r] != -1:
            continue
        stack[0] = r
        top = 0
        while top >= 0:
            p = stack[top]
            i = head[p]
            if i == -1:
                top -= 1
                post[k] = p
                k += 1
            else:
                head[p] = nxt[i]
                top += 1
                stack[top] = i
    return post


@numba.njit(cache=True)
def _group_tree(n, parent, start, ng):
    """Tree of groups of consecutive columns (supernodes).

    Group ``g`` holds columns ``start[g] .. start[g + 1] - 1`` (``ng`` groups).
    Returns the group of every column ``(n,)`` and the parent group of every
    group ``(ng,)`` (-1 at roots), from the column elimination tree ``parent``.
    """
    of = np.empty(n, _I64)
    for g in range(ng):
        for j in range(start[g], start[g + 1]):
            of[j] = g
    gparent = np.full(ng, -1, _I64)
    for g in range(ng):
        p = parent[start[g + 1] - 1]
        if p != -1:
            gparent[g] = of[p]
    return of, gparent


@numba.njit(cache=True, nogil=True)
def _supernodes(n, parent, count, nrelax, zrelax):
    """Fundamental supernodes, then relaxed amalgamation (postordered tree).

    Returns ``super_ptr`` (first column of each supernode, ``(ns + 1,)``).
    """
    # fundamental (without the single-child condition: a chain j -> j+1 with
    # nested structures is one supernode; other children attach in the middle)
    fstart = np.empty(n + 1, _I64)
    nf = 0
    for j in range(n):
        if j == 0 or not (parent[j - 1] == j and count[j - 1] == count[j] + 1):
            fstart[nf] = j
            nf += 1
    fstart[nf] = n
    fof, fparent = _group_tree(n, parent, fstart, nf)  # fundamental supernodes
    # relaxed amalgamation: group g = fundamentals g..gend[g]; j merges into the
    # group starting at j + 1 when its parent lies in that group
    gend = np.arange(nf).astype(_I64)
    gcols = np.empty(nf, _I64)
    gtrue = np.empty(nf, _I64)  # true nonzeros of the group's columns
    grows = np.empty(nf, _I64)  # |R| of the group (rows below its last column)
    for f in range(nf):
        nc = fstart[f + 1] - fstart[f]
        c0 = count[fstart[f]]
        gcols[f] = nc
        gtrue[f] = nc * c0 - nc * (nc - 1) // 2
        grows[f] = c0 - nc
    merged = np.zeros(nf, np.bool_)
    for j in range(nf - 2, -1, -1):
        g = j + 1
        if fparent[j] == -1 or fparent[j] > gend[g]:
            continue
        nc = gcols[j] + gcols[g]
        r = grows[g]
        entries = nc * (nc + r) - nc * (nc - 1) // 2
        zeros = entries - gtrue[j] - gtrue[g]
        z = zeros / entries
        ok = zeros == 0
        for t in range(nrelax.size):
            if nc <= nrelax[t] and z < zrelax[t]:
                ok = True
        if ok:
            merged[g] = True
            gend[j] = gend[g]
            gcols[j] = nc
            gtrue[j] += gtrue[g]
            grows[j] = r
    ns = 0
    for f in range(nf):
        if not merged[f]:
            ns += 1
    super_ptr = np.empty(ns + 1, _I64)
    s = 0
    for f in range(nf):
        if not merged[f]:
            super_ptr[s] = fstart[f]
            s += 1
    super_ptr[ns] = n
    return super_ptr


@numba.njit(cache=True, nogil=True)
def _structure(n, indptr, indices, pinv, parent, count, super_ptr):
    """Row structures, relative maps, L layout, assembly map, work-buffer layout.

    Returns ``(sparent, Rp, Ri, rel, Lp, cptr, clist, aptr, adest, asrc, uoff, wsize)``.
    """
    ns = super_ptr.size - 1
    sof, sparent = _group_tree(n, parent, super_ptr, ns)
    # children lists (CSR), in increasing order
    cptr = np.zeros(ns + 1, _I64)
    for s in range(ns):
        if sparent[s] != -1:
            cptr[sparent[s] + 1] += 1
    for s in range(ns):
        cptr[s + 1] += cptr[s]
    clist = np.empty(cptr[ns], _I64)
    fill = cptr[:ns].copy()
    for s in range(ns):
        p = sparent[s]
        if p != -1:
            clist[fill[p]] = s
            fill[p] += 1
    # lower triangle of C = P A P^T by columns, with the index of the entry in A.data
    colptr = np.zeros(n + 1, _I64)
    for r in range(n):
        i = pinv[r]
        for e in range(indptr[r], indptr[r + 1]):
            c = indices[e]
            if c <= r:
                colptr[min(i, pinv[c]) + 1] += 1
    for k in range(n):
        colptr[k + 1] += colptr[k]
    nlow = colptr[n]
    arow = np.empty(nlow, _I64)
    asrc = np.empty(nlow, _I64)
    cfill = colptr[:n].copy()
    for r in range(n):
        i = pinv[r]
        for e in range(indptr[r], indptr[r + 1]):
            c = indices[e]
            if c <= r:
                j = pinv[c]
                lo = min(i, j)
                arow[cfill[lo]] = max(i, j)
                asrc[cfill[lo]] = e
                cfill[lo] += 1
    # row structures R_s (rows below the supernode's last column), sorted
    # (|R_s| = rows below the last column in that column = its column count - 1)
    Rp = np.zeros(ns + 1, _I64)
    for s in range(ns):
        Rp[s + 1] = Rp[s] + count[super_ptr[s + 1] - 1] - 1
    Ri = np.empty(Rp[ns], _I64)
    mark = np.full(n, -1, _I64)
    for s in range(ns):
        last = super_ptr[s + 1] - 1
        k = Rp[s]
        for j in range(super_ptr[s], last + 1):
            for p in range(colptr[j], colptr[j + 1]):
                i = arow[p]
                if i > last and mark[i] != s:
                    mark[i] = s
                    Ri[k] = i
                    k += 1
        for t in range(cptr[s], cptr[s + 1]):
            c = clist[t]
            for p in range(Rp[c], Rp[c + 1]):
                i = Ri[p]
                if i > last and mark[i] != s:
                    mark[i] = s
                    Ri[k] = i
                    k += 1
        if k != Rp[s + 1]:
            raise RuntimeError("inconsistent supernode row structure")
    # sort each R_s: transpose (rows -> supernodes) and back
    tp = np.zeros(n + 1, _I64)
    for p in range(Rp[ns]):
        tp[Ri[p] + 1] += 1
    for i in range(n):
        tp[i + 1] += tp[i]
    ts = np.empty(Rp[ns], _I64)
    for s in range(ns):
        for p in range(Rp[s], Rp[s + 1]):
            i = Ri[p]
            ts[tp[i]] = s
            tp[i] += 1
    fill = Rp[:ns].copy()
    p = 0
    for i in range(n):
        while p < tp[i]:
            s = ts[p]
            Ri[fill[s]] = i
            fill[s] += 1
            p += 1
    # L layout: block s is (nc, m) row-major: column c of the block contiguous
    Lp = np.zeros(ns + 1, _I64)
    for s in range(ns):
        nc = super_ptr[s + 1] - super_ptr[s]
        m = nc + Rp[s + 1] - Rp[s]
        Lp[s + 1] = Lp[s] + nc * m
    # relative maps of R_c into the parent's front, and A's scatter map into L
    loc = np.empty(n, _I64)
    rel = np.empty(Rp[ns], _I64)
    adest = np.empty(nlow, _I64)
    for s in range(ns):
        f = super_ptr[s]
        nc = super_ptr[s + 1] - f
        m = nc + Rp[s + 1] - Rp[s]
        for j in range(nc):
            loc[f + j] = j
        for p in range(Rp[s], Rp[s + 1]):
            loc[Ri[p]] = nc + p - Rp[s]
        for t in range(cptr[s], cptr[s + 1]):
            c = clist[t]
            for p in range(Rp[c], Rp[c + 1]):
                rel[p] = loc[Ri[p]]
        for j in range(f, f + nc):
            for p in range(colptr[j], colptr[j + 1]):
                adest[p] = Lp[s] + (j - f) * m + loc[arow[p]]
    aptr = np.empty(ns + 1, _I64)
    for s in range(ns + 1):
        aptr[s] = colptr[super_ptr[s]]
    # update matrices (packed lower, r (r + 1) / 2): two stacks in one buffer,
    # stack 0 grows up from 0, stack 1 down from the end; a supernode's update
    # goes to the stack of its depth parity, its children's are on the other one
    depth = np.zeros(ns, _I64)
    for s in range(ns - 1, -1, -1):
        if sparent[s] != -1:
            depth[s] = depth[sparent[s]] + 1
    uoff = np.empty(ns, _I64)
    top = np.zeros(2, _I64)
    peak = 0
    for s in range(ns):
        r = Rp[s + 1] - Rp[s]
        size = r * (r + 1) // 2
        side = depth[s] & 1
        top[side] += size
        uoff[s] = top[side] if side == 1 else top[side] - size  # side 1: distance from end
        peak = max(peak, top[0] + top[1])
        for t in range(cptr[s], cptr[s + 1]):
            c = clist[t]
            rc = Rp[c + 1] - Rp[c]
            top[1 - side] -= rc * (rc + 1) // 2
        if cptr[s] < cptr[s + 1]:  # the children's updates were the top of their stack
            c = clist[cptr[s]]
            rc = Rp[c + 1] - Rp[c]
            start = uoff[c] - rc * (rc + 1) // 2 if side == 0 else uoff[c]
            if top[1 - side] != start:
                raise RuntimeError("inconsistent update-matrix stack")
    for s in range(ns):
        if depth[s] & 1:
            uoff[s] = peak - uoff[s]
    return sparent, Rp, Ri, rel, Lp, cptr, clist, aptr, adest, asrc, uoff, peak


# ---------------------------------------------------------------------------- numeric


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH, inline="always")
def _front_column(Lx, base, W, uo, nc, m, j):
    """Column ``j`` of a frontal matrix, rows ``j..m-1`` (a view of length ``m - j``).

    Columns ``j < nc`` are in the ``L`` block ``Lx[base:]`` (stride ``m``),
    columns ``j >= nc`` in the packed update matrix ``W[uo:]``.
    """
    if j < nc:
        s = base + j * (m + 1)
        return Lx[s : s + m - j]
    r = m - nc
    c = j - nc
    s = uo + c * r - c * (c - 1) // 2
    return W[s : s + r - c]


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _rank_update(B, ka, kb, jlo, jhi, nc, m, Lx, base, W, uo):
    """Symmetric rank-``(kb - ka)`` update of the columns ``jlo <= j < jhi`` of a front.

    For ``jlo <= j < jhi``, ``j <= i < m``:
    ``F[i, j] -= sum_{k in [ka, kb)} B[k, i] B[k, j]``
    with ``F`` the frontal matrix (see :func:`_front_column`) and ``B`` its
    ``(nc, m)`` pivot block. Two columns and four ``k`` at a time; the loops over
    ``i`` run on views from index 0, which LLVM vectorizes.
    """
    j = jlo
    while j < jhi:
        s = 0.0
        for k in range(ka, kb):
            s += B[k, j] * B[k, j]
        d0 = _front_column(Lx, base, W, uo, nc, m, j)
        d0[0] -= s
        if j + 1 == m:
            break
        d0 = d0[1:]
        if j + 1 < jhi:
            d1 = _front_column(Lx, base, W, uo, nc, m, j + 1)
            w1 = 1.0
        else:  # last column alone: paired with itself, with zero weight
            d1 = d0
            w1 = 0.0
        k = ka
        while k + 4 <= kb:
            x0 = B[k, j + 1 : m]
            x1 = B[k + 1, j + 1 : m]
            x2 = B[k + 2, j + 1 : m]
            x3 = B[k + 3, j + 1 : m]
            a0 = B[k, j]
            a1 = B[k + 1, j]
            a2 = B[k + 2, j]
            a3 = B[k + 3, j]
            b0 = x0[0] * w1
            b1 = x1[0] * w1
            b2 = x2[0] * w1
            b3 = x3[0] * w1
            for i in range(d0.size):
                y0 = x0[i]
                y1 = x1[i]
                y2 = x2[i]
                y3 = x3[i]
                d0[i] -= a0 * y0 + a1 * y1 + a2 * y2 + a3 * y3
                d1[i] -= b0 * y0 + b1 * y1 + b2 * y2 + b3 * y3
            k += 4
        while k < kb:
            x0 = B[k, j + 1 : m]
            a0 = B[k, j]
            b0 = x0[0] * w1
            for i in range(d0.size):
                d0[i] -= a0 * x0[i]
                d1[i] -= b0 * x0[i]
            k += 1
        j += 2


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _front(Lx, base, nc, m, W, uo, bw):
    """Partial Cholesky factorization of one frontal matrix, in place.

    The front's ``nc`` pivot columns are the ``(nc, m)`` block
    ``B = Lx[base : base + nc*m]`` (row ``c`` of ``B`` is column ``c`` of the
    front, rows ``c..m-1`` used); its update matrix (``r = m - nc``, packed
    lower) is ``W[uo : uo + r(r+1)/2]``. Factorizes the ``nc x nc`` diagonal
    block, solves for the ``r x nc`` block below it and subtracts ``L21 L21^T``
    from the update matrix: blocked right-looking, column blocks of ``bw``.

    Returns ``(-1, 0.0)``, or the failing local column and its pivot.
    """
    B = Lx[base : base + nc * m].reshape(nc, m)
    k0 = 0
    while True:
        if k0 < nc:
            k1 = min(k0 + bw, nc)
            for k in range(k0, k1):
                d = B[k, k]
                if not (d > 0.0 and d < np.inf):
                    return k, d
                d = np.sqrt(d)
                B[k, k] = d
                inv = 1.0 / d
                xk = B[k, k + 1 : m]
                for i in range(xk.size):
                    xk[i] *= inv
                for j in range(k + 1, k1):
                    dj = B[j, j:m]
                    xs = B[k, j:m]
                    akj = xs[0]
                    for i in range(dj.size):
                        dj[i] -= akj * xs[i]
            # trailing pivot columns of the front, by this block
            ka, kb, jlo, jhi = k0, k1, k1, nc
        else:
            # the update matrix, by all pivot columns at once
            ka, kb, jlo, jhi = 0, nc, nc, m
        _rank_update(B, ka, kb, jlo, jhi, nc, m, Lx, base, W, uo)
        if k0 >= nc:
            break
        k0 = k1
    return -1, 0.0


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _factor_numeric(data, super_ptr, Rp, rel, Lp, cptr, clist, aptr, adest, asrc, uoff, wsize, bw):
    """Multifrontal numeric factorization; returns ``(Lx, col, pivot)``.

    ``Lx``: the supernodal blocks of ``L`` (layout ``Lp``). ``col`` is -1 on
    success, else the failing column (permuted numbering) and its pivot.
    """
    ns = super_ptr.size - 1
    Lx = np.zeros(Lp[ns])
    W = np.empty(wsize)
    for s in range(ns):
        f = super_ptr[s]
        nc = super_ptr[s + 1] - f
        r = Rp[s + 1] - Rp[s]
        m = nc + r
        base = Lp[s]
        for p in range(aptr[s], aptr[s + 1]):
            Lx[adest[p]] += data[asrc[p]]
        uo = uoff[s]
        W[uo : uo + r * (r + 1) // 2] = 0.0
        for t in range(cptr[s], cptr[s + 1]):
            c = clist[t]
            rc = Rp[c + 1] - Rp[c]
            rl = rel[Rp[c] : Rp[c + 1]]
            co = uoff[c]
            for j in range(rc):
                tj = rl[j]
                u = W[co + j * rc - j * (j - 1) // 2 : co + (j + 1) * rc - j * (j + 1) // 2]
                rlj = rl[j:]
                if tj < nc:
                    dst = Lx[base + tj * m : base + (tj + 1) * m]
                    for i in range(u.size):
                        dst[rlj[i]] += u[i]
                else:
                    tj -= nc
                    o = uo + tj * r - tj * (tj - 1) // 2 - tj - nc
                    for i in range(u.size):
                        W[o + rlj[i]] += u[i]
        k, d = _front(Lx, base, nc, m, W, uo, bw)
        if k >= 0:
            return Lx, f + k, d
    return Lx, -1, 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _block(Lx, super_ptr, Rp, Ri, Lp, s):
    """Supernode ``s`` as ``(f, nc, r, m, B, Rs)``.

    First column ``f``, ``nc`` columns, ``r`` rows below the diagonal block, front
    size ``m = nc + r``, its ``(nc, m)`` block ``B`` of ``L`` and the row indices
    ``Rs`` below the diagonal block.
    """
    f = super_ptr[s]
    nc = super_ptr[s + 1] - f
    r = Rp[s + 1] - Rp[s]
    m = nc + r
    return f, nc, r, m, Lx[Lp[s] : Lp[s] + nc * m].reshape(nc, m), Ri[Rp[s] : Rp[s + 1]]


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _solve_numeric(Lx, super_ptr, Rp, Ri, Lp, perm, b, wmax):
    """``x = P^T L^{-T} L^{-1} P b`` for ``b`` of shape ``(n, k)``; returns ``x`` ``(n, k)``.

    Works on ``Y = (P b)^T`` (``(k, n)``, one row per right-hand side); each
    supernode's block is applied to all ``k`` right-hand sides while in cache.
    Per supernode, on the front vector ``w = [y1, y[R]]`` (length ``m``):
    forward ``w1 <- L11^{-1} w1``, ``w2 <- -L21 w1`` (``w2`` starts at 0) and
    ``y[R] += w2``; backward ``w2 = y[R]``, ``w1 <- L11^{-T} (w1 - L21^T w2)``.
    Columns of ``L`` go four at a time (a 4 x 4 triangle, then one pass over
    the rows below it).
    """
    ns = super_ptr.size - 1
    n, nrhs = b.shape
    Y = np.empty((nrhs, n))
    for i in range(n):
        for q in range(nrhs):
            Y[q, i] = b[perm[i], q]
    w = np.empty(wmax)
    for s in range(ns):
        f, nc, r, m, B, Rs = _block(Lx, super_ptr, Rp, Ri, Lp, s)
        nb = nc - nc % 4
        for q in range(nrhs):
            yq = Y[q]
            for i in range(nc):
                w[i] = yq[f + i]
            for i in range(nc, m):
                w[i] = 0.0
            for k in range(0, nb, 4):
                w0 = w[k] / B[k, k]
                w1 = (w[k + 1] - B[k, k + 1] * w0) / B[k + 1, k + 1]
                w2 = (w[k + 2] - B[k, k + 2] * w0 - B[k + 1, k + 2] * w1) / B[k + 2, k + 2]
                w3 = (
                    w[k + 3] - B[k, k + 3] * w0 - B[k + 1, k + 3] * w1 - B[k + 2, k + 3] * w2
                ) / B[k + 3, k + 3]
                w[k] = w0
                w[k + 1] = w1
                w[k + 2] = w2
                w[k + 3] = w3
                x0 = B[k, k + 4 : m]
                x1 = B[k + 1, k + 4 : m]
                x2 = B[k + 2, k + 4 : m]
                x3 = B[k + 3, k + 4 : m]
                wv = w[k + 4 : m]
                for i in range(wv.size):
                    wv[i] -= w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i]
            for k in range(nb, nc):
                w0 = w[k] / B[k, k]
                w[k] = w0
                x0 = B[k, k + 1 : m]
                wv = w[k + 1 : m]
                for i in range(wv.size):
                    wv[i] -= w0 * x0[i]
            for i in range(nc):
                yq[f + i] = w[i]
            for i in range(r):
                yq[Rs[i]] += w[nc + i]
    for s in range(ns - 1, -1, -1):
        f, nc, r, m, B, Rs = _block(Lx, super_ptr, Rp, Ri, Lp, s)
        nb = nc - nc % 4
        for q in range(nrhs):
            yq = Y[q]
            for i in range(nc):
                w[i] = yq[f + i]
            for i in range(r):
                w[nc + i] = yq[Rs[i]]
            for k in range(nc - 1, nb - 1, -1):
                x0 = B[k, k + 1 : m]
                wv = w[k + 1 : m]
                a0 = 0.0
                for i in range(wv.size):
                    a0 += x0[i] * wv[i]
                w[k] = (w[k] - a0) / B[k, k]
            for k in range(nb - 4, -1, -4):
                x0 = B[k, k + 4 : m]
                x1 = B[k + 1, k + 4 : m]
                x2 = B[k + 2, k + 4 : m]
                x3 = B[k + 3, k + 4 : m]
                wv = w[k + 4 : m]
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                for i in range(wv.size):
                    wi = wv[i]
                    a0 += x0[i] * wi
                    a1 += x1[i] * wi
                    a2 += x2[i] * wi
                    a3 += x3[i] * wi
                w3 = (w[k + 3] - a3) / B[k + 3, k + 3]
                w2 = (w[k + 2] - a2 - B[k + 2, k + 3] * w3) / B[k + 2, k + 2]
                w1 = (w[k + 1] - a1 - B[k + 1, k + 2] * w2 - B[k + 1, k + 3] * w3) / B[k + 1, k + 1]
                w0 = (w[k] - a0 - B[k, k + 1] * w1 - B[k, k + 2] * w2 - B[k, k + 3] * w3) / B[k, k]
                w[k] = w0
                w[k + 1] = w1
                w[k + 2] = w2
                w[k + 3] = w3
            for i in range(nc):
                yq[f + i] = w[i]
    x = np.empty((n, nrhs))
    for i in range(n):
        for q in range(nrhs):
            x[perm[i], q] = Y[q, i]
    return x


# ---------------------------------------------------------------------------- Python API


def _csr_pattern(A):
    """``A`` (scipy sparse, square, real) as CSR with sorted indices and no duplicates.

    No copy when ``A`` already is such a CSR matrix.
    """
    if not sp.issparse(A):
        raise TypeError(f"A must be a scipy sparse matrix, got {type(A).__name__}")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}")
    if np.iscomplexobj(A.data):
        raise TypeError("A must be real (complex matrices are not supported)")
    A = A.tocsr()
    if not A.has_canonical_format:
        A = A.copy()
        A.sum_duplicates()
    return A


def mmd_ordering(A) -> np.ndarray:
    """SuperLU's multiple minimum degree ordering of ``A^T + A`` (pattern only).

    Parameters
    ----------
    A
        scipy sparse ``(n, n)``; only its pattern is used.

    Returns
    -------
    numpy.ndarray
        ``perm`` (``(n,)``, int64) such that ``A[perm][:, perm]`` has little fill.

    Notes
    -----
    SuperLU computes its column ordering ``perm_c`` (MMD on ``A^T + A``, then an
    elimination-tree postorder) before factorizing, and factors
    ``Pr M Pc = L U`` with ``(M Pc)[:, j] = M[:, q[j]]``, ``q = argsort(perm_c)``;
    so ``perm = q``. It is asked for on a matrix ``M`` with the pattern of ``A``,
    ``-1`` off the diagonal and a diagonally dominant diagonal, through
    :func:`scipy.sparse.linalg.spilu` with everything dropped: the same
    ``perm_c`` as :func:`scipy.sparse.linalg.splu` (same ordering code, same
    options), without the cost of a complete factorization.
    """
    A = _csr_pattern(A)
    n = A.shape[0]
    if n == 0:
        return np.zeros(0, _I64)
    from scipy.sparse.linalg import spilu

    M = sp.csr_matrix((np.full(A.nnz, -1.0), A.indices, A.indptr), shape=A.shape)
    M.data[A.indices == np.repeat(np.arange(n), np.diff(A.indptr))] = 0.0
    deg = np.maximum(np.diff(A.indptr), np.bincount(A.indices, minlength=n))
    M = (M + sp.diags(deg + 1.0)).tocsc()
    lu = spilu(
        M,
        drop_tol=1e300,
        fill_factor=1.0,
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    return np.argsort(lu.perm_c).astype(_I64)


def _available_bytes() -> float:
    """Memory available to this process (``MemAvailable`` of /proc/meminfo; inf if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return float("inf")


def _check_memory(n: int, nnz_L: int) -> None:
    """Raise a clear ``MemoryError`` when the factor cannot fit (before allocating it).

    The factor takes ``8 nnz(L)`` bytes plus relaxed-supernode zeros and the update
    matrices of the multifrontal stack, counted here as twice that.
    """
    need = 16.0 * nnz_L
    avail = _available_bytes()
    if need > avail:
        raise MemoryError(
            f"sparse Cholesky: the factor of this {n:,} x {n:,} matrix has {nnz_L:,} nonzeros "
            f"and needs about {need / 2**30:.1f} GiB, more than the {avail / 2**30:.1f} GiB "
            "available; use an iterative solver for systems this large (for RVEs: "
            "RVE(..., solver=lambda: fe2.linalg.petsc_krylov('micro_')))"
        )


class SparseCholesky:
    """Symbolic analysis of a symmetric sparsity pattern, reused for many factorizations.

    Parameters
    ----------
    A
        scipy sparse ``(n, n)`` matrix (CSR/CSC/..., both triangles stored); only
        its pattern is used, and of it only the lower triangle (``i >= j``).
    perm
        Optional fill-reducing ordering ``(n,)``: the matrix factorized is
        ``A[perm][:, perm]``. Default: :func:`mmd_ordering`.

    Attributes
    ----------
    n
        Order of the matrix.
    nnz_L
        Structural nonzeros of ``L`` (diagonal included; no explicit zeros).
    nnz_stored
        Entries of the supernodal blocks of ``L``: ``nnz_L`` plus the explicit
        zeros of the relaxed supernodes (the storage also holds the unused
        upper triangles of the diagonal blocks).
    n_supernodes
        Number of (relaxed) supernodes.
    perm
        The ordering used (``(n,)`` int64, postordered; ``A[perm][:, perm] = L L^T``).
    """

    def __init__(self, A, perm=None):
        A = _csr_pattern(A)
        n = A.shape[0]
        self.n = n
        self._indptr = A.indptr.astype(_I64, copy=True)
        self._indices = A.indices.astype(_I64, copy=True)
        if perm is None:
            perm = mmd_ordering(A)
        perm = np.asarray(perm, dtype=_I64).ravel()
        if perm.shape != (n,) or not np.array_equal(np.sort(perm), np.arange(n)):
            raise ValueError(f"perm must be a permutation of range({n})")
        indptr, indices = self._indptr, self._indices
        pinv = np.empty(n, _I64)
        pinv[perm] = np.arange(n, dtype=_I64)
        rowptr, colind = _lower_by_rows(n, indptr, indices, pinv)
        parent, count = _etree_colcounts(n, rowptr, colind)
        _check_memory(n, int(count.sum()))
        post = _postorder(n, parent, count)
        # renumber so that the tree is postordered
        ipost = np.empty(n, _I64)
        ipost[post] = np.arange(n, dtype=_I64)
        perm = perm[post]
        pinv[perm] = np.arange(n, dtype=_I64)
        parent = parent[post]
        parent = np.where(parent >= 0, ipost[np.maximum(parent, 0)], -1)
        count = count[post]
        super_ptr = _supernodes(
            n, parent, count, np.array(_NRELAX, _I64), np.array(_ZRELAX, np.float64)
        )
        # (sparent, Rp, Ri, rel, Lp, cptr, clist, aptr, adest, asrc, uoff, wsize);
        # _factor_numeric takes Rp and the entries from rel on
        self._struct = _structure(n, indptr, indices, pinv, parent, count, super_ptr)
        self._sparent, self._Rp, self._Ri, _, self._Lp = self._struct[:5]
        self._super_ptr = super_ptr
        self.perm = perm
        self.nnz_L = int(count.sum())
        ncol = np.diff(super_ptr)
        self.nnz_stored = int(self._Lp[-1] - (ncol * (ncol - 1) // 2).sum())
        self.n_supernodes = int(super_ptr.size - 1)
        self._mmax = int((ncol + np.diff(self._Rp)).max(initial=0))  # largest front

    def factor(self, A) -> CholeskyFactor:
        """Numeric factorization of ``A`` (the analysed pattern, new values).

        Parameters
        ----------
        A
            scipy sparse ``(n, n)``, with exactly the analysed pattern (same
            ``indptr``/``indices`` after conversion to CSR with sorted indices).
            Only its lower triangle is read; ``A`` is assumed symmetric.

        Returns
        -------
        CholeskyFactor
            ``L`` with ``A[perm][:, perm] = L L^T``; independent of later calls.

        Raises
        ------
        ValueError
            Not square, wrong size or another pattern.
        NotPositiveDefinite
            A pivot ``<= 0`` or not finite; names the column (original numbering).
        """
        A = _csr_pattern(A)
        if (
            A.shape[0] != self.n
            or not np.array_equal(A.indptr, self._indptr)
            or not np.array_equal(A.indices, self._indices)
        ):
            raise ValueError("A does not have the analysed sparsity pattern")
        data = np.ascontiguousarray(A.data, dtype=np.float64)
        Lx, col, piv = _factor_numeric(data, self._super_ptr, self._Rp, *self._struct[3:], _BLOCK)
        if col >= 0:
            raise NotPositiveDefinite(self.perm[col], piv)
        return CholeskyFactor(self, Lx)


class CholeskyFactor:
    """Numeric Cholesky factor ``A[perm][:, perm] = L L^T`` (from :meth:`SparseCholesky.factor`).

    Attributes
    ----------
    symbolic
        The :class:`SparseCholesky` analysis it was made with.
    """

    def __init__(self, symbolic: SparseCholesky, Lx: np.ndarray):
        self.symbolic = symbolic
        self._Lx = Lx

    def solve(self, b) -> np.ndarray:
        """Solve ``A x = b``.

        Parameters
        ----------
        b
            ``(n,)`` or ``(n, k)`` (``k`` right-hand sides, solved in one sweep).

        Returns
        -------
        numpy.ndarray
            ``x``, float64 (complex if ``b`` is), of the shape of ``b``.
        """
        S = self.symbolic
        b = np.asarray(b)
        if b.ndim not in (1, 2) or b.shape[0] != S.n:
            raise ValueError(f"b must have shape ({S.n},) or ({S.n}, k), got {b.shape}")
        if np.iscomplexobj(b):
            return self.solve(b.real) + 1j * self.solve(b.imag)
        b2 = np.ascontiguousarray(b[:, None] if b.ndim == 1 else b, dtype=np.float64)
        x = _solve_numeric(self._Lx, S._super_ptr, S._Rp, S._Ri, S._Lp, S.perm, b2, S._mmax)
        return x.reshape(b.shape)


def cholesky(A, perm=None) -> CholeskyFactor:
    """Analyse and factorize ``A`` in one go: ``SparseCholesky(A, perm).factor(A)``.

    ``A``: scipy sparse ``(n, n)``, symmetric positive definite (lower triangle
    read); ``perm``: optional ordering ``(n,)``. Keep a :class:`SparseCholesky`
    instead to factorize several matrices with the same pattern.
    """
    return SparseCholesky(A, perm).factor(A)


# ---------------------------------------------------------------------------- solver callable


class CholeskyDirect:
    """Callable ``solve(A, b) -> x`` by sparse Cholesky; made by :func:`cholesky_direct`."""

    def __init__(self, residual_check: float | None = 1e-6):
        self.residual_check = residual_check
        self._counters = _Counters()
        self._key = None  # PatternKey of the analysed pattern and the factorized values
        self._symbolic: SparseCholesky | None = None
        self._factor: CholeskyFactor | None = None

    @property
    def stats(self):
        """Counters so far (:class:`fe2.linalg.SolverStats`)."""
        return self._counters.snapshot()

    def __call__(self, A, b) -> np.ndarray:
        """Solve ``A x = b``; ``A``: sparse ``(n, n)`` SPD, ``b``: ``(n,)`` or ``(n, k)``."""
        c = self._counters
        A, b = c.start(A, b)
        if self._key is not None and self._key.same_pattern(A):
            c.reuses += 1
        else:
            self._key = None  # stays None if the analysis fails
            self._symbolic = SparseCholesky(A)
            self._key = PatternKey(A)
            self._factor = None
        if self._factor is None or not self._key.same_values(A):
            self._factor = None
            try:
                self._factor = self._symbolic.factor(A)
            except NotPositiveDefinite as err:
                raise SolverError(
                    f"the 'cholesky' solver needs a symmetric positive definite matrix: {err}; "
                    "use the 'scipy' (LU) solver for indefinite or non-symmetric systems"
                ) from err
            self._key.update_values(A)
            c.factorizations += 1
        x = self._factor.solve(b)
        try:
            check_residual(A, x, b, self.residual_check, "the Cholesky solve")
        except SolverError as err:
            raise SolverError(
                f"{err}; the 'cholesky' solver reads the lower triangle only: is the matrix "
                "symmetric?"
            ) from err
        return x


def cholesky_direct(residual_check: float | None = 1e-6) -> CholeskyDirect:
    """Sparse Cholesky direct solver for symmetric positive definite systems.

    The pattern is analysed once (ordering, supernodes) and reused while it is
    unchanged; a matrix with unchanged values reuses the factors.

    Parameters
    ----------
    residual_check
        Raise :class:`fe2.linalg.SolverError` when ``||b - A x|| / ||b||`` exceeds
        this (a non-symmetric or nearly singular matrix); None skips it.

    Returns
    -------
    CholeskyDirect
        ``solve(A, b) -> x`` with ``b``: ``(n,)`` or ``(n, k)``, and ``.stats``.
        A matrix that is not positive definite raises ``SolverError`` naming the
        column and pivot.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> solve = cholesky_direct()
    >>> A = sp.csr_array(np.array([[4.0, 1.0], [1.0, 3.0]]))
    >>> x = solve(A, np.array([1.0, 2.0]))
    >>> x = solve(2 * A, np.array([1.0, 2.0]))
    >>> solve.stats.factorizations, solve.stats.reuses
    (2, 1)
    """
    return CholeskyDirect(residual_check=residual_check)
