"""fe2.fluids stress oracles and the seamless coupling.

References: the Oldroyd-B start-up of shear in closed form (Bird, Armstrong & Hassager),
the exact zero-shear viscosity of 2D FENE dumbbells ``eta_p b / (b + 4)`` (from the rest
distribution), the FENE-P closure (a different, approximate model: agreement within a
stated tolerance only), and the numpy reference steps (numba twins). Stochastic checks:
fixed seeds, a few standard errors.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fe2.fluids import (
    FENEP,
    FENEDumbbells,
    HookeanDumbbells,
    Newtonian,
    OldroydB,
    channel,
    start_up_shear,
)
from fe2.fluids.reference import oldroyd_b_start_up
from fe2.oracle import evaluate


def test_oldroyd_b_start_up_closed_form():
    t, txy, n1 = start_up_shear(OldroydB(0.3, 1.0, 0.7), 2.0, 3.0, 0.05)
    tx, nx = oldroyd_b_start_up(t, 2.0, 0.3, 1.0, 0.7)
    np.testing.assert_allclose(txy, tx, rtol=1e-6)
    np.testing.assert_allclose(n1, nx, rtol=1e-5, atol=1e-9)


def test_fenep_tends_to_oldroyd_b_for_large_extensibility():
    t, txy, n1 = start_up_shear(FENEP(1e7, 0.0, 1.0, 1.0), 1.0, 2.0, 0.1)
    tx, nx = oldroyd_b_start_up(t, 1.0, 0.0, 1.0, 1.0)
    np.testing.assert_allclose(txy, tx, rtol=1e-5)
    np.testing.assert_allclose(n1, nx, rtol=1e-5, atol=1e-7)


def test_newtonian_ignores_dt_and_has_exact_tangent():
    o = Newtonian(2.0)
    g = np.random.default_rng(0).normal(size=(2, 2, 5))
    r = o.evaluate(g)
    np.testing.assert_allclose(r.flux, 2.0 * (g + g.transpose(1, 0, 2)))
    np.testing.assert_allclose(np.einsum("ijklp,klp->ijp", r.tangent, g), r.flux)
    t, txy, _ = start_up_shear(o, 3.0, 1.0, 0.5)
    np.testing.assert_allclose(txy, 6.0)


@pytest.mark.parametrize("seed", [1, 2])
def test_hookean_dumbbells_start_up_within_standard_errors(seed):
    lam, eta_p, rate = 1.0, 1.0, 1.5
    t, txy, n1, se_xy, se_n1 = start_up_shear(
        HookeanDumbbells(4000, lam, eta_p, seed=seed), rate, 3.0, 0.1, with_errors=True
    )
    tx, nx = oldroyd_b_start_up(t, rate, 0.0, eta_p, lam)
    assert np.abs((txy - tx) / se_xy).max() < 4.0
    assert np.abs((n1 - nx) / se_n1).max() < 4.0


def test_hookean_error_falls_like_one_over_sqrt_n():
    lam, eta_p, rate = 1.0, 1.0, 1.0
    rms = {}
    for N, seeds in ((250, 60), (4000, 20)):
        errs = []
        for seed in range(seeds):
            t, txy, _ = start_up_shear(HookeanDumbbells(N, lam, eta_p, seed=seed), rate, 2.0, 0.1)
            errs.append(txy[-1] - oldroyd_b_start_up(t, rate, 0.0, eta_p, lam)[0][-1])
        rms[N] = np.sqrt(np.mean(np.square(errs)))
    # expected ratio sqrt(16) = 4; 60 and 20 seeds estimate each rms within ~10 % and ~16 %
    assert 2.8 < rms[250] / rms[4000] < 5.6, rms
    # and the absolute level is the standard error of an iid ensemble average
    _, _, _, se, _ = start_up_shear(HookeanDumbbells(4000, lam, eta_p, seed=99), rate, 2.0, 0.1,
                                    with_errors=True)
    assert 0.6 < rms[4000] / se[-1] < 1.5


def test_fene_zero_shear_viscosity_with_control_variate():
    b, lam, eta_p, rate = 50.0, 1.0, 1.0, 0.1
    kw = dict(n_dumbbells=3000, lam=lam, eta_p=eta_p, seed=4)
    t, txy, _, se, _ = start_up_shear(FENEDumbbells(b, control_variate=True, **kw), rate, 8.0,
                                      0.1, with_errors=True)
    exact = eta_p * b / (b + 4.0) * rate
    assert abs(txy[-1] - exact) < 4 * se[-1]
    # the control variate reduces the error bar several times at this low rate
    _, _, _, se_plain, _ = start_up_shear(FENEDumbbells(b, **kw), rate, 8.0, 0.1, with_errors=True)
    assert se[-1] < 0.25 * se_plain[-1]


def test_fene_shear_thinning_and_fenep_closure():
    b, lam, eta_p = 50.0, 1.0, 1.0
    eta = []
    for wi, cv in ((1.0, True), (10.0, False)):
        t, txy, _, se, _ = start_up_shear(
            FENEDumbbells(b, 3000, lam, eta_p, seed=5, control_variate=cv), wi, 8.0, 0.05,
            with_errors=True,
        )
        _, tp, _ = start_up_shear(FENEP(b, 0.0, eta_p, lam), wi, 8.0, 0.05)
        eta.append((txy[-1] / wi, se[-1] / wi))
        # the Peterlin closure is approximate: steady viscosity within 10 %
        assert abs(txy[-1] - tp[-1]) < 0.1 * tp[-1] + 4 * se[-1]
    eta0 = eta_p * b / (b + 4.0)
    assert eta[1][0] < eta0 - 3 * eta[1][1]
    assert eta[1][0] < eta[0][0] - 3 * np.hypot(eta[0][1], eta[1][1])


@pytest.mark.parametrize("cls", ["hookean", "fene"])
def test_numba_kernels_match_numpy_steps(cls):
    def make(backend):
        if cls == "hookean":
            return HookeanDumbbells(200, 0.5, 1.0, seed=3, backend=backend)
        return FENEDumbbells(8.0, 200, 0.5, 1.0, seed=3, backend=backend)

    g = np.random.default_rng(1).normal(size=(2, 2, 3))
    a, b = make("numba"), make("numpy")
    sa, sb = a.initial_state((3,)), b.initial_state((3,))
    for _ in range(3):
        ra, rb = a.evaluate(g, state=sa, dt=0.1), b.evaluate(g, state=sb, dt=0.1)
        sa, sb = ra.state, rb.state
    np.testing.assert_allclose(ra.state["Q"], rb.state["Q"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ra.flux, rb.flux, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ra.info["tau_xy_se"], rb.info["tau_xy_se"], rtol=1e-8)


def test_dumbbells_serial_equals_chunked():
    o = HookeanDumbbells(100, 1.0, 1.0, seed=7)
    g = np.random.default_rng(2).normal(size=(2, 2, 4, 3))
    st = o.initial_state((4, 3))
    r1 = evaluate(o, g, state=st, dt=0.2)
    with ThreadPoolExecutor(2) as pool:
        r2 = evaluate(o, g, state=st, dt=0.2, executor=pool, chunk_size=5)
    np.testing.assert_array_equal(r1.flux, r2.flux)
    np.testing.assert_array_equal(r1.state["Q"], r2.state["Q"])


def test_seamless_channel_hookean_matches_oldroyd_b():
    """Start-up of a pressure-driven channel: velocity overshoot of an Oldroyd-B fluid.

    The particle run (ensembles advanced every macro step, never re-initialised) must agree
    with the closure run within the statistical error estimated from four seeds.
    """
    eta_s, eta_p, lam, G, ny = 0.2, 0.8, 0.5, 8.0, 16
    kw = dict(gradient=G, nx=3, dt=0.01)
    ob = channel(ny, 2.0, stress=OldroydB(eta_s, eta_p, lam), **kw).u[0]
    runs = np.array([
        channel(ny, 2.0, stress=HookeanDumbbells(1000, lam, eta_p, seed=s, eta_s=eta_s), **kw).u[0]
        for s in range(4)
    ])
    mean, se = runs.mean(0), runs.std(0, ddof=1) / 2.0
    assert ob.max() > 1.02  # elastic overshoot above the steady maximum 1.0 at t = 2
    assert np.abs(mean - ob).max() < 4 * se.max()
    assert se.max() < 0.05


def test_bad_parameters_are_one_line_errors():
    with pytest.raises(ValueError, match="n_dumbbells must be an integer >= 2"):
        HookeanDumbbells(1, 1.0, 1.0)
    with pytest.raises(ValueError, match="lam must be a positive number"):
        OldroydB(0.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="b must exceed 2"):
        FENEDumbbells(1.5, 10, 1.0, 1.0)
    with pytest.raises(ValueError, match="expected 'velocity_gradient'"):
        from fe2.materials import LinearElastic

        start_up_shear(LinearElastic(1.0, 0.3), 1.0, 1.0, 0.1)


def test_seamless_time_scale_ratio_converges():
    """Fast polymers (lam = 2e-3 < dt = 1e-2): the time-accurate run is close to the Newtonian
    flow with eta_0 (stable thanks to the both-sides diffusion); the seamless runs, whose
    conformation advances only M * lam / 10 per macro step, approach it as M grows."""
    eta_s, eta_p, lam, G = 0.2, 0.8, 2e-3, 8.0
    kw = dict(gradient=G, nx=3, dt=0.01)
    ref = channel(16, 0.3, stress=OldroydB(eta_s, eta_p, lam), **kw).u[0]
    newt = channel(16, 0.3, viscosity=eta_s + eta_p, **kw).u[0]
    assert np.abs(ref - newt).max() < 0.02
    errs = [np.abs(channel(16, 0.3, stress=OldroydB(eta_s, eta_p, lam, micro_steps=M,
                                                      micro_dt=lam / 10), **kw).u[0] - ref).max()
            for M in (2, 8, 32)]
    assert errs[0] > 3 * errs[1] > 9 * errs[2], errs


def test_runaway_velocity_gradient_is_a_clear_error():
    from fe2.oracle import OracleError

    g = np.zeros((2, 2, 1))
    g[0, 1] = 1e12
    with pytest.raises(OracleError, match="macro flow is unstable"):
        OldroydB(0.1, 1.0, 1.0).evaluate(g, dt=0.1)
