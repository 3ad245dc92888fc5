"""fe2.kinetics.nested_ssa's hybrid outer loop: reactions fast only by population are
tau-leaped; checked against exact laws (fixed seeds, 4 standard errors) and, on the
heat-shock model, against the direct SSA."""

import math

import numpy as np
import pytest

from fe2.kinetics import NetworkError, Reaction, ReactionNetwork, choose_leap, nested_ssa, ssa

Z = 4.0


def _mean_var(sample, mean, var):
    sample = np.asarray(sample, float)
    n = sample.size
    assert abs(sample.mean() - mean) <= Z * math.sqrt(var / n), (sample.mean(), mean)
    m4 = ((sample - sample.mean()) ** 4).mean()
    se_var = math.sqrt(max(m4 - var**2, 1e-12) / n)
    assert abs(sample.var(ddof=1) - var) <= Z * se_var, (sample.var(ddof=1), var, se_var)


def _mixed():
    """A -> B (0.2 per molecule, 1e5 molecules: fast by population, consumes A),
    F -> F + G (0.5, F = 2e4: constant propensity 1e4), C <-> D (1e3 each way, 10
    molecules: a fast equilibrium), C -> E (slow, 1)."""
    return ReactionNetwork(["A", "B", "F", "G", "C", "D", "E"],
                           [Reaction(0.2, {"A": 1}, {"B": 1}, fast=True),
                            Reaction(0.5, {"F": 1}, {"F": 1, "G": 1}, fast=True),
                            Reaction(1e3, {"C": 1}, {"D": 1}, fast=True),
                            Reaction(1e3, {"D": 1}, {"C": 1}, fast=True),
                            Reaction(1.0, {"C": 1}, {"E": 1})],
                           initial={"A": 100_000, "F": 20_000, "C": 10})


def test_choose_leap_takes_population_driven_fast_reactions_only():
    hs = ReactionNetwork.model("heat_shock")
    leap = choose_leap(hs)
    assert leap.tolist() == [True] + [False] * 16  # Protein -> Unfolded
    assert not choose_leap(hs, min_count=1e7).any()
    # a fast reversible pair with large counts is a fast equilibrium, not leaped
    pair = ReactionNetwork(["X", "Y"], [Reaction(1e3, {"X": 1}, {"Y": 1}, fast=True),
                                        Reaction(1e3, {"Y": 1}, {"X": 1}, fast=True)])
    assert not choose_leap(pair, {"X": 50_000, "Y": 50_000}).any()
    assert choose_leap(_mixed()).tolist() == [True, True, False, False, False]


def test_leaped_reactions_follow_their_exact_laws():
    """At T = 1: A ~ Bin(A0, e^{-0.2}) (binomial leaps, exact), G ~ Poisson(0.5 F T)
    (Poisson leaps of a constant propensity, exact), and the slow variable y = C + D
    drains at rate 1/2 per molecule (quasi-equilibrium C | y ~ Bin(y, 1/2)), so
    E ~ Bin(10, 1 - e^{-T/2})."""
    net = _mixed()
    T = 1.0
    r = nested_ssa(net, None, T, 400, seed=3, inner_runs=1, inner_time=5e-3)
    assert r.params["leap"] == [True, True, False, False, False]
    p = math.exp(-0.2 * T)
    _mean_var(r.column("A"), 1e5 * p, 1e5 * p * (1 - p))
    assert np.all(r.column("A") + r.column("B") == 100_000)
    _mean_var(r.column("G"), 0.5 * 2e4 * T, 0.5 * 2e4 * T)
    q = 1 - math.exp(-T / 2)
    _mean_var(r.column("E"), 10 * q, 10 * q * (1 - q))
    assert r.leap_events.mean() > 1e4 > 100 * r.events.mean()
    # without leaping, A -> B and F -> F + G advance only during the inner runs
    r0 = nested_ssa(net, None, T, 20, seed=3, inner_runs=1, inner_time=5e-3, leap=None)
    assert r0.column("A").mean() > 1e5 * p + 1000


def test_leap_arguments():
    net = _mixed()
    with pytest.raises(NetworkError, match="leap must have 5 flags"):
        nested_ssa(net, None, 1.0, 1, seed=0, leap=[True])
    with pytest.raises(NetworkError, match="leap must be None, 'auto'"):
        nested_ssa(net, None, 1.0, 1, seed=0, leap="yes")
    with pytest.raises(NetworkError, match="leap_tol must be in"):
        nested_ssa(net, None, 1.0, 1, seed=0, leap_tol=0.0)
    with pytest.raises(NetworkError, match="every fast reaction is leaped"):
        nested_ssa(net, None, 1.0, 1, seed=0, leap=[True, True, True, True, False])
    with pytest.raises(NetworkError, match="min_count must be a number >= 1"):
        choose_leap(net, min_count=0)


@pytest.mark.slow
def test_heat_shock_nested_with_leaping_matches_direct_ssa():
    """Heat shock to T = 1 (quick variant: test_leaped_reactions_follow_their_exact_laws):
    s32 from the hybrid nested SSA within 4 standard errors of the direct SSA, and the
    plain nested SSA (Protein -> Unfolded left in the inner loop) more than 4 off."""
    hs = ReactionNetwork.model("heat_shock")
    d = ssa(hs, None, 1.0, 12, seed=1)
    n = nested_ssa(hs, None, 1.0, 300, seed=2, inner_time=1e-4)
    n0 = nested_ssa(hs, None, 1.0, 100, seed=2, inner_time=1e-4, leap=None)
    se = math.hypot(d.stderr("s32"), n.stderr("s32"))
    assert abs(n.mean("s32") - d.mean("s32")) <= Z * se
    se0 = math.hypot(d.stderr("s32"), n0.stderr("s32"))
    assert abs(n0.mean("s32") - d.mean("s32")) > Z * se0
