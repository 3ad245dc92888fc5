"""Neighbour lists of atoms in a (partly) periodic box.

:func:`build_pairs` finds every pair closer than a radius once (numba cell list over
the atoms and their periodic images); :class:`NeighbourList` keeps such a list for a
moving configuration, with a Verlet skin, and rebuilds it when an atom has moved by
more than half the skin or the box changed. Each pair is ``(a, b, m)`` with integer
periodic image ``m``: the bond vector is ``x[b] - x[a] + H m``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from fe2.atomistic.kernels import cell_pairs

__all__ = ["NeighbourList", "build_pairs"]


def build_pairs(
    x: np.ndarray,
    radius: float,
    box: np.ndarray | None = None,
    periodic: tuple[bool, ...] | None = None,
    active: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of atoms closer than ``radius``: ``(a (np,), b (np,), image (np, d))``.

    The bond vector is ``x[b] - x[a] + box @ image``. ``periodic`` flags the box
    axes with periodic images (any number of images: small boxes are fine).
    Only pairs with at least one ``active`` atom are returned (default: all).
    """
    x = np.asarray(x, dtype=float)
    n, d = x.shape
    per = tuple(periodic) if periodic is not None else (False,) * d
    act = np.ones(n, dtype=np.bool_) if active is None else np.asarray(active, dtype=np.bool_)
    kwrap = np.zeros((n, d), dtype=np.int64)
    if any(per):
        H = np.asarray(box, dtype=float)
        Hinv = np.linalg.inv(H)
        S = x @ Hinv.T
        for k, p in enumerate(per):
            if p:
                kwrap[:, k] = np.floor(S[:, k]).astype(np.int64)
                S[:, k] -= kwrap[:, k]
        orig = np.arange(n)
        img = np.zeros((n, d), dtype=np.int64)
        for k, p in enumerate(per):
            if not p:
                continue
            margin = radius * np.linalg.norm(Hinv[k])
            nimg = int(math.ceil(margin))
            S_new, o_new, i_new = [S], [orig], [img]
            for m in range(-nimg, nimg + 1):
                if m == 0:
                    continue
                s2 = S.copy()
                s2[:, k] += m
                keep = (s2[:, k] > -margin) & (s2[:, k] < 1.0 + margin)
                im2 = img[keep].copy()
                im2[:, k] += m
                S_new.append(s2[keep])
                o_new.append(orig[keep])
                i_new.append(im2)
            S, orig, img = np.concatenate(S_new), np.concatenate(o_new), np.concatenate(i_new)
        P = S @ H.T
    else:
        P = x.copy()
        orig = np.arange(n)
        img = np.zeros((n, d), dtype=np.int64)
    lo = P.min(axis=0)
    ext = P.max(axis=0) - lo
    ncell = np.maximum(1, np.floor(ext / radius).astype(np.int64))
    # keep the number of cells bounded for sparse point sets
    while np.prod(ncell) > 4 * len(P) + 64:
        ncell = np.maximum(1, ncell // 2)
    size = np.where(ncell > 0, ext / ncell, 1.0)
    size = np.where(size > 0, size, 1.0)
    cid = np.minimum(np.floor((P - lo) / size).astype(np.int64), ncell - 1)
    flat = np.ravel_multi_index(tuple(cid.T), tuple(ncell))
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(np.prod(ncell) + 1))
    offsets = np.array(list(itertools.product((-1, 0, 1), repeat=d)), dtype=np.int64)
    P = np.ascontiguousarray(P)
    args = (P, orig, img, n, radius * radius, cid, starts, order, ncell, offsets, act)
    empty_i = np.zeros(0, dtype=np.int64)
    cnt = cell_pairs(*args, False, empty_i, empty_i, np.zeros((0, d), dtype=np.int64))
    pi = np.empty(cnt, dtype=np.int64)
    pj = np.empty(cnt, dtype=np.int64)
    pm = np.empty((cnt, d), dtype=np.int64)
    cell_pairs(*args, True, pi, pj, pm)
    # images relative to the unwrapped positions
    pm = pm - kwrap[pj] + kwrap[pi]
    return pi, pj, pm


class NeighbourList:
    """Verlet neighbour list: pairs within ``cutoff + skin``, rebuilt when needed.

    Parameters
    ----------
    cutoff : float
        Interaction range [length], > 0.
    skin : float
        Extra range [length], >= 0: the list stays valid until an atom has moved
        by ``skin / 2``.
    periodic : tuple of bool, optional
        Periodic box axes.
    active : ndarray of bool, optional
        ``(n,)``: keep only pairs with at least one active atom.
    """

    def __init__(self, cutoff: float, skin: float = 0.3, periodic=None, active=None):
        if not (math.isfinite(cutoff) and cutoff > 0):
            raise ValueError(f"NeighbourList: cutoff must be finite and > 0, got {cutoff!r}")
        if not skin >= 0:
            raise ValueError(f"NeighbourList: skin must be >= 0, got {skin!r}")
        self.cutoff, self.skin = float(cutoff), float(skin)
        self.periodic = periodic
        self.active = active
        self._x: np.ndarray | None = None
        self._box: np.ndarray | None = None
        self.pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.builds = 0

    def update(self, x: np.ndarray, box: np.ndarray | None = None) -> tuple:
        """Pairs ``(a, b, image)`` valid for positions ``x (n, d)`` and ``box``."""
        stale = self._x is None or self._x.shape != x.shape
        if not stale and box is not None and not np.array_equal(box, self._box):
            stale = True
        if not stale:
            move = np.max(np.einsum("ij,ij->i", x - self._x, x - self._x))
            stale = bool(move > (0.5 * self.skin) ** 2)
        if stale:
            self.pairs = build_pairs(x, self.cutoff + self.skin, box, self.periodic, self.active)
            self._x = np.array(x, copy=True)
            self._box = None if box is None else np.array(box, copy=True)
            self.builds += 1
        return self.pairs


