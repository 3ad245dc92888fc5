"""RVE content fingerprints: what determines the answer, never a function's name alone.

Two RVEs whose phases hold callables with different parameters (closures from one
factory, lambdas with different defaults, solver factories) must not share one
object in a macro Problem; identical ones still share. The macro check compares with
the closed form: a laminate with layers normal to y_2 conducts along x_1 with the
arithmetic mean of its layers, and two such subdomains in series (x < 1/2 and
x > 1/2, u = 0 and u = 1 at the ends) have u(1/2) = K_b / (K_a + K_b).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import skfem

from fe2.homogenization import RVE, cells
from fe2.linalg import FactorKrylov
from fe2.macro import NewtonOptions, Problem
from fe2.materials import LinearConductivity
from fe2.oracle import OracleBase, Response


class FunctionConductivity(OracleBase):
    """Conduction ``q = k(g) g`` with a user function ``k(g) -> (*pts)`` (constant here)."""

    measure = "gradient"
    dim = 2

    def __init__(self, k):
        self.k = k

    def evaluate(self, g, x=None, state=None):
        pts = self.check_input(g)
        k = np.asarray(self.k(g), dtype=float)
        tangent = np.einsum("ij,...->ij...", np.eye(2), k * np.ones(pts))
        return Response(flux=k * g, tangent=tangent)


def closure(value):
    return lambda g: np.full(g.shape[1:], value)


def rve_with(k) -> RVE:
    return RVE(cells.laminate([0.5, 0.5], normal=1, resolution=2),
               [LinearConductivity(1.0), FunctionConductivity(k)])


def test_closures_with_different_values_differ():
    assert rve_with(closure(3.0)).fingerprint() != rve_with(closure(5.0)).fingerprint()
    assert rve_with(closure(3.0)).fingerprint() == rve_with(closure(3.0)).fingerprint()


def test_lambdas_with_different_defaults_or_code_differ():
    a = rve_with(lambda g, v=3.0: np.full(g.shape[1:], v))
    b = rve_with(lambda g, v=5.0: np.full(g.shape[1:], v))
    c = rve_with(lambda g: np.full(g.shape[1:], 3.0))
    d = rve_with(lambda g: np.full(g.shape[1:], 5.0))
    assert len({a.fingerprint(), b.fingerprint(), c.fingerprint(), d.fingerprint()}) == 4


def test_solver_factories_with_different_parameters_differ():
    cell = cells.laminate([0.5, 0.5], resolution=2)
    phases = [LinearConductivity(1.0), LinearConductivity(3.0)]

    def factory(n):
        return lambda: FactorKrylov(max_krylov=n)

    assert (RVE(cell, phases, solver=factory(0)).fingerprint()
            != RVE(cell, phases, solver=factory(20)).fingerprint())
    assert (RVE(cell, phases, solver=factory(0)).fingerprint()
            == RVE(cell, phases, solver=factory(0)).fingerprint())


def test_content_that_cannot_be_hashed_refuses_sharing():
    """A phase holding an object with no inspectable content: only the same object shares."""
    lock_a, lock_b = threading.Lock(), threading.Lock()
    one = FunctionConductivity(closure(3.0))
    one.guard = lock_a
    two = FunctionConductivity(closure(3.0))
    two.guard = lock_b
    cell = cells.laminate([0.5, 0.5], resolution=2)
    fa = RVE(cell, [LinearConductivity(1.0), one]).fingerprint()
    assert fa != RVE(cell, [LinearConductivity(1.0), two]).fingerprint()
    assert fa == RVE(cell, [LinearConductivity(1.0), one]).fingerprint()


def _series_problem(rve_a: RVE, rve_b: RVE) -> Problem:
    mesh = skfem.MeshQuad.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 1, 2))
    mesh = mesh.with_defaults().with_subdomains({"a": lambda x: x[0] < 0.5,
                                                 "b": lambda x: x[0] > 0.5})
    prob = Problem(mesh, {"a": rve_a, "b": rve_b}, kind="scalar", order=1)
    prob.dirichlet("left", 0.0).dirichlet("right", 1.0)
    prob.solve(NewtonOptions(rtol=1e-10))
    return prob


@pytest.mark.parametrize("values", [(3.0, 5.0), (3.0, 3.0)])
def test_problem_shares_only_identical_rves(values):
    ka, kb = values
    prob = _series_problem(rve_with(closure(ka)), rve_with(closure(kb)))
    shared = prob.regions[0].oracle is prob.regions[1].oracle
    assert shared == (ka == kb)
    Ka, Kb = (1.0 + ka) / 2, (1.0 + kb) / 2  # arithmetic means along the layers
    mid = np.flatnonzero(np.isclose(prob.mesh.p[0], 0.5))
    np.testing.assert_allclose(prob.u[prob.basis.nodal_dofs[0, mid]], Kb / (Ka + Kb),
                               rtol=1e-8)
