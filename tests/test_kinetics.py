"""fe2.kinetics: direct SSA and nested SSA against closed-form laws (fixed seeds, a few
standard errors), executor/chunk independence, argument errors."""

import math

import numpy as np
import pytest
from scipy import stats

from fe2.kinetics import NetworkError, Reaction, ReactionNetwork, nested_ssa, ssa
from fe2.parallel import make_executor

Z = 4.0  # tolerance in standard errors


def _check_mean_var(sample, mean, var, z=Z):
    """Sample mean and variance within z standard errors of the exact ones."""
    n = sample.size
    se_mean = math.sqrt(var / n)
    assert abs(sample.mean() - mean) <= z * se_mean, (sample.mean(), mean, se_mean)
    # standard error of the sample variance from the exact central moments of the sample
    m4 = ((sample - sample.mean()) ** 4).mean()
    se_var = math.sqrt(max(m4 - var**2, 1e-12) / n)
    assert abs(sample.var(ddof=1) - var) <= z * se_var, (sample.var(ddof=1), var, se_var)


def test_birth_death_is_poisson():
    """0 -> A (k), A -> 0 (g) from A = 0: A(T) ~ Poisson(k/g (1 - exp(-g T)))."""
    k, g, T = 20.0, 2.0, 1.5
    net = ReactionNetwork(["A"], [Reaction(k, {}, {"A": 1}), Reaction(g, {"A": 1}, {})])
    r = ssa(net, {"A": 0}, T, 4000, seed=11)
    lam = k / g * (1 - math.exp(-g * T))
    _check_mean_var(r.column("A").astype(float), lam, lam)
    # whole law: chi-square goodness of fit to the Poisson pmf
    counts = np.bincount(r.column("A"), minlength=40)[:40]
    pmf = stats.poisson.pmf(np.arange(40), lam)
    lo, hi = 2, 18
    obs = np.r_[counts[:lo].sum(), counts[lo:hi], r.runs - counts[:hi].sum()]
    exp_ = r.runs * np.r_[pmf[:lo].sum(), pmf[lo:hi], 1 - pmf[:hi].sum()]
    assert stats.chisquare(obs, exp_).pvalue > 1e-3


def test_isomerisation_is_binomial():
    """A <-> B (c1, c2), n molecules in A: A(T) ~ Bin(n, p), p = (c2 + c1 e^{-(c1+c2)T})/(c1+c2)."""
    c1, c2, n, T = 1.0, 3.0, 60, 0.4
    net = ReactionNetwork(["A", "B"], [Reaction(c1, {"A": 1}, {"B": 1}),
                                       Reaction(c2, {"B": 1}, {"A": 1})])
    r = ssa(net, {"A": n}, T, 3000, seed=5, record=5)
    p = (c2 + c1 * math.exp(-(c1 + c2) * T)) / (c1 + c2)
    _check_mean_var(r.column("A").astype(float), n * p, n * p * (1 - p))
    assert np.all(r.final.sum(axis=1) == n)  # mass conservation
    assert r.paths.shape == (3000, 5, 2) and np.all(r.paths[:, 0, 0] == n)
    assert np.array_equal(r.paths[:, -1], r.final)
    # mean path against the exact mean at each record time
    pt = (c2 + c1 * np.exp(-(c1 + c2) * r.times)) / (c1 + c2)
    se = np.sqrt(n * pt * (1 - pt) / r.runs) + 1e-12
    assert np.all(np.abs(r.paths[:, :, 0].mean(0) - n * pt) <= Z * se + 1e-12)


def test_dimerisation_uses_binomial_factor():
    """2A -> B with A = 3: propensity c binom(3, 2) = 3c, then A = 1 stops: P(B = 1 at T)
    = 1 - exp(-3 c T) (it would be 1 - exp(-9 c T) with a c x^2 convention)."""
    c, T = 0.5, 0.4
    net = ReactionNetwork(["A", "B"], [Reaction(c, {"A": 2}, {"B": 1})])
    r = ssa(net, {"A": 3}, T, 4000, seed=3)
    p = 1 - math.exp(-3 * c * T)
    frac = r.column("B").mean()
    assert abs(frac - p) <= Z * math.sqrt(p * (1 - p) / r.runs)
    assert set(np.unique(r.column("A"))) <= {1, 3}


def test_results_do_not_depend_on_executor_or_chunking():
    net = ReactionNetwork(["A", "B"], [Reaction(1.0, {"A": 1}, {"B": 1}),
                                       Reaction(0.5, {"B": 1}, {"A": 1})])
    ref = ssa(net, {"A": 30}, 2.0, 40, seed=7, record=4)
    with make_executor("thread", 2) as ex:
        par = ssa(net, {"A": 30}, 2.0, 40, seed=7, record=4, executor=ex, chunk=3)
    assert np.array_equal(ref.final, par.final) and np.array_equal(ref.paths, par.paths)
    assert np.array_equal(ref.events, par.events)
    other = ssa(net, {"A": 30}, 2.0, 40, seed=8)
    assert not np.array_equal(ref.final, other.final)
    four = _four_species()
    nref = nested_ssa(four, {"S1": 10, "S3": 5}, 0.5, 12, seed=2, inner_time=2e-5)
    with make_executor("thread", 2) as ex:
        npar = nested_ssa(four, {"S1": 10, "S3": 5}, 0.5, 12, seed=2, inner_time=2e-5,
                          executor=ex, chunk=5)
    assert np.array_equal(nref.final, npar.final)
    assert np.array_equal(nref.inner_events, npar.inner_events)


def _four_species(fast_rate=1e5):
    return ReactionNetwork(
        ["S1", "S2", "S3", "S4"],
        [Reaction(fast_rate, {"S1": 1}, {"S2": 1}, fast=True),
         Reaction(fast_rate, {"S2": 1}, {"S1": 1}, fast=True),
         Reaction(1.0, {"S2": 1}, {"S3": 1}),
         Reaction(1.0, {"S3": 1}, {"S2": 1}),
         Reaction(fast_rate, {"S3": 1}, {"S4": 1}, fast=True),
         Reaction(fast_rate, {"S4": 1}, {"S3": 1}, fast=True)])


def test_nested_ssa_four_species_matches_effective_binomial_law():
    """Slow variable y1 = x1 + x2: in the fast quasi-equilibrium x2 ~ Bin(y1, 1/2), so each
    molecule flips between {S1, S2} and {S3, S4} at rate 1/2 each way:
    y1(T) ~ Bin(m, 1/2 + e^{-T}/2) + Bin(n - m, 1/2 - e^{-T}/2)."""
    net = _four_species()
    m, n, T = 30, 40, 1.0
    r = nested_ssa(net, {"S1": m, "S3": n - m}, T, 2000, seed=21, inner_runs=1,
                   inner_time=1e-4)
    y1 = (r.column("S1") + r.column("S2")).astype(float)
    paa, pba = 0.5 + 0.5 * math.exp(-T), 0.5 - 0.5 * math.exp(-T)
    mean = m * paa + (n - m) * pba
    var = m * paa * (1 - paa) + (n - m) * pba * (1 - pba)
    _check_mean_var(y1, mean, var)
    assert np.all(r.final.sum(axis=1) == n)
    # the carried fast state is relaxed: x2 | y1 ~ Bin(y1, 1/2)
    x2 = r.column("S2").astype(float)
    assert abs((x2 - y1 / 2).mean()) <= Z * math.sqrt((y1 / 4).mean() / r.runs)
    # cost: outer events ~ slow events, inner events ~ N T_f 1e5 (x1 + x2 + x3 + x4) per step
    assert r.inner_events.sum() > 100 * r.events.sum() > 0
    assert r.rejected.sum() == 0


def test_nested_ssa_isomerisation_slow_scale_rate():
    """S1 <-> S2 (c1, c2 fast), S2 -> S3 (c3): the slow-scale rate (Cao, Gillespie &
    Petzold 2005) is c3 c1 / (c1 + c2) per molecule of S1 + S2, so
    y(T) = x1 + x2 ~ Bin(y0, exp(-c3 c1 T / (c1 + c2)))."""
    c1, c2, c3 = 1e5, 2e5, 1.0
    net = ReactionNetwork(["S1", "S2", "S3"],
                          [Reaction(c1, {"S1": 1}, {"S2": 1}),
                           Reaction(c2, {"S2": 1}, {"S1": 1}),
                           Reaction(c3, {"S2": 1}, {"S3": 1})])
    y0, T = 50, 2.0
    # T_f = 60 relaxation times 1/(c1 + c2): the deficit a slow event leaves in the carried
    # fast state biases the next averaged rate by ~1/60 molecule (0.2 %, < 1 se here)
    r = nested_ssa(net, {"S1": y0}, T, 1500, seed=4, inner_runs=1, inner_time=2e-4,
                   fast="auto")
    assert r.params["fast"] == [True, True, False]
    y = (r.column("S1") + r.column("S2")).astype(float)
    p = math.exp(-c3 * c1 / (c1 + c2) * T)
    _check_mean_var(y, y0 * p, y0 * p * (1 - p))


def test_nested_ssa_bad_arguments():
    net = _four_species()
    with pytest.raises(NetworkError, match="inner_runs"):
        nested_ssa(net, {"S1": 3}, 1.0, 2, seed=0, inner_runs=0)
    with pytest.raises(NetworkError, match="inner_time"):
        nested_ssa(net, {"S1": 3}, 1.0, 2, seed=0, inner_time=-1.0)
    with pytest.raises(NetworkError, match="fast must have 6 flags"):
        nested_ssa(net, {"S1": 3}, 1.0, 2, seed=0, fast=[True])
    with pytest.raises(NetworkError, match="no fast reaction"):
        nested_ssa(net, {"S1": 3}, 1.0, 2, seed=0, fast=[False] * 6)
    with pytest.raises(NetworkError, match="t_end"):
        ssa(net, {"S1": 3}, 0.0, 2, seed=0)
    with pytest.raises(NetworkError, match="runs"):
        ssa(net, {"S1": 3}, 1.0, 0, seed=0)
    with pytest.raises(NetworkError, match="record"):
        ssa(net, {"S1": 3}, 1.0, 2, seed=0, record=[0.5, 0.2])
