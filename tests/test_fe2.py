"""Concurrent FE²: a macro problem with an RVE at every quadrature point.

References (never the code's own earlier output):

- linear micro: single-scale FE with the exact laminate tensor (layered formula);
- nonlinear micro: power-law layers in series against ``K_eff = (sum f_i K_i^(-1/n))^(-n)``;
- Newton with the homogenized consistent tangent: quadratic convergence
  (observed order of the residuals, bounded ``r_{k+1} / r_k^2``);
- micro failures: the step is cut back and the run equals a clean run through
  the same load factors; the failing point is the one where the micro problem
  is independently known to fail (inverted macro element, loaded point);
- evaluation cache: a repeated question gets bitwise the same answer without
  calling the micro oracle;
- elastic predictor: yield onset of a homogeneous J2 cell in closed form, and
  the same converged macro answer with fewer micro iterations.
"""

from __future__ import annotations

import logging
import pickle
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import skfem

from fe2.homogenization import RVE, EvaluationCache, cells
from fe2.macro import NewtonOptions, Problem, StepFailure
from fe2.materials import J2Plasticity, LinearElastic, NeoHookean
from fe2.oracle import OracleError, Response
from verification.exact_cells import layered_stiffness
from verification.fe2_linear import isotropic_stiffness, nonlinear_series, series_power_law


@pytest.fixture(scope="module")
def disk_cell():
    """Coarse two-phase cell with a curved interface (gmsh)."""
    return cells.circular_inclusion(0.3, mesh_size=0.15)


def square(n=2, split=None):
    m = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, n + 1)] * 2).with_defaults()
    if split is not None:
        m = m.with_subdomains({"a": lambda x: x[0] < split, "b": lambda x: x[0] > split})
    return m


def j2_phases():
    return [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2),
            LinearElastic(10.0, 0.2, plane="strain")]


def pull(prob, value=0.02):
    prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
    prob.dirichlet("right", value, components=(0,))
    return prob


class TensorOracle:
    """Single-scale reference: ``sigma = C : eps`` with a given 4th-order tensor."""

    measure, dim, input_shape = "strain", 2, (2, 2)

    def __init__(self, C):
        self.C = np.asarray(C)

    def evaluate(self, g, x=None, state=None):
        flux = np.einsum("ijkl,kl...->ij...", self.C, g)
        tangent = np.broadcast_to(self.C.reshape(self.C.shape + (1,) * (g.ndim - 2)),
                                  self.C.shape + g.shape[2:])
        return Response(flux=flux, tangent=tangent)


# ---------------------------------------------------------------- linear micro


def test_linear_fe2_equals_single_scale_with_exact_laminate_tensors():
    """Three subdomains, two distinct laminates (one used twice, by two separate but identical
    RVE objects): FE² equals FE with the exact laminate tensors (layered formula with
    stiffnesses written from E and nu, not from the RVE), one cell solve each."""
    soft, stiff = LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")
    lam_x = cells.laminate([0.3, 0.7], normal=0, resolution=4)
    rve_a = RVE(lam_x, [soft, stiff])
    rve_b = RVE(cells.laminate([0.4, 0.6], normal=1), [soft, stiff])
    rve_c = RVE(lam_x, [LinearElastic(1.0, 0.3, plane="strain"),
                        LinearElastic(10.0, 0.2, plane="strain")])
    assert rve_c.fingerprint() == rve_a.fingerprint() != rve_b.fingerprint()
    mesh = skfem.MeshTri.init_tensor(*[np.linspace(0, 1, 7)] * 2).with_defaults()
    mesh = mesh.with_subdomains({"a": lambda x: x[0] < 1 / 3,
                                 "b": lambda x: (x[0] > 1 / 3) & (x[0] < 2 / 3),
                                 "c": lambda x: x[0] > 2 / 3})

    def build(oracles):
        prob = Problem(mesh, oracles, order=2)
        prob.dirichlet("left").dirichlet("right", [0.01, 0.004])
        prob.solve(NewtonOptions(rtol=1e-12))
        return prob

    phases = [isotropic_stiffness(1.0, 0.3, 2), isotropic_stiffness(10.0, 0.2, 2)]
    C_a = layered_stiffness(phases, [0.3, 0.7], np.array([1.0, 0.0]))
    C_b = layered_stiffness(phases, [0.4, 0.6], np.array([0.0, 1.0]))
    fe2 = build({"a": rve_a, "b": rve_b, "c": rve_c})
    ref = build({"a": TensorOracle(C_a), "b": TensorOracle(C_b), "c": TensorOracle(C_a)})
    scale = np.abs(ref.u).max()
    assert scale > 1e-3
    np.testing.assert_allclose(fe2.u, ref.u, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(fe2.reaction("left"), ref.reaction("left"), rtol=1e-10)
    # one cell solve per distinct microstructure: the identical RVE is shared, never solved
    assert fe2.regions[2].oracle is rve_a
    assert rve_a._micro().solver.stats.factorizations == 1
    assert rve_b._micro().solver.stats.factorizations == 1
    assert rve_c._micro().solver.stats.factorizations == 0


def test_nonlinear_micro_fe2_equals_power_law_series_closed_form():
    """FE² with power-law layers in series: macro flux K_eff |G|^n G with
    K_eff = (sum f_i K_i^(-1/n))^(-n), and the micro Newton iterates at every point."""
    r = nonlinear_series(quick=True)
    q = r["K_eff"] * (r["t"] * r["G"]) ** r["n"]
    np.testing.assert_allclose(-r["reactions"], q, rtol=1e-8)  # left end, unit height
    np.testing.assert_allclose(r["flux"][0], q[-1], rtol=1e-8)
    np.testing.assert_allclose(r["flux"][1], 0.0, atol=1e-8 * q[-1])
    assert r["iterations"].min() >= 1
    # a wrong exponent or a parallel (Voigt) mean would be far off: the check can fail
    assert abs(series_power_law([1.0, 6.0, 2.5], [0.3, 0.5, 0.2], 1.0) - r["K_eff"]) > 0.1


def test_linear_rve_ships_its_one_solve_to_workers(disk_cell):
    """A pickled linear RVE (what an executor sends) carries the effective tensor: the copy
    answers with the same tensor and no factorization of its own."""
    rve = RVE(disk_cell, [LinearElastic(1.0, 0.3, plane="strain"),
                          LinearElastic(10.0, 0.2, plane="strain")])
    clone = pickle.loads(pickle.dumps(rve))
    e = np.zeros((2, 2, 5))
    e[0, 0], e[0, 1], e[1, 0] = 0.01, 0.002, 0.002
    r = clone.evaluate(e)
    assert clone._micro().solver.stats.factorizations == 0
    C = rve.effective_tensor()
    np.testing.assert_allclose(r.flux, np.einsum("ijkl,kl...->ij...", C, e), rtol=1e-14)


# ---------------------------------------------------------------- Newton with the condensed tangent


def test_macro_newton_converges_quadratically_with_condensed_tangent(disk_cell):
    """J2 matrix + elastic fibre at every quadrature point, pulled well past yield."""
    rve = RVE(disk_cell, j2_phases())
    prob = pull(Problem(square(2), rve, intorder=1))
    sol = prob.solve(NewtonOptions(steps=2, rtol=1e-12, atol=1e-20))
    assert prob.quadrature_data()["state_alpha"].max() > 0  # micro points yielded
    floor = 1e-12 * np.linalg.norm(prob._last_fint)  # round-off level of the residual
    orders, ratios = [], []
    for rec in sol.steps:
        r = np.array(rec.residuals[1:])  # [0] is the converged state of the last step
        r = r[r > floor] / r[0]
        if len(r) >= 3:
            orders.append(np.log(r[-1] / r[-2]) / np.log(r[-2] / r[-3]))
        ratios.extend(r[1:] / r[:-1] ** 2)
    assert orders and min(orders) >= 1.8, orders
    assert len(ratios) >= 3 and max(ratios) < 10.0, ratios
    # the many micro solves (one linear system per micro Newton iteration at every point)
    # share one fill-reducing ordering: the pattern is fixed
    assert sum(s.micro_iterations for s in sol.steps) > 10 * prob.op.nqp * prob.mesh.nelements
    assert rve._micro().solver.stats.orderings == 1
    # micro history is committed with the macro step
    committed = prob.regions[0].state.committed
    np.testing.assert_array_equal(committed["alpha"], prob.last_response.state[0]["alpha"])


# ---------------------------------------------------------------- micro failures


class InjectFailure:
    """Wrap an oracle; at call ``at`` the point ``(e, q)`` fails. Modes: ``"not_converged"``
    (the answer there is marked not converged), ``"bad_input"`` (the input there is scaled by
    1000 before the wrapped oracle sees it), ``"error"`` (the call raises)."""

    def __init__(self, inner, at, point, mode="not_converged"):
        self.inner, self.at, self.point, self.mode, self.calls = inner, at, point, mode, 0
        self.measure, self.dim, self.input_shape = inner.measure, inner.dim, inner.input_shape

    def initial_state(self, pts):
        return self.inner.initial_state(pts)

    def evaluate(self, g, x=None, state=None):
        self.calls += 1
        hit = self.calls == self.at
        if hit and self.mode == "error":
            raise OracleError("simulated micro failure")
        if hit and self.mode == "bad_input":
            g = np.array(g)
            g[(...,) + self.point] *= 1000.0
        r = self.inner.evaluate(g, x=x, state=state)
        if hit and self.mode == "not_converged":
            r.info["converged"][self.point] = False
        return r


class Tripwire:
    """A phase answering like ``inner`` that rejects (OracleError) strains above ``limit``:
    a micro model that cannot be solved beyond its range."""

    measure, dim, input_shape = "strain", 2, (2, 2)

    def __init__(self, inner, limit=0.5):
        self.inner, self.limit = inner, limit

    def initial_state(self, pts):
        return self.inner.initial_state(pts)

    def evaluate(self, g, x=None, state=None):
        if np.abs(g).max() > self.limit:
            raise OracleError(f"strain {np.abs(g).max():.3g} above the range {self.limit}")
        return self.inner.evaluate(g, state=state)


@pytest.mark.parametrize("mode", ["not_converged", "bad_input"])
def test_micro_failure_cuts_back_and_rolls_back_micro_states(disk_cell, mode, caplog):
    """A micro failure at one point of subdomain 'b' fails the step, which is cut back; the
    failed attempt leaves no trace: the run equals a clean run through the same load factors,
    micro histories included; the warning names the global element and quadrature point.
    ``not_converged``: the RVE's answer there is marked not converged; ``bad_input``: the
    real RVE gets an input its matrix phase rejects and raises."""
    e_loc, q = 1, 2
    mesh = square(2, split=0.5)
    lin = LinearElastic(3.0, 0.25, plane="strain")
    j2, fibre = j2_phases()

    def make():
        return RVE(disk_cell, [Tripwire(j2), fibre])

    failing = InjectFailure(make(), at=4, point=(e_loc, q), mode=mode)
    prob = pull(Problem(mesh, {"a": lin, "b": failing}, intorder=1))
    with caplog.at_level(logging.WARNING, logger="fe2.macro.problem"):
        sol = prob.solve(NewtonOptions(steps=2, rtol=1e-11))
    assert sum(s.cutbacks for s in sol.steps) == 1
    el = int(prob.subdomain("b")[e_loc])
    assert el != e_loc
    msg = " ".join(r.getMessage() for r in caplog.records if "cutting back" in r.getMessage())
    assert f"element {el}, quadrature point {q}, strain [" in msg, msg
    assert "'b'" in msg
    if mode == "bad_input":
        assert "above the range" in msg and "macro point" not in msg

    ref = pull(Problem(mesh, {"a": lin, "b": make()}, intorder=1))
    for t in sol.load_factors:
        ref.solve(NewtonOptions(steps=1, max_cutbacks=0, rtol=1e-11), t_end=t)
    np.testing.assert_allclose(prob.u, ref.u, rtol=0, atol=1e-12 * np.abs(ref.u).max())
    got, want = prob.regions[1].state.committed, ref.regions[1].state.committed
    assert want["alpha"].max() > 0
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=0, atol=1e-12 * max(np.abs(v).max(), 1e-3))


def _nodal_shift(prob, node, shift):
    u = np.zeros(prob.basis.N)
    for c in range(2):
        u[prob.basis.nodal_dofs[c, node]] = shift[c]
    return u


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_real_rve_failures_name_the_global_point(disk_cell, chunk_size):
    """Finite strain, RVE in subdomain 'b' only. (1) A node moved across its neighbours
    inverts macro elements: the RVE cannot solve there and raises; (2) an RVE allowed one
    micro iteration reports the first loaded point as not converged. Both name the global
    element, the quadrature point and F there, as computed here with scikit-fem, also when
    the points go to the RVE in chunks (then its message counts from the chunk start)."""
    mesh = square(4, split=0.5)
    neo = [NeoHookean(1.0, 0.3, dim=2), NeoHookean(5.0, 0.3, dim=2)]
    node = int(np.argmin(np.sum((mesh.p - np.array([[0.75], [0.5]])) ** 2, axis=0)))
    outer = {"a": NeoHookean(1.0, 0.3, dim=2)}
    for case, rve, shift in [("inverted", RVE(disk_cell, neo), (-0.6, 0.0)),
                             ("one_iteration", RVE(disk_cell, neo, max_iter=1), (0.05, 0.02))]:
        prob = Problem(mesh, {**outer, "b": rve}, kind="finite_strain", intorder=1,
                       chunk_size=chunk_size)
        u = _nodal_shift(prob, node, shift)
        F = np.eye(2)[:, :, None, None] + prob.basis.interpolate(u).grad  # (2, 2, nel, nqp)
        b = prob.subdomain("b")
        if case == "inverted":
            bad = np.linalg.det(np.moveaxis(F[:, :, b], (0, 1), (-2, -1))) <= 0
        else:
            bad = np.any(np.abs(F[:, :, b] - np.eye(2)[:, :, None, None]) > 0, axis=(0, 1))
        e, q = np.argwhere(bad)[0]
        with pytest.raises(StepFailure) as info:
            prob._evaluate(u)
        msg = str(info.value)
        m = re.search(r"element (\d+), quadrature point (\d+), deformation_gradient \[([^\]]*)\]",
                      msg)
        assert m, msg
        assert (int(m.group(1)), int(m.group(2))) == (int(b[e]), int(q)), msg
        np.testing.assert_allclose(np.array(m.group(3).split(), dtype=float),
                                   F[:, :, b[e], q].ravel(), atol=1e-6)
        if case == "inverted":
            assert "micro solve failed" in msg and "non-positive J" in msg
            assert "macro point" not in msg  # the RVE's region-local numbering is replaced
        else:
            assert "did not converge" in msg


# ---------------------------------------------------------------- evaluation cache


def test_evaluation_cache_second_call_is_all_hits_and_identical(disk_cell):
    rve = RVE(disk_cell, j2_phases())
    cache = EvaluationCache(rve)
    rng = np.random.default_rng(1)
    e = 0.006 * rng.standard_normal((2, 2, 3, 2))
    e = 0.5 * (e + e.transpose(1, 0, 2, 3))
    st = rve.initial_state((3, 2))
    first = cache.evaluate(e, state=st)
    direct = rve.evaluate(e, state=st)
    n_fact = rve._micro().solver.stats.factorizations
    again = cache.evaluate(e.copy(), state={k: v.copy() for k, v in st.items()})
    assert cache.stats.last_hit_rate == 1.0 and again.info["cache_hit"].all()
    assert rve._micro().solver.stats.factorizations == n_fact  # the RVE was not asked
    np.testing.assert_array_equal(again.flux, first.flux)
    np.testing.assert_array_equal(again.tangent, first.tangent)
    for k in first.state:
        np.testing.assert_array_equal(again.state[k], first.state[k])
    np.testing.assert_array_equal(again.info["iterations"], first.info["iterations"])
    # and the first answer is the RVE's (to round-off: the micro LU reuse differs)
    np.testing.assert_allclose(first.flux, direct.flux, rtol=0, atol=1e-13)
    np.testing.assert_allclose(first.tangent, direct.tangent, rtol=0, atol=1e-11)
    # one ulp of input at one point, and one committed state field at another: two misses
    e2 = e.copy()
    e2[0, 0, 2, 1] = np.nextafter(e2[0, 0, 2, 1], 1.0)
    st2 = {k: v.copy() for k, v in st.items()}
    st2["alpha"][..., 0, 1] = 1e-3
    with ThreadPoolExecutor(2) as pool:
        third = cache.evaluate_batch(e2, state=st2, executor=pool, chunk_size=1)
    assert cache.stats.last_misses == 2
    assert set(map(tuple, np.argwhere(~third.info["cache_hit"]))) == {(2, 1), (0, 1)}
    ref = rve.evaluate(e2, state=st2)
    np.testing.assert_allclose(third.flux, ref.flux, rtol=0, atol=1e-14)
    for k in ref.state:
        np.testing.assert_allclose(third.state[k], ref.state[k], rtol=0, atol=1e-14)
    assert cache.stats.hits == 6 + 4 and cache.stats.misses == 6 + 2
    with pytest.raises(ValueError, match="rtol must be a number in"):
        EvaluationCache(rve, rtol=-1)


def test_problem_step_records_report_cache_hits(disk_cell):
    """A first step that fails after its first evaluation is retried from the same (zero)
    iterate and virgin state: that evaluation is answered from the cache, every point."""
    rve = RVE(disk_cell, j2_phases())
    cached = EvaluationCache(InjectFailure(rve, at=2, point=(0, 0), mode="error"))
    prob = pull(Problem(square(2), cached, intorder=1))
    sol = prob.solve(NewtonOptions(steps=2))
    npts = prob.mesh.nelements * prob.op.nqp
    first = sol.steps[0]
    assert first.cutbacks == 1
    assert first.cache_hits == npts
    assert first.cache_hits + first.cache_misses == first.points == first.evaluations * npts
    assert 0 < first.cache_hit_rate < 1
    assert sol.steps[1].cache_hits == 0
    assert prob.counters["cache_hits"] == cached.stats.hits == npts
    assert first.micro_iterations > 0
    assert first.to_dict()["cache_hit_rate"] == first.cache_hit_rate


# ---------------------------------------------------------------- elastic predictor


def test_elastic_predictor_yield_onset_of_homogeneous_cell():
    """Homogeneous J2 cell under plane-strain uniaxial strain: yield at eps_y = sigma_y / 2 mu;
    the predictor is accepted exactly below it and on elastic unloading, and the stresses are
    those of the material law."""
    mat = J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2)
    rve = RVE(cells.checkerboard(2), [mat, mat], predictor="elastic")
    eps_y = 0.004 / (2 * mat.mu)
    path = [0.5, 0.9, 1.5, 1.2, 0.5, 1.0, 1.8]
    want = [True, True, False, True, True, True, False]
    st_rve, st_mat = rve.initial_state((1,)), None
    for a, w in zip(path, want, strict=True):
        e = np.zeros((2, 2, 1))
        e[0, 0] = a * eps_y
        r = rve.evaluate(e, state=st_rve)
        m = mat.evaluate(e, state=st_mat)
        assert bool(r.info["predicted"][0]) is w, a
        np.testing.assert_allclose(r.flux, m.flux, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(r.tangent, m.tangent, rtol=1e-8, atol=1e-10)
        st_rve, st_mat = r.state, m.state
    with pytest.raises(ValueError, match="predictor='elastic' needs small-strain"):
        RVE(cells.checkerboard(2), [NeoHookean(1.0, 0.3, dim=2)] * 2, predictor="elastic")
    with pytest.raises(ValueError, match="predictor must be None or 'elastic'"):
        RVE(cells.checkerboard(2), [mat, mat], predictor="plastic")


def test_elastic_predictor_same_answer_with_fewer_micro_solves(disk_cell):
    """Load past yield and unload: with the predictor the macro answer is the same (to the
    micro and macro tolerances) and the micro solver does less work."""
    def run(predictor):
        rve = RVE(disk_cell, j2_phases(), predictor=predictor)
        prob = Problem(square(2), rve, intorder=1)
        prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
        # pulled more at the top (yield spreads from there), then partly unloaded
        prob.dirichlet("right", lambda x, t: 0.008 * min(2 * t, 1.6 - 1.2 * t) * x[1] ** 2,
                       components=(0,))
        sol = prob.solve(NewtonOptions(steps=6, rtol=1e-11), reactions=("right",))
        return prob, sol, rve

    p0, s0, r0 = run(None)
    p1, s1, r1 = run("elastic")
    assert [s.t for s in s0.steps] == [s.t for s in s1.steps]
    scale = np.abs(p0.u).max()
    np.testing.assert_allclose(p1.u, p0.u, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(s1.reactions["right"], s0.reactions["right"], rtol=0,
                               atol=1e-8 * np.abs(s0.reactions["right"]).max())
    a0, a1 = p0.regions[0].state.committed["alpha"], p1.regions[0].state.committed["alpha"]
    assert a0.max() > 0
    np.testing.assert_allclose(a1, a0, rtol=0, atol=1e-8 * a0.max())
    # both start every micro Newton from the elastic prediction; the predictor also accepts
    # it at points that stay elastic, without condensing the micro stiffness
    it0 = sum(s.micro_iterations for s in s0.steps)
    it1 = sum(s.micro_iterations for s in s1.steps)
    assert it1 <= it0, (it0, it1)
    st0, st1 = r0._micro().solver.stats, r1._micro().solver.stats
    solves0, solves1 = st0.factorizations + st0.krylov, st1.factorizations + st1.krylov
    assert solves1 < solves0, (solves0, solves1)
    assert p1.last_response.info["predicted"].any()
