"""numba kernels of the direct SSA and the nested SSA (one trajectory per call).

The network enters as arrays (see :class:`fe2.kinetics.ReactionNetwork`): ``rates``
(R,), ``ridx``/``rord`` (R, k) reactant columns and coefficients (-1 / 0 pads),
``cidx``/``cval`` (R, m) changed columns and their increments (-1 / 0 pads), and
``dep`` (R, d): the reactions whose propensity changes when reaction ``i`` fires
(-1 pads). Random numbers come from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["propensity", "direct_run", "nested_run", "inner_average", "leap_tau", "pack",
           "ensemble_run"]


def pack(network, mask=None):
    """The arrays of the kernels for ``network``, restricted to reactions where ``mask``.

    Returns
    -------
    tuple
        ``(rates, ridx, rord, cidx, cval, dep)`` (see the module docstring); ``dep``
        is computed within the selected reactions.
    """
    R = network.n_reactions
    mask = np.ones(R, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    sel = np.flatnonzero(mask)
    rates = network.rates[sel]
    ridx, rord = network.reactant_arrays()
    ridx, rord = ridx[sel], rord[sel]
    nu = network.stoichiometry[sel]
    m = max(1, int((nu != 0).sum(axis=1).max()) if len(sel) else 1)
    cidx = np.full((len(sel), m), -1, dtype=np.int64)
    cval = np.zeros((len(sel), m), dtype=np.int64)
    for i in range(len(sel)):
        cols = np.flatnonzero(nu[i])
        cidx[i, : cols.size] = cols
        cval[i, : cols.size] = nu[i, cols]
    # reaction j depends on species s when s is one of its reactants
    deps = []
    for i in range(len(sel)):
        changed = set(np.flatnonzero(nu[i]).tolist())
        deps.append([j for j in range(len(sel))
                     if changed & set(ridx[j][ridx[j] >= 0].tolist())])
    d = max(1, max((len(x) for x in deps), default=1))
    dep = np.full((len(sel), d), -1, dtype=np.int64)
    for i, x in enumerate(deps):
        dep[i, : len(x)] = x
    return (np.ascontiguousarray(rates), np.ascontiguousarray(ridx),
            np.ascontiguousarray(rord), cidx, cval, dep)


@njit(cache=True)
def propensity(i, x, rates, ridx, rord):
    """Mass-action propensity ``c_i prod_j binom(x_j, nu_ij)`` of reaction ``i`` in state ``x``."""
    a = rates[i]
    for k in range(ridx.shape[1]):
        j = ridx[i, k]
        if j < 0:
            break
        n = rord[i, k]
        xj = x[j]
        if xj < n:
            return 0.0
        if n == 1:
            a *= xj
        elif n == 2:
            a *= 0.5 * xj * (xj - 1)
        else:
            b = 1.0
            for q in range(n):
                b = b * (xj - q) / (q + 1)
            a *= b
    return a


@njit(cache=True)
def _propensities(x, rates, ridx, rord):
    """Propensities of all reactions in state ``x``, shape (n_reactions,)."""
    a = np.empty(rates.shape[0])
    for i in range(rates.shape[0]):
        a[i] = propensity(i, x, rates, ridx, rord)
    return a


@njit(cache=True)
def _fire(i, x, cidx, cval):
    for k in range(cidx.shape[1]):
        j = cidx[i, k]
        if j < 0:
            break
        x[j] += cval[i, k]


@njit(cache=True)
def _pick(a, a0, u):
    """Index ``i`` with ``sum(a[:i]) <= u a0 < sum(a[:i+1])`` (last positive one on round-off)."""
    target = u * a0
    acc = 0.0
    last = -1
    for i in range(a.shape[0]):
        if a[i] > 0.0:
            last = i
            acc += a[i]
            if acc > target:
                return i
    return last


@njit(cache=True, inline="always")
def _step(a, a0, x, rng, rates, ridx, rord, cidx, cval, dep):
    """One event of the direct method.

    Picks a reaction with the propensities ``a`` (sum ``a0``), applies it to ``x`` and
    recomputes the propensities it changes.
    """
    i = _pick(a, a0, rng.random())
    _fire(i, x, cidx, cval)
    for k in range(dep.shape[1]):
        j = dep[i, k]
        if j < 0:
            break
        a[j] = propensity(j, x, rates, ridx, rord)


@njit(cache=True, inline="always")
def _next_time(t, a0, rng):
    """Time of the next event of a Poisson clock of total rate ``a0`` after ``t`` (inf if 0)."""
    if a0 <= 0.0:
        return math.inf
    return t - math.log(1.0 - rng.random()) / a0


@njit(cache=True, inline="always")
def _stop_time(t, t_next, t_end, count, max_events):
    """Time reached if the run stops now, or -1 to go on.

    ``t_end`` when the next event is past it, ``t`` after ``max_events`` events (``> 0``).
    """
    if t_next > t_end:
        return t_end  # not ``t = t_end``: see the note in _fast_average
    if max_events > 0 and count >= max_events:
        return t
    return -1.0


@njit(cache=True, inline="always")
def _record(x, t_next, t_end, times, out, rec):
    """Store ``x`` at the record times before ``t_next`` (and <= ``t_end``); next index."""
    while rec < times.shape[0] and times[rec] < t_next and times[rec] <= t_end:
        out[rec, :] = x
        rec += 1
    return rec


@njit(cache=True)
def direct_run(x, t_end, rates, ridx, rord, cidx, cval, dep, rng, times, out,
               max_events):
    """Gillespie's direct method from state ``x`` (int64, modified in place) to ``t_end``.

    ``times`` (n_t,) sorted record times; ``out`` (n_t, n_species) receives the state at
    each (right-continuous). Returns ``(events, t_last)``; stops early (``t_last <
    t_end``) after ``max_events`` events (``max_events <= 0``: no limit).
    """
    a = _propensities(x, rates, ridx, rord)
    t = 0.0
    reached = 0.0
    events = 0
    rec = 0
    while True:
        a0 = a.sum()
        t_next = _next_time(t, a0, rng)
        rec = _record(x, t_next, t_end, times, out, rec)
        reached = _stop_time(t, t_next, t_end, events, max_events)
        if reached >= 0.0:
            break
        _step(a, a0, x, rng, rates, ridx, rord, cidx, cval, dep)
        t = t_next
        events += 1
    return events, reached


@njit(cache=True)
def _fast_average(x, z, tf, frates, fridx, frord, fcidx, fcval, fdep,
                  srates, sridx, srord, sdep_on_fast, rng, acc):
    """One inner replica: the fast SSA from ``x`` for time ``tf``.

    ``z`` ends in its final state and ``acc`` (n_slow,) gains ``int_0^tf a_slow(z(s)) ds``.
    Returns the number of fast events.
    """
    Rs = srates.shape[0]
    z[:] = x
    af = _propensities(z, frates, fridx, frord)
    as_ = _propensities(z, srates, sridx, srord)
    t = 0.0
    events = 0
    while True:
        a0 = af.sum()
        if a0 <= 0.0:
            dt = tf - t
        else:
            dt = -math.log(1.0 - rng.random()) / a0
        if t + dt >= tf:
            # a separate name: reassigning ``dt`` here miscompiles in numba 0.68 (the
            # value of this branch leaks into the code after the loop exit)
            last = tf - t
            for m in range(Rs):
                acc[m] += as_[m] * last
            break
        for m in range(Rs):
            acc[m] += as_[m] * dt
        t += dt
        _step(af, a0, z, rng, frates, fridx, frord, fcidx, fcval, fdep)
        events += 1
        for m in range(Rs):
            if sdep_on_fast[m]:
                as_[m] = propensity(m, z, srates, sridx, srord)
    return events


@njit(cache=True)
def inner_average(x, inner_runs, inner_time, fast_pack, slow_pack, sdep_on_fast, rng,
                  acc):
    """The inner estimator of the nested SSA, alone.

    ``acc`` (n_slow,) receives the slow propensities averaged over ``inner_runs``
    fast-only replicas of length ``inner_time`` from ``x``. Returns the fast events.
    """
    frates, fridx, frord, fcidx, fcval, fdep = fast_pack
    srates, sridx, srord, scidx, scval, sdep = slow_pack
    z = np.empty_like(x)
    acc[:] = 0.0
    events = 0
    for _k in range(inner_runs):
        events += _fast_average(x, z, inner_time, frates, fridx, frord, fcidx, fcval,
                                fdep, srates, sridx, srord, sdep_on_fast, rng, acc)
    for j in range(srates.shape[0]):
        acc[j] /= inner_runs * inner_time
    return events


@njit(cache=True)
def leap_tau(x, lrates, lridx, lrord, hidx, hnu, al, leap_tol):
    """Leap step bound of Cao, Gillespie & Petzold (J. Chem. Phys. 124, 044109, 2006).

    ``al`` (n_leap,) receives the leap propensities at ``x``. Over the reactant species
    ``j`` of the leap reactions (``hidx`` (n_h,), their changes ``hnu`` (n_h, n_leap)),
    with drift ``mu_j = sum_l hnu_jl al_l`` and ``s2_j = sum_l hnu_jl^2 al_l``, returns
    ``min_j min(b_j / |mu_j|, b_j^2 / s2_j)``, ``b_j = leap_tol max(x_j, 1)``: the
    expected relative change of every leap reactant over the step is at most ``leap_tol``.
    """
    for q in range(lrates.shape[0]):
        al[q] = propensity(q, x, lrates, lridx, lrord)
    tau = math.inf
    for h in range(hidx.shape[0]):
        mu = 0.0
        s2 = 0.0
        for q in range(lrates.shape[0]):
            mu += hnu[h, q] * al[q]
            s2 += hnu[h, q] * hnu[h, q] * al[q]
        b = leap_tol * max(x[hidx[h]], 1.0)
        if mu != 0.0:
            tau = min(tau, b / abs(mu))
        if s2 > 0.0:
            tau = min(tau, b * b / s2)
    return tau


@njit(cache=True)
def _leap(x, al, h, lridx, lrord, lcidx, lcval, lbin, rng):
    """Fire the leap reactions over a step ``h``; returns the number of firings.

    A first-order reaction that consumes its reactant (``lbin``; ``a = c x``) fires
    ``Binomial(x, 1 - exp(-c h))`` times (exact when no other reaction changes ``x``
    during the step), any other
    ``Poisson(a h)`` times, at most as often as its reactants allow (applied in turn).
    """
    fired = 0
    for q in range(al.shape[0]):
        lam = al[q] * h
        if lam <= 0.0:
            continue
        if lbin[q]:
            # first order and consuming its reactant, a = c x: each of the x molecules
            # reacts within h with probability 1 - exp(-c h) (exact while nothing else
            # changes x)
            xq = x[lridx[q, 0]]
            k = rng.binomial(xq, -math.expm1(-lam / xq))
        else:
            k = rng.poisson(lam)
        for m in range(lridx.shape[1]):
            j = lridx[q, m]
            if j < 0:
                break
            k = min(k, x[j] // lrord[q, m])
        for m in range(lcidx.shape[1]):
            j = lcidx[q, m]
            if j < 0:
                break
            x[j] += k * lcval[q, m]
        fired += k
    return fired


@njit(cache=True)
def nested_run(x, t_end, inner_runs, inner_time, fast_pack, slow_pack, sdep_on_fast,
               leap_pack, leap_tol, rng, times, out, max_events):
    """The nested SSA (E, Liu, Vanden-Eijnden) from ``x`` (modified in place) to ``t_end``.

    Each outer step runs ``inner_runs`` replicas of the fast-only SSA for ``inner_time``
    from the current state, averages the slow propensities over them (time and replica
    average), and carries the end state of the first replica (fast variables relaxed;
    fast reactions leave the slow variables as they were) as the new state. The next
    slow reaction is drawn with the averaged rates; the outer step is the time to it,
    cut to the leap bound :func:`leap_tau` when ``leap_pack`` has reactions (then no
    slow reaction fires at the end of a cut step: the exponential clock is memoryless).
    Over each outer step of length ``h`` every leap reaction fires ``Poisson(a_l h)``
    times (tau-leaping with the propensities at the start of the step). A slow reaction
    drawn while the state lacks one of its reactants (possible when it consumes a fast
    species) is not applied and counted as rejected.

    ``leap_pack`` is ``(rates, ridx, rord, cidx, cval, hidx, hnu, lbin)`` (see
    :func:`pack`, :func:`leap_tau` and :func:`_leap`), with zero reactions for the plain
    nested SSA.
    Returns ``(outer_events, inner_events, rejected, leap_events, t_last)``.
    """
    frates, fridx, frord, fcidx, fcval, fdep = fast_pack
    srates, sridx, srord, scidx, scval, sdep = slow_pack
    lrates, lridx, lrord, lcidx, lcval, hidx, hnu, lbin = leap_pack
    Rs = srates.shape[0]
    Rl = lrates.shape[0]
    z = np.empty_like(x)
    z0 = np.empty_like(x)
    acc = np.empty(Rs)
    al = np.zeros(Rl)
    t = 0.0
    reached = 0.0
    outer = 0
    inner = 0
    rec = 0
    rejected = 0
    leaped = 0
    while True:
        acc[:] = 0.0
        for k in range(inner_runs):
            inner += _fast_average(x, z, inner_time, frates, fridx, frord, fcidx, fcval,
                                   fdep, srates, sridx, srord, sdep_on_fast, rng, acc)
            if k == 0:
                z0[:] = z
        a0 = 0.0
        for j in range(Rs):
            acc[j] /= inner_runs * inner_time
            a0 += acc[j]
        x[:] = z0
        t_next = _next_time(t, a0, rng)
        slow = True
        if Rl > 0:
            tau = leap_tau(x, lrates, lridx, lrord, hidx, hnu, al, leap_tol)
            if t + tau < t_next:
                t_next = t + tau
                slow = False
        rec = _record(x, t_next, t_end, times, out, rec)
        if Rl > 0:
            leaped += _leap(x, al, min(t_next, t_end) - t, lridx, lrord, lcidx, lcval,
                            lbin, rng)
        reached = _stop_time(t, t_next, t_end, outer, max_events)
        if reached >= 0.0:
            break
        if slow:
            j = _pick(acc, a0, rng.random())
            if propensity(j, x, srates, sridx, srord) > 0.0 or sridx[j, 0] < 0:
                _fire(j, x, scidx, scval)
            else:  # the averaged rate is positive but this state lacks a reactant
                rejected += 1
            outer += 1
        t = t_next
    return outer, inner, rejected, leaped, reached


@njit(cache=True)
def ensemble_run(X, t_end, rates, ridx, rord, cidx, cval, dep, rng):
    """Advance every row of ``X`` (runs, n_species), int64, in place by ``t_end``.

    Direct method, all rows drawing from ``rng`` in turn. Returns the events.
    """
    times = np.zeros(0)
    out = np.zeros((0, X.shape[1]), dtype=np.int64)
    events = 0
    for r in range(X.shape[0]):
        ev, _ = direct_run(X[r], t_end, rates, ridx, rord, cidx, cval, dep, rng, times,
                           out, 0)
        events += ev
    return events
