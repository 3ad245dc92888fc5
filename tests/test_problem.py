"""Macro problems against closed forms: patch tests, reactions, layered bars,
body loads, load stepping with cut-back, commit/rollback, executors."""

import re
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import skfem

from fe2.macro import ConvergenceError, NewtonOptions, Problem
from fe2.materials import J2Plasticity, LinearConductivity, LinearElastic, NeoHookean
from fe2.oracle import OracleBase, OracleError, Response


def square(n=4, kind="tri"):
    cls = skfem.MeshTri if kind == "tri" else skfem.MeshQuad
    return cls.init_tensor(*[np.linspace(0, 1, n + 1)] * 2).with_defaults()


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("plane", ["stress", "strain"])
def test_uniaxial_traction_patch(order, plane):
    """Uniform traction s on x=1, rollers on x=0 and y=0: u_x = s x / E', reaction -s."""
    E, nu, s = 200.0, 0.3, 2.0
    prob = Problem(square(3), LinearElastic(E, nu, plane=plane), order=order)
    prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
    prob.neumann("right", [s, 0.0])
    prob.solve(reactions=("left",))
    Ep = E if plane == "stress" else E / (1 - nu**2)
    nup = nu if plane == "stress" else nu / (1 - nu)
    x = prob.basis.doflocs
    ux = prob.u[prob.basis.nodal_dofs[0]]
    uy = prob.u[prob.basis.nodal_dofs[1]]
    xn = prob.mesh.p
    np.testing.assert_allclose(ux, s * xn[0] / Ep, atol=1e-12)
    np.testing.assert_allclose(uy, -nup * s * xn[1] / Ep, atol=1e-12)
    np.testing.assert_allclose(prob.reaction("left"), [-s, 0.0], atol=1e-10)
    assert x.shape[0] == 2


def test_layered_bar_conduction_subdomains():
    """Two conductors in series along x: flux = dT / (L1/k1 + L2/k2), exactly for P1."""
    k1, k2 = 1.0, 7.0
    m = square(6, "quad").with_subdomains({"a": lambda x: x[0] < 0.5, "b": lambda x: x[0] > 0.5})
    prob = Problem(
        m, {"a": LinearConductivity(k1), "b": LinearConductivity(k2)}, kind="scalar", order=1
    )
    prob.dirichlet("left", 1.0).dirichlet("right", 0.0)
    sol = prob.solve(reactions=("left", "right"))
    q = 1.0 / (0.5 / k1 + 0.5 / k2)
    # reaction = int q.n over the boundary, q = k grad u, n outward
    np.testing.assert_allclose(sol.reactions["left"][-1], [q], rtol=1e-12)
    np.testing.assert_allclose(sol.reactions["right"][-1], [-q], rtol=1e-12)


def test_scalar_flux_neumann_and_source():
    """-div(k grad u) = f with u=0 on the left, flux g on the right: reaction balances."""
    prob = Problem(square(8), LinearConductivity(2.0), kind="scalar", order=2)
    prob.dirichlet("left", 0.0).neumann("right", 0.5).body_load(3.0)
    prob.solve()
    # global balance: reaction on left = -(int f + int g) = -(3 + 0.5)
    np.testing.assert_allclose(prob.reaction("left"), [-3.5], rtol=1e-10)
    # 1D solution: u = -f/(2k) x^2 + (g + f)/k x
    x = prob.mesh.p[0]
    np.testing.assert_allclose(prob.vertex_values(), -3 / 4 * x**2 + 3.5 / 2 * x, atol=1e-12)


def test_body_load_in_subdomain_reaction_is_weight():
    m = square(4).with_subdomains({"upper": lambda x: x[1] > 0.5})
    prob = Problem(m, LinearElastic(100.0, 0.25, plane="strain"), order=2)
    prob.dirichlet("bottom").body_load([0.0, -9.0], subdomain="upper")
    prob.solve()
    np.testing.assert_allclose(prob.reaction("bottom"), [0.0, 9.0 * 0.5], atol=1e-10)


def test_cutback_reaches_same_hyperelastic_state():
    """A large stretch in one step cuts back and ends where eight steps end."""
    def run(steps):
        prob = Problem(square(4), NeoHookean(10.0, 0.3, dim=2), kind="finite_strain", order=1)
        prob.dirichlet("left").dirichlet("right", [1.5, 0.5])
        sol = prob.solve(NewtonOptions(steps=steps, max_iter=4, rtol=1e-10))
        return prob, sol

    p1, s1 = run(1)
    p8, _ = run(8)
    assert sum(s.cutbacks for s in s1.steps) >= 1
    np.testing.assert_allclose(p1.u, p8.u, atol=1e-8)


class FailOnce:
    """Oracle wrapper raising OracleError at the n-th evaluation (simulated micro failure)."""

    def __init__(self, inner, fail_at):
        self.inner, self.fail_at, self.calls = inner, fail_at, 0
        self.measure, self.dim = inner.measure, inner.dim
        self.input_shape = inner.input_shape

    def initial_state(self, pts):
        return self.inner.initial_state(pts)

    def evaluate(self, g, x=None, state=None):
        self.calls += 1
        if self.calls == self.fail_at:
            raise OracleError("simulated micro failure")
        return self.inner.evaluate(g, x=x, state=state)


def _plastic_plate(oracle, steps=4):
    prob = Problem(square(4), oracle, order=1)
    prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
    prob.dirichlet("right", 0.01, components=(0,))
    sol = prob.solve(NewtonOptions(steps=steps), reactions=("right",))
    return prob, sol


def test_rollback_after_failed_step_leaves_no_trace():
    """A failed attempt (cut back) must not leak into the committed plastic history:
    the run equals a clean run through the same sequence of load factors."""
    j2 = J2Plasticity(E=100.0, nu=0.3, sigma_y=0.2, H_iso=5.0, H_kin=3.0, dim=2)
    failing = FailOnce(j2, fail_at=5)
    prob, sol = _plastic_plate(failing)
    assert sum(s.cutbacks for s in sol.steps) == 1
    assert np.max(prob.regions[0].state.committed["alpha"]) > 0  # it did yield

    ref = Problem(square(4), j2, order=1)
    ref.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
    ref.dirichlet("right", 0.01, components=(0,))
    for t in sol.load_factors:
        ref.solve(NewtonOptions(steps=1, max_cutbacks=0), t_end=t)
    R = ref.reaction("right")
    np.testing.assert_allclose(prob.reaction("right"), R, rtol=1e-12, atol=1e-14 * np.abs(R).max())
    for k, v in ref.regions[0].state.committed.items():
        np.testing.assert_allclose(prob.regions[0].state.committed[k], v, atol=1e-14)


def test_gives_up_with_clear_error():
    class AlwaysFail(FailOnce):
        def evaluate(self, g, x=None, state=None):
            if np.abs(g).max() > 0:
                raise OracleError("micro solve diverged")
            return self.inner.evaluate(g, x=x, state=state)

    prob = Problem(square(2), AlwaysFail(LinearElastic(1.0, 0.3, plane="strain"), 0), order=1)
    prob.dirichlet("left").dirichlet("right", [0.1, 0.0])
    with pytest.raises(ConvergenceError, match="cut-backs.*micro solve diverged"):
        prob.solve(NewtonOptions(max_cutbacks=2))
    assert prob.t == 0.0


def test_process_pool_equals_serial():
    j2 = J2Plasticity(E=100.0, nu=0.3, sigma_y=0.2, H_iso=5.0, dim=2)
    ref, sref = _plastic_plate(j2, steps=2)
    with ProcessPoolExecutor(2) as ex:
        prob = Problem(square(4), j2, order=1, executor=ex, chunk_size=7)
        prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
        prob.dirichlet("right", 0.01, components=(0,))
        sol = prob.solve(NewtonOptions(steps=2), reactions=("right",))
    np.testing.assert_array_equal(prob.u, ref.u)
    np.testing.assert_array_equal(sol.reactions["right"], sref.reactions["right"])


def test_clear_errors():
    m = square(2)
    with pytest.raises(ValueError, match="measure 'strain'.*needs 'deformation_gradient'"):
        Problem(m, LinearElastic(1.0, 0.3, plane="strain"), kind="finite_strain")
    prob = Problem(m, LinearElastic(1.0, 0.3, plane="strain"))
    with pytest.raises(KeyError, match="unknown boundary 'rigth'.*known: bottom, left, right, top"):
        prob.dirichlet("rigth")
    with pytest.raises(ValueError, match="is 3D but"):
        Problem(m, LinearElastic(1.0, 0.3))
    with pytest.raises(KeyError, match="unknown subdomain 'core'"):
        Problem(m, {"core": LinearElastic(1.0, 0.3, plane="strain")})


class _LosesStiffness(OracleBase):
    """Linear elastic until |eps| exceeds a threshold, then a stress drop with a zero
    tangent (a crude limit state: the macro stiffness matrix is singular there)."""

    measure, dim = "strain", 2

    def __init__(self, threshold):
        self.inner = LinearElastic(1.0, 0.3, plane="strain")
        self.threshold = threshold

    def evaluate(self, g, x=None, state=None):
        r = self.inner.evaluate(g)
        flux, tangent = np.array(r.flux, copy=True), np.array(r.tangent, copy=True)
        if np.abs(g).max() > self.threshold:
            flux *= 0.5
            tangent[...] = 0.0
        return Response(flux=flux, tangent=tangent, state=None, info={})


def test_singular_tangent_cuts_back_then_fails_cleanly():
    """A singular macro tangent is a failed step (cut back), never a SolverError crash."""
    mesh = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3)).with_defaults()
    prob = Problem(mesh, _LosesStiffness(threshold=0.015), kind="small_strain")
    prob.dirichlet("left", 0.0).dirichlet("right", [0.02, 0.0]).body_load([0.0, 0.01])
    with pytest.raises(ConvergenceError, match="linear solve failed"):
        prob.solve(NewtonOptions(steps=2, max_cutbacks=2))
    # the steps below the threshold converged and were kept
    assert 0.5 <= prob.t < 1.0


def test_line_search_removes_cutbacks_of_a_plastic_plate():
    """Large J2 increments make plain Newton oscillate (cut-backs); backtracking converges
    every step, to the same limit-load plateau (exact plane-strain value 0.75 * 2 sy / sqrt 3)."""
    from pathlib import Path

    from fe2.io import read_mesh

    mesh = read_mesh(Path(__file__).resolve().parents[1] / "meshes" / "plate_with_hole.msh")
    out = {}
    for ls in (0, 4):
        prob = Problem(mesh, J2Plasticity(200e3, 0.3, 250.0, H_iso=100.0, dim=2),
                       kind="small_strain", order=2)
        prob.dirichlet("left", 0.0, components=(0,)).dirichlet("bottom", 0.0, components=(1,))
        prob.dirichlet("right", 0.02, components=(0,))
        sol = prob.solve(NewtonOptions(steps=20, rtol=1e-8, line_search=ls), reactions=("right",))
        out[ls] = (len(sol.steps), sol.reactions["right"][-1, 0])
    assert out[0][0] > 20  # plain Newton needed cut-backs
    assert out[4][0] == 20  # every step converged at once
    limit = 0.75 * 2 * 250.0 / np.sqrt(3.0)
    for _, reaction in out.values():
        assert 1.0 <= reaction / limit <= 1.05
    assert out[4][1] == pytest.approx(out[0][1], rel=1e-4)
    with pytest.raises(ValueError, match="line_search"):
        NewtonOptions(line_search=-1)


# ---------------------------------------------------------------- stopping and bad input


class _BreaksAbove(OracleBase):
    """Linear elastic, but the 'micro solve' fails at one quadrature point once its strain
    exceeds ``threshold`` (a failure that persists: every larger load fails there too).

    ``mode="raise"`` raises OracleError located like an RVE's (``point``, ``macro_input``);
    ``mode="flag"`` answers with ``converged`` False there. A safety cap turns a run
    that would never end into a RuntimeError instead of a hang.
    """

    measure, dim = "strain", 2

    def __init__(self, threshold, point=(3, 0), mode="raise", cap=3000):
        self.inner = LinearElastic(1.0, 0.3, plane="strain")
        self.threshold, self.point, self.mode, self.cap = threshold, point, mode, cap
        self.calls = self.failures = 0

    def evaluate(self, g, x=None, state=None):
        self.calls += 1
        if self.calls > self.cap:
            raise RuntimeError(f"runaway load stepping: {self.calls} oracle calls")
        r = self.inner.evaluate(g)
        e, q = self.point
        bad = np.abs(g[..., e, q]).max() > self.threshold
        conv = np.ones(g.shape[-2:], dtype=bool)
        if bad:
            self.failures += 1
            if self.mode == "raise":
                err = OracleError(f"micro Newton diverged (macro point {(e, q)})")
                err.point, err.macro_input, err.reason = (e, q), g[..., e, q].copy(), "diverged"
                raise err
            conv[e, q] = False
        return Response(flux=r.flux, tangent=r.tangent, state=None, info={"converged": conv})


def _stretched(oracle):
    prob = Problem(square(2), oracle, order=1)
    prob.dirichlet("left").dirichlet("right", [0.1, 0.0])
    return prob


@pytest.mark.parametrize("mode", ["raise", "flag"])
def test_persistent_micro_failure_ends_run_at_minimum_increment(mode):
    """The strain at the failing point grows linearly with the load (linear problem), so
    no load factor beyond t* = threshold / strain(t=1) can converge. The run must stop
    (minimum increment dt0 * 2**-max_cutbacks) close below t*, naming the point."""
    oracle = _BreaksAbove(0.0437, mode=mode)
    prob = _stretched(oracle)
    with pytest.raises(ConvergenceError) as info:
        prob.solve(NewtonOptions(steps=10))
    msg = str(info.value)
    # independent t*: the linear solution at t = 1 gives the strain there
    ref = _stretched(LinearElastic(1.0, 0.3, plane="strain"))
    ref.solve()
    t_star = 0.0437 / np.abs(ref.op.measure(ref.u)[..., 3, 0]).max()
    assert t_star - 0.1 * 2.0**-8 - 1e-12 <= prob.t < t_star
    assert "element 3, quadrature point 0" in msg and "strain [" in msg
    assert "minimum increment" in msg
    assert "\n" not in msg
    # ended within the budget: far fewer than max_total_cutbacks failed attempts
    assert oracle.failures <= NewtonOptions().max_total_cutbacks


def test_total_cutback_budget_ends_run():
    oracle = _BreaksAbove(0.0437)
    prob = _stretched(oracle)
    with pytest.raises(ConvergenceError, match=r"7 cut-backs in total \(max_total_cutbacks 6\)"
                       r".*element 3, quadrature point 0"):
        prob.solve(NewtonOptions(steps=10, min_increment=1e-14, max_total_cutbacks=6))
    assert oracle.failures == 7  # each failed attempt is one failing evaluation


def test_cutbacks_that_succeed_do_not_end_run():
    """A step that converges after cut-backs is not a failure: the budget counts failed
    attempts, and a run with a few of them reaches t = 1 (same answer as linear)."""
    oracle = _BreaksAbove(1.0)  # never fails
    prob = _stretched(oracle)
    sol = prob.solve(NewtonOptions(steps=1, max_total_cutbacks=0))
    assert prob.t == 1.0 and len(sol.steps) == 1


@pytest.mark.parametrize("field, value, expect", [
    ("grow", 0, ">= 1"), ("grow", -1.5, ">= 1"), ("grow", 0.5, ">= 1"),
    ("grow", float("inf"), "finite"), ("grow", float("nan"), "finite"),
    ("grow", True, "number"), ("grow", "1.5", "number"),
    ("steps", 0, ">= 1"), ("steps", 2.5, "integer"), ("steps", True, "integer"),
    ("steps", "4", "integer"),
    ("rtol", -1e-9, ">= 0"), ("rtol", float("nan"), "finite"), ("atol", float("inf"), "finite"),
    ("rtol", "1e-9", "number"), ("atol", False, "number"),
    ("max_iter", 0, ">= 1"), ("max_iter", 10.0, "integer"),
    ("max_cutbacks", -1, ">= 0"), ("max_cutbacks", 2.0, "integer"),
    ("line_search", -1, ">= 0"), ("line_search", 1.5, "integer"),
    ("min_increment", 0.0, "> 0"), ("min_increment", -1e-3, "> 0"),
    ("min_increment", float("nan"), "finite"),
    ("max_total_cutbacks", -1, ">= 0"), ("max_total_cutbacks", 3.0, "integer"),
])
def test_newton_options_validated(field, value, expect):
    with pytest.raises(ValueError, match=rf"NewtonOptions\.{field}.*{re.escape(expect)}") as info:
        NewtonOptions(**{field: value})
    assert repr(value) in str(info.value)


def test_newton_options_tolerances_not_both_zero():
    with pytest.raises(ValueError, match="rtol and atol.*both 0"):
        NewtonOptions(rtol=0.0, atol=0)
    NewtonOptions(rtol=0.0, atol=1e-10)  # fine
    NewtonOptions(grow=1, steps=np.int64(3), rtol=1)  # ints for floats, numpy ints fine


def test_loads_and_components_validated():
    prob = Problem(square(2), LinearElastic(1.0, 0.3, plane="strain"))
    with pytest.raises(ValueError, match=r"Dirichlet value on 'right' must be finite, got nan"):
        prob.dirichlet("right", float("nan"))
    with pytest.raises(ValueError, match=r"Dirichlet value on 'right'.*inf"):
        prob.dirichlet("right", [0.0, np.inf])
    with pytest.raises(ValueError, match=r"Neumann value on 'top'.*inf"):
        prob.neumann("top", [0.0, -np.inf])
    with pytest.raises(ValueError, match=r"body load.*nan"):
        prob.body_load([np.nan, 0.0])
    with pytest.raises(ValueError, match=r"body load on subdomain 'upper'"):
        m = square(2).with_subdomains({"upper": lambda x: x[1] > 0.5})
        Problem(m, LinearElastic(1.0, 0.3, plane="strain")).body_load("x", subdomain="upper")
    with pytest.raises(ValueError,
                       match=r"components on 'left' must be distinct integers 0..1.*got \('x',\)"):
        prob.dirichlet("left", 0.0, components=("x",))
    with pytest.raises(ValueError,
                       match=r"components on 'left' must be distinct integers 0..1.*got \(2,\)"):
        prob.dirichlet("left", 0.0, components=(2,))
    with pytest.raises(ValueError, match=r"components on 'left'.*True"):
        prob.dirichlet("left", 0.0, components=(True,))
    with pytest.raises(ValueError, match=r"components on 'left'.*repeat"):
        prob.dirichlet("left", 0.0, components=(0, 0))
    with pytest.raises(ValueError, match=r"Dirichlet value on 'left'.*3 values.*2 components"):
        prob.dirichlet("left", [0.0, 0.0, 1.0])
    assert prob.loads == []  # nothing half-added
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        Problem(square(2), LinearElastic(1.0, 0.3, plane="strain"), order=3)
    with pytest.raises(ValueError, match="intorder must be an integer >= 1"):
        Problem(square(2), LinearElastic(1.0, 0.3, plane="strain"), intorder=0)
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        Problem(square(2), LinearElastic(1.0, 0.3, plane="strain"), chunk_size=0)


def test_callable_load_and_t_end_checked():
    """A callable load that returns NaN is bad input naming the load, not a non-convergence."""
    prob = Problem(square(2), LinearConductivity(1.0), kind="scalar")
    with pytest.raises(ValueError, match=r"components on 'left' must be 0"):
        prob.dirichlet("left", 0.0, components=(1,))
    prob.dirichlet("left", 0.0).neumann("right", lambda x, t: np.where(x[1] > 0.5, np.nan, t))
    with pytest.raises(ValueError, match=r"neumann load on right: value\(x, t=1\) is not finite"):
        prob.solve()
    with pytest.raises(ValueError, match="t_end must be a finite number"):
        prob.solve(t_end=float("nan"))
    with pytest.raises(ValueError, match="newton must be a NewtonOptions"):
        prob.solve({"steps": 2})
