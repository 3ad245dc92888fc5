"""fe2.surrogate: GP surrogate and AdaptiveSurrogate against the exact laminate law.

References are independent of the surrogate: the closed-form effective law of a series
power-law laminate (flux continuity), the closed-form power-law conductor of
fe2.materials, finite differences, and the nominal coverage of Gaussian intervals.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad

from fe2.materials import LinearElastic, NonlinearConductivity
from fe2.oracle import OracleBase, Response
from fe2.surrogate import (
    AdaptiveSurrogate,
    GaussianProcess,
    SeriesLaminate,
    sample_box,
    series_power_law,
)

K, F, N = [1.0, 10.0], [0.4, 0.6], 3.0  # q = K_eff G^3, smooth
GMAX = 1.0


def _laminate():
    return SeriesLaminate(K, F, N)


def test_laminate_oracle_matches_closed_form():
    G = np.linspace(-2, 2, 11)[None]
    r = _laminate().evaluate(G)
    q, dq = series_power_law(G[0], K, F, N)
    keff = (0.4 * 1.0 ** (-1 / 3) + 0.6 * 10.0 ** (-1 / 3)) ** -3
    assert np.allclose(q, keff * G[0] ** 3, rtol=1e-12, atol=1e-14)
    assert np.allclose(r.flux[0], q, rtol=1e-12, atol=1e-14)
    assert np.allclose(r.tangent[0, 0], dq, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_lml_gradient_and_mean_gradient(kernel):
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (30, 2))
    Y = np.c_[np.sin(2 * X[:, 0]) * X[:, 1], X[:, 0] ** 2]
    gp = GaussianProcess(kernel, n_restarts=1).fit(X, Y)
    Xs, Ys = gp._std()
    th = np.array([0.1, -0.2, 0.3, np.log(1e-2)])
    err = check_grad(lambda t: gp._neg_lml(t, Xs, Ys)[0], lambda t: gp._neg_lml(t, Xs, Ys)[1],
                     th)
    assert err < 1e-5 * np.linalg.norm(gp._neg_lml(th, Xs, Ys)[1])
    q = rng.uniform(-0.8, 0.8, (6, 2))
    p = gp.predict(q, grad=True)
    h = 1e-5
    fd = np.stack([(gp.predict(q + h * e).mean - gp.predict(q - h * e).mean) / (2 * h)
                   for e in np.eye(2)], -1)
    assert np.allclose(p.grad, fd, rtol=1e-4, atol=1e-5 * np.abs(fd).max())


def test_errors_fall_with_training_size_and_intervals_cover():
    Gt = np.linspace(-GMAX, GMAX, 301)
    q, dq = series_power_law(Gt, K, F, N)
    eq, et, cover = [], [], []
    for n in (8, 16, 32):
        s = AdaptiveSurrogate(_laminate(), tol=1e-3).fit(sample_box([-GMAX], [GMAX], n))
        p = s.gp.predict(Gt[:, None], grad=True)
        eq.append(np.abs(p.mean[:, 0] - q).max() / np.abs(q).max())
        et.append(np.abs(p.grad[:, 0, 0] - dq).max() / np.abs(dq).max())
        cover.append(np.mean(np.abs(p.mean[:, 0] - q) <= 1.96 * p.std[:, 0]))
    assert eq[1] < 0.5 * eq[0] and eq[2] < 0.5 * eq[1], eq
    assert et[1] < 0.7 * et[0] and et[2] < 0.7 * et[1], et
    assert eq[-1] < 2e-3 and et[-1] < 3e-2, (eq, et)
    assert min(cover) >= 0.9, cover


def test_fallback_outside_training_region_and_counters():
    mat = NonlinearConductivity(2.0, 3.0, dim=2, reg=0.0, backend="numpy")
    s = AdaptiveSurrogate(mat, tol=2e-3)
    g = sample_box([-GMAX, -GMAX], [GMAX, GMAX], 128, seed=1)
    s.fit(g[:, np.linalg.norm(g, axis=0) <= GMAX])
    inside = 0.5 * GMAX * np.array([[0.6, -0.3], [0.2, 0.8]])  # (2, 2 points)
    outside = 2 * GMAX * np.array([[1.0], [0.0]])
    assert np.all(s.relative_std(inside) < s.tol)
    assert s.relative_std(outside)[0] > s.tol
    r = s.evaluate(np.concatenate([inside, outside], axis=1))
    assert s.stats["surrogate_calls"] == 2 and s.stats["oracle_calls"] == 1
    assert r.info["surrogate"].tolist() == [True, True, False]
    exact = mat.evaluate(np.concatenate([inside, outside], axis=1))
    assert np.allclose(r.flux[:, 2], exact.flux[:, 2], rtol=1e-12)  # the oracle's answer
    assert np.allclose(r.flux[:, :2], exact.flux[:, :2], rtol=1e-2, atol=1e-3)
    assert np.allclose(r.tangent[..., :2], exact.tangent[..., :2], atol=2e-2 * 3 * 2.0)
    # the oracle's answer was learned: the same point is now inside the model's reach
    assert s.relative_std(outside)[0] < s.relative_std(2.5 * outside)[0]


def assert_tangent_is_central_difference(s, g, tangent, h):
    """Each column ``tangent[:, j]`` (gradient inputs ``g (2, n)``) matches central differences
    of ``s``'s flux with step ``h``."""
    for j in range(2):
        e = np.zeros((2, 1))
        e[j] = h
        fd = (s.evaluate(g + e).flux - s.evaluate(g - e).flux) / (2 * h)
        assert np.allclose(tangent[:, j], fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_tangent_is_derivative_of_surrogate_mean():
    mat = NonlinearConductivity(1.0, 3.0, dim=2, reg=0.0, backend="numpy")
    s = AdaptiveSurrogate(mat, tol=1.0).fit(sample_box([-1, -1], [1, 1], 32))
    g = np.array([[0.3, -0.5, 0.1], [0.2, 0.4, -0.7]])
    r = s.evaluate(g)
    assert r.info["surrogate"].all()
    assert_tangent_is_central_difference(s, g, r.tangent, 1e-4)


def test_strain_surrogate_symmetric_tangent():
    mat = LinearElastic(E=10.0, nu=0.3, plane="strain")
    box = sample_box([-1e-2, -1e-2, -1e-2], [1e-2, 1e-2, 1e-2], 32)  # eps11, eps12, eps22
    eps = np.stack([np.stack([box[0], box[1]]), np.stack([box[1], box[2]])])
    s = AdaptiveSurrogate(mat, tol=1e-3).fit(eps)
    e = np.array([[3e-3, 1e-3], [1e-3, -2e-3]])[..., None]
    r = s.evaluate(e)
    ex = mat.evaluate(e)
    assert r.info["surrogate"].all()
    assert np.allclose(r.flux, ex.flux, atol=2e-3 * np.abs(ex.flux).max())
    assert np.allclose(r.tangent, ex.tangent, atol=2e-2 * np.abs(ex.tangent).max())
    assert np.array_equal(r.tangent, np.swapaxes(r.tangent, 2, 3))  # minor symmetry
    assert np.array_equal(r.flux, np.swapaxes(r.flux, 0, 1))


@pytest.mark.parametrize("grads", [False, True])
def test_save_load_round_trip(tmp_path, grads):
    s = AdaptiveSurrogate(_laminate(), tol=1e-2, gradients=grads).fit(sample_box([-1], [1], 16))
    g = np.array([[0.3, -0.7]])
    r = s.evaluate(g)
    path = s.save(tmp_path / "lam")
    t = AdaptiveSurrogate.load(path, _laminate())
    r2 = t.evaluate(g)
    assert np.array_equal(r.flux, r2.flux) and np.array_equal(r.tangent, r2.tangent)
    assert t.stats == {**s.stats, "surrogate_calls": s.stats["surrogate_calls"] + 2}
    with pytest.raises(ValueError, match="trained for measure 'gradient', dim 1"):
        AdaptiveSurrogate.load(path, NonlinearConductivity(1.0, 3.0, dim=2))


class _WithHistory(OracleBase):
    measure, dim = "gradient", 1

    def initial_state(self, pts):
        return {"h": np.zeros(pts)}

    def evaluate(self, g, x=None, state=None):  # pragma: no cover - refused before
        return Response(flux=g)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="has history"):
        AdaptiveSurrogate(_WithHistory())
    with pytest.raises(ValueError, match="tol must be"):
        AdaptiveSurrogate(_laminate(), tol=-1)
    with pytest.raises(ValueError, match="model must be one of gp, neural"):
        AdaptiveSurrogate(_laminate(), model="nn")
    with pytest.raises(ValueError, match="model_options are for model 'neural'"):
        AdaptiveSurrogate(_laminate(), model_options={"members": 2})
    with pytest.raises(ValueError, match="kernel must be"):
        GaussianProcess("cubic")
    with pytest.raises(ValueError, match="lower <= upper"):
        sample_box([1.0], [0.0], 4)


def test_rve_history_rule():
    from fe2.homogenization import RVE, cells
    from fe2.materials import J2Plasticity

    cell = cells.from_image(np.array([[0, 1], [1, 0]]), size=1.0)
    plastic = RVE(cell, [J2Plasticity(1.0, 0.3, 0.002, dim=2),
                         LinearElastic(10.0, 0.2, plane="strain")], bc="periodic")
    with pytest.raises(ValueError, match="oracle RVE has history"):
        AdaptiveSurrogate(plastic)
    warm_only = RVE(cell, [NonlinearConductivity(1.0, 3.0, reg=0.3),
                           NonlinearConductivity(8.0, 3.0, reg=0.3)], bc="periodic")
    assert warm_only.initial_state((1,)) is not None  # a warm start, not history
    AdaptiveSurrogate(warm_only)


def _macro(oracle):
    import skfem

    from fe2.macro import NewtonOptions, Problem

    g = np.linspace(0.0, 1.0, 4)
    mesh = skfem.MeshTri.init_tensor(g, g).with_boundaries(
        {"left": lambda x: np.isclose(x[0], 0.0), "right": lambda x: np.isclose(x[0], 1.0)})
    p = Problem(mesh, oracle, kind="scalar", order=1)
    p.dirichlet("left", 0.0)
    p.dirichlet("right", lambda x, t: t * (1.0 + 0.3 * x[1]))
    return p.solve(NewtonOptions(rtol=1e-10, atol=1e-13, steps=2, max_iter=12),
                   reactions=("right",))


def test_macro_problem_with_surrogate_matches_direct():
    mat = NonlinearConductivity(2.0, 3.0, dim=2, reg=0.3, backend="numpy")
    direct = _macro(mat)
    s = AdaptiveSurrogate(mat, tol=1e-4, n_restarts=1)
    sur = _macro(s)
    ref = direct.reactions["right"]
    assert np.allclose(sur.reactions["right"], ref, rtol=5e-4)
    assert s.stats["surrogate_calls"] > 0 and s.stats["oracle_calls"] > 0
    assert np.abs(sur.u - direct.u).max() <= 1e-3 * np.abs(direct.u).max()


def test_thread_executor_gives_the_serial_answers():
    from concurrent.futures import ThreadPoolExecutor

    g = sample_box([-1.0], [1.0], 16)
    q = np.array([[0.3, -0.7, 1.5]])
    serial = AdaptiveSurrogate(_laminate(), tol=1e-3).fit(g)
    with ThreadPoolExecutor(2) as ex:
        pooled = AdaptiveSurrogate(_laminate(), tol=1e-3, executor=ex).fit(g)
        rp = pooled.evaluate(q)
    rs = serial.evaluate(q)
    assert rs.info["surrogate"][0] and not rs.info["surrogate"][2]  # 1.5 is outside
    assert np.array_equal(rs.flux, rp.flux) and np.array_equal(rs.tangent, rp.tangent)
    assert serial.stats == pooled.stats


def test_gradient_observations_reduce_errors():
    """Micro tangents as gradient observations: smaller flux and tangent errors against the
    closed form for the same number of oracle calls (2D power law, 16 points)."""
    mat = NonlinearConductivity(2.0, 4.0, dim=2, reg=0.0, backend="numpy")
    g = sample_box([-1, -1], [1, 1], 16)
    gt = sample_box([-0.9, -0.9], [0.9, 0.9], 200, method="lhs", seed=5)
    ex = mat.evaluate(gt)
    errs = {}
    for grads in (False, True):
        s = AdaptiveSurrogate(mat, tol=1.0, gradients=grads).fit(g)
        r = s.evaluate(gt)
        assert r.info["surrogate"].all()
        errs[grads] = (np.abs(r.flux - ex.flux).max() / np.abs(ex.flux).max(),
                       np.abs(r.tangent - ex.tangent).max() / np.abs(ex.tangent).max())
    assert errs[True][0] < 0.5 * errs[False][0] and errs[True][1] < errs[False][1], errs
    q = gt[:, :3]  # the tangent is still the derivative of the model's flux
    assert_tangent_is_central_difference(s, q, s.evaluate(q).tangent, 1e-5)


def test_gradient_observations_for_strain_inputs():
    mat = LinearElastic(E=10.0, nu=0.3, plane="strain")
    box = sample_box([-1e-2, -1e-2, -1e-2], [1e-2, 1e-2, 1e-2], 8)
    eps = np.stack([np.stack([box[0], box[1]]), np.stack([box[1], box[2]])])
    e = np.array([[3e-3, 1e-3], [1e-3, -2e-3]])[..., None]
    ex = mat.evaluate(e)
    err = {}
    for grads in (False, True):
        r = AdaptiveSurrogate(mat, tol=1.0, gradients=grads).fit(eps).evaluate(e)
        assert r.info["surrogate"].all()
        assert np.array_equal(r.tangent, np.swapaxes(r.tangent, 2, 3))
        err[grads] = np.abs(r.tangent - ex.tangent).max() / np.abs(ex.tangent).max()
    assert err[True] < 1e-3 and err[True] < 0.2 * err[False], err


def _fe2_scalar(oracle, n=3, steps=3):
    import skfem

    from fe2.macro import NewtonOptions, Problem

    g = np.linspace(0.0, 1.0, n + 1)
    mesh = skfem.MeshTri.init_tensor(g, g).with_boundaries(
        {"left": lambda x: np.isclose(x[0], 0.0), "right": lambda x: np.isclose(x[0], 1.0)})
    p = Problem(mesh, oracle, kind="scalar", order=1)
    p.dirichlet("left", 0.0)
    p.dirichlet("right", lambda x, t: t * (1.0 + 0.3 * x[1]))
    learned = []
    cb = None
    if isinstance(oracle, AdaptiveSurrogate):
        def cb(prob, rec):
            learned.append(oracle.stats["training_points"])
    sol = p.solve(NewtonOptions(rtol=1e-9, atol=1e-13, steps=steps, max_iter=12),
                  reactions=("right",), callback=cb)
    return sol, learned


def _quadratic_pairs(residuals, scale, c_ref):
    """Per Newton pair ``(r_k, r_{k+1})`` after the predictor, with ``r_{k+1}`` above the
    GP round-off (1e-10 of ``scale``): quadratic if ``r_{k+1} <= 10 c_ref r_k^2`` or if
    ``log(r_{k+1}/scale) / log(r_k/scale) >= 1.6`` (2 for exact quadratic convergence,
    1 for linear)."""
    r = np.asarray(residuals[1:])
    out = []
    for a, b in zip(r[:-1], r[1:], strict=True):
        if b > 1e-10 * scale:
            out.append(bool(b <= 10 * c_ref * a**2
                            or np.log(b / scale) / np.log(a / scale) >= 1.6))
    return out


def test_fe2_newton_stays_quadratic_while_the_surrogate_learns():
    """FE² with a nonlinear RVE: the surrogate's reactions within a few tol of the RVE's,
    and in every load step, including those in which the model learned, every Newton
    iteration after the predictor contracts quadratically: ``r_{k+1} <= C r_k^2`` with C
    10x the largest constant of the RVE run, or the ratio of the logs of the residuals
    (relative to the reaction) at least 1.6. Learning after every call, as before, fails
    this (constants up to 1e4 times the RVE's, log ratios 1.0)."""
    from fe2.homogenization import RVE, cells

    img = np.kron(cells.checkerboard(1, squares=4).image, np.ones((2, 2), int))
    img[2:4, 2:6] = 1  # anisotropic cell
    phases = [NonlinearConductivity(1.0, 3.0, dim=2, reg=0.3),
              NonlinearConductivity(8.0, 3.0, dim=2, reg=0.3)]
    rve = RVE(cells.from_image(img, size=1.0), phases, bc="periodic", rtol=1e-12)
    direct, _ = _fe2_scalar(rve)
    tol = 1e-3
    s = AdaptiveSurrogate(rve, tol=tol)
    sur, learned = _fe2_scalar(s)
    ref = direct.reactions["right"][:, 0]
    assert np.allclose(sur.reactions["right"][:, 0], ref, rtol=5 * tol)
    scale = np.abs(ref).max()
    c_ref = 0.0
    for st in direct.steps:
        r = np.asarray(st.residuals[1:])
        c_ref = max([c_ref] + [b / a**2 for a, b in zip(r[:-1], r[1:], strict=True)
                               if b > 1e-10 * scale])
    for k, st in enumerate(sur.steps):
        ok = _quadratic_pairs(st.residuals, scale, c_ref)
        assert ok and all(ok), (k, st.residuals, c_ref)
    grew = np.diff(learned)  # training points added in steps 2, 3, ...
    assert np.all(grew > 0), learned  # the model learned in every step
    assert s.stats["surrogate_calls"] > s.stats["oracle_calls"]
    assert s.stats["oracle_calls"] < 0.5 * sum(st.points for st in direct.steps)


def test_one_response_function_per_load_step():
    """Under a macro solver's state the model learns in the first call of a step only:
    later calls in the step answer the same inputs identically (one function), a point a
    Newton iterate moves far out goes to the oracle and stays there, its answer held back
    and learned once the step is committed (the state's step counter advances)."""
    mat = NonlinearConductivity(2.0, 3.0, dim=2, reg=0.0, backend="numpy")
    s = AdaptiveSurrogate(mat, tol=2e-3)
    s.fit(sample_box([-0.5, -0.5], [0.5, 0.5], 32))
    st = s.initial_state((3,))
    g = np.array([[0.2, -0.3, 0.9], [0.1, 0.2, 0.0]])  # the third point is outside the box
    assert np.all(s.relative_std(g) > s.tol)
    r1 = s.evaluate(g, state=st)  # first call of the step: ask, learn, then answer
    assert s.stats["oracle_calls"] == 3 and s.stats["training_points"] == 35
    assert r1.info["surrogate"].all()
    assert np.allclose(r1.flux, mat.evaluate(g).flux, atol=1e-6)  # the model at its data
    assert np.array_equal(r1.state["surrogate_step"], st["surrogate_step"] + 1)
    far = g.copy()
    far[1, 2] = 0.6  # a Newton iterate moves point 3 far out
    r2 = s.evaluate(far, state=st)
    assert s.stats["training_points"] == 35  # frozen within the step
    assert np.array_equal(r2.flux[:, :2], r1.flux[:, :2])  # same function at the same inputs
    assert r2.info["surrogate"].tolist() == [True, True, False]
    assert np.allclose(r2.flux[:, 2], mat.evaluate(far).flux[:, 2], rtol=1e-12)
    r3 = s.evaluate(g, state=st)  # back inside: point 3 stays with the oracle in this step
    assert r3.info["surrogate"].tolist() == [True, True, False]
    assert np.allclose(r3.flux[:, 2], mat.evaluate(g).flux[:, 2], rtol=1e-12)
    assert s.stats["training_points"] == 35
    r4 = s.evaluate(far, state=r3.state)  # committed: the held-back answers are learned
    assert s.stats["training_points"] == 36 and r4.info["surrogate"].all()


def test_neural_model_behind_the_fallback(tmp_path):
    """model="neural" (EnergyEnsemble, PyTorch): answers inside the design within 1 % of
    the exact laminate law, sends a point far outside to the oracle by the ensemble std,
    returns the derivative of its own flux as tangent, and saves/loads."""
    import torch  # noqa: F401  (the torch extra; missing it fails, not skips)

    s = AdaptiveSurrogate(_laminate(), model="neural", tol=2e-2,
                          model_options=dict(members=3, hidden=(8,), max_iter=200,
                                             refit_iter=30))
    s.fit(sample_box([-1.0], [1.0], 16))
    g = np.array([[0.3, -0.6, 2.5]])
    r = s.evaluate(g)
    q, _ = series_power_law(g[0], K, F, N)
    assert r.info["surrogate"].tolist() == [True, True, False]
    assert np.allclose(r.flux[0, :2], q[:2], rtol=1e-2, atol=1e-2 * np.abs(q[:2]).max())
    assert r.flux[0, 2] == pytest.approx(q[2], rel=1e-10)  # the oracle's answer
    g2, h = g[:, :2], 1e-4
    r2 = s.evaluate(g2)
    fd = (s.evaluate(g2 + h).flux - s.evaluate(g2 - h).flux) / (2 * h)
    assert np.allclose(r2.tangent[0, 0], fd[0], rtol=1e-5)
    t = AdaptiveSurrogate.load(s.save(tmp_path / "nn"), _laminate())
    assert t.model == "neural" and np.array_equal(t.evaluate(g2).flux, s.evaluate(g2).flux)
