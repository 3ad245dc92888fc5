"""fe2.uq Monte Carlo / QMC: random cells against bounds, exact moments and rates.

References are independent of the code under test: the Hashin–Shtrikman bounds (which
hold for every realization through the HS trace bounds and Jensen's inequality), exact
means and covariances of closed-form models, the nominal coverage of t intervals, the
Monte Carlo rate N^(-1/2) and the faster rate of scrambled Sobol points on a smooth map.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import stats

from fe2.homogenization import hashin_shtrikman, reuss_bound, voigt_bound
from fe2.parallel import make_executor
from fe2.uq import (
    RandomConductivityCell,
    convergence_study,
    monte_carlo,
    random_two_phase_image,
    sample_inputs,
)

KS = (1.0, 10.0)


def _laminate(p, seed):
    """Exact effective tensor of a 50/50 laminate of conductivities a, b (smooth map)."""
    a, b = p["a"], p["b"]
    return np.diag([2.0 / (1.0 / a + 1.0 / b), 0.5 * (a + b)])


LAM_INPUTS = {"a": stats.uniform(1.0, 4.0), "b": stats.uniform(5.0, 10.0)}


def _linear(p, seed):
    """(a, a + b) with a ~ U(0, 1), b ~ N(0, 1): mean (1/2, 1/2), cov [[1/12, 1/12],
    [1/12, 1/12 + 1]]."""
    return np.array([p["a"], p["a"] + p["b"]])


LIN_INPUTS = {"a": stats.uniform(0.0, 1.0), "b": stats.norm(0.0, 1.0)}
LIN_MEAN = np.array([0.5, 0.5])
LIN_COV = np.array([[1 / 12, 1 / 12], [1 / 12, 1 / 12 + 1.0]])


def test_image_has_exact_fraction_and_is_reproducible():
    for vf in (0.1, 0.37, 0.8):
        img = random_two_phase_image(24, vf, 0.1, seed=3)
        assert img.shape == (24, 24) and set(np.unique(img)) <= {0, 1}
        assert img.sum() == round(vf * 24 * 24)
    assert np.array_equal(random_two_phase_image(16, 0.3, 0.1, 5),
                          random_two_phase_image(16, 0.3, 0.1, 5))
    assert not np.array_equal(random_two_phase_image(16, 0.3, 0.1, 5),
                              random_two_phase_image(16, 0.3, 0.1, 6))
    assert random_two_phase_image(8, 0.25, 0.15, 1, dim=3).sum() == 128


def test_coarse_image_shows_the_same_microstructure():
    fine = random_two_phase_image(64, 0.4, 0.1, 7)
    coarse = random_two_phase_image(16, 0.4, 0.1, 7, field_resolution=64)
    majority = fine.reshape(16, 4, 16, 4).mean(axis=(1, 3)) > 0.5
    assert np.mean(majority == coarse) > 0.9
    other = random_two_phase_image(16, 0.4, 0.1, 8, field_resolution=64)
    assert np.mean(majority == other) < 0.75  # an unrelated field agrees far less


def test_composite_voxel_coarse_cell_is_bounded_and_changes_in_small_steps():
    p = {"volume_fraction": 0.3}
    mixed = RandomConductivityCell(8, KS, field_resolution=32, microstructure_seed=2,
                                   coarsening="mixed")
    cut = RandomConductivityCell(8, KS, field_resolution=32, microstructure_seed=2)
    img = mixed.image(p, 0)
    assert img.shape == (32, 32) and img.sum() == round(0.3 * 32 * 32)
    ev = np.linalg.eigvalsh(mixed(p, 0))
    assert ev.min() >= reuss_bound(KS, [0.7, 0.3]) and ev.max() <= voigt_bound(KS, [0.7, 0.3])
    # the cut coarse cell jumps when a coarse voxel flips (1/64 of the area); the composite
    # voxels follow the fine image (1/1024 per voxel)
    vf = np.linspace(0.28, 0.32, 9)
    km = np.array([mixed({"volume_fraction": v}, 0)[0, 0] for v in vf])
    kc = np.array([cut({"volume_fraction": v}, 0)[0, 0] for v in vf])
    assert np.all(np.diff(km) > 0)
    assert np.abs(np.diff(km)).max() < 0.5 * np.abs(np.diff(kc)).max()
    assert np.sum(np.diff(kc) == 0) >= 3  # the cut cell is flat between its jumps
    with pytest.raises(ValueError, match="coarsening must be"):
        RandomConductivityCell(8, coarsening="average")


@pytest.mark.parametrize("kwargs, match", [
    (dict(resolution=1, volume_fraction=0.3, correlation_length=0.1, seed=0), "resolution"),
    (dict(resolution=8, volume_fraction=1.2, correlation_length=0.1, seed=0),
     "volume_fraction must be in"),
    (dict(resolution=8, volume_fraction=0.3, correlation_length=0.0, seed=0),
     "correlation_length"),
    (dict(resolution=8, volume_fraction=0.3, correlation_length=0.1, seed=0,
          field_resolution=12), "field_resolution"),
])
def test_bad_image_input_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_two_phase_image(**kwargs)


def test_bad_model_input_is_refused():
    with pytest.raises(ValueError, match="unknown parameter 'radius'"):
        RandomConductivityCell(8, fixed={"radius": 0.1})
    with pytest.raises(ValueError, match="input 'a' must be a frozen scipy.stats"):
        monte_carlo(_linear, {"a": 3.0}, 4)
    with pytest.raises(ValueError, match="method must be one of"):
        monte_carlo(_linear, LIN_INPUTS, 4, method="sobel")
    with pytest.raises(ValueError, match="replicates must be an integer >= 2"):
        monte_carlo(_linear, LIN_INPUTS, 4, method="sobol", replicates=1)


def test_every_random_cell_and_the_mc_mean_lie_within_hashin_shtrikman():
    vf = 0.3
    cell = RandomConductivityCell(16, KS, fixed={"volume_fraction": vf})
    st = monte_carlo(cell, {}, 48, seed=2)
    hs = hashin_shtrikman(KS, [1 - vf, vf], dim=2)
    t = np.trace(st.samples[0], axis1=1, axis2=2) / 2  # (N,)
    # per sample: HS trace bounds + Jensen give L(k_min) <= tr K / d <= L(k_max)
    assert np.all(t >= hs.lower * (1 - 1e-9)) and np.all(t <= hs.upper * (1 + 1e-9))
    # eigenvalues within Reuss and Voigt
    ev = np.linalg.eigvalsh(st.samples[0])
    assert ev.min() >= reuss_bound(KS, [1 - vf, vf]) and ev.max() <= voigt_bound(KS,
                                                                                [1 - vf, vf])
    mean_t = np.trace(st.mean) / 2
    se_t = np.std(t, ddof=1) / np.sqrt(len(t))
    assert hs.lower + 3 * se_t < mean_t < hs.upper - 3 * se_t
    # the mean tensor is isotropic within its standard error
    assert abs(st.mean[0, 1]) < 4 * st.std_error[0, 1]
    assert abs(st.mean[0, 0] - st.mean[1, 1]) < 4 * np.hypot(*np.diag(st.std_error))


def test_mean_covariance_and_interval_coverage_against_exact_moments():
    st = monte_carlo(_linear, LIN_INPUTS, 4000, seed=0)
    assert np.all(np.abs(st.mean - LIN_MEAN) < 4 * st.std_error)
    # covariance: standard error of a sample covariance ~ sqrt((s_ii s_jj + s_ij^2) / N)
    se_cov = np.sqrt((np.outer(np.diag(LIN_COV), np.diag(LIN_COV)) + LIN_COV**2) / st.n)
    assert np.all(np.abs(st.covariance - LIN_COV) < 4 * se_cov)
    # 95 % t intervals of N = 10 samples cover the exact mean in 95 % of 400 repetitions
    hits = []
    for s in range(400):
        lo, hi = monte_carlo(_linear, LIN_INPUTS, 10, seed=100 + s).interval(0.95)
        hits.append((lo <= LIN_MEAN) & (LIN_MEAN <= hi))
    cover = np.mean(hits, axis=0)
    se = np.sqrt(0.95 * 0.05 / 400)
    assert np.all(np.abs(cover - 0.95) < 4 * se), cover


def test_randomized_qmc_mean_and_standard_error():
    st = monte_carlo(_laminate, LAM_INPUTS, 128, method="sobol", replicates=8, seed=1)
    a, b = LAM_INPUTS["a"], LAM_INPUTS["b"]
    # exact E[(a + b) / 2] and E[2 a b / (a + b)] (quadrature of the closed form)
    xa, wa = np.polynomial.legendre.leggauss(60)
    A, B = 1 + 2 * (xa + 1), 5 + 5 * (xa + 1)
    harm = 0.25 * np.sum(wa[:, None] * wa[None, :] * 2 * A[:, None] * B[None, :]
                         / (A[:, None] + B[None, :]))
    exact = np.diag([harm, 0.5 * (a.mean() + b.mean())])
    d = np.diag(st.mean - exact)
    assert np.all(np.abs(d) < 4 * np.diag(st.std_error) + 1e-14)
    assert np.all(np.diag(st.std_error) < 1e-3)  # the MC error of 1024 points is ~0.05


def test_mc_error_falls_like_inverse_sqrt_n():
    cell = RandomConductivityCell(8, KS, fixed={"correlation_length": 0.15})
    c = convergence_study(cell, {}, [2, 4, 8, 16, 32], replicates=8, seed=0)
    assert c.rate() == pytest.approx(-0.5, abs=0.12)
    rows = np.array(c.rows())
    # the plug-in s / sqrt(N) agrees with the observed spread of batch means
    assert np.all(np.abs(rows[2:, 2] / rows[2:, 1] - 1) < 0.35)


def test_sobol_error_falls_faster_than_mc_on_a_smooth_map():
    ns = [8, 16, 32, 64, 128]
    mc = convergence_study(_laminate, LAM_INPUTS, ns, method="mc", replicates=16, seed=0)
    qmc_ = convergence_study(_laminate, LAM_INPUTS, ns, method="sobol", replicates=16, seed=0)
    assert mc.rate() == pytest.approx(-0.5, abs=0.15)
    assert qmc_.rate() < -1.0
    assert np.array(qmc_.rows())[-1, 1] < 0.1 * np.array(mc.rows())[-1, 1]


def test_executor_and_progress_give_the_same_samples(caplog):
    cell = RandomConductivityCell(8, KS)
    inputs = {"volume_fraction": stats.uniform(0.2, 0.3)}
    ref = monte_carlo(cell, inputs, 6, seed=4)
    with make_executor("thread", 2) as ex, caplog.at_level(logging.INFO, "fe2.progress"):
        par = monte_carlo(cell, inputs, 6, seed=4, executor=ex, chunk_size=2, progress=True)
    assert np.array_equal(ref.samples, par.samples)
    assert any("6/6" in r.getMessage() for r in caplog.records)
    X = sample_inputs(inputs, 6, "mc", np.random.SeedSequence(4).spawn(2)[0].spawn(1)[0])
    assert np.allclose(ref.inputs[0], X)
