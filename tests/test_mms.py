"""Method of manufactured solutions: observed L2 / H1 rates of the macro problems.

For P1 the L2 error decays like h^2 and the H1 error like h; for P2 one order
more. The exact fields, meshes and the driver live in verification/mms.py (shared
with the ``mms_*`` verification studies); the body load is f = -div q(grad u*)
for the chosen u*, in closed form from sympy and a law written independently of
fe2.materials (so a wrong law loses convergence), and the Dirichlet data is u*.
"""


import numpy as np
import pytest

from fe2.materials import (
    LinearConductivity,
    LinearElastic,
    NeoHookean,
    NonlinearConductivity,
)
from fe2.verify import manufactured_source, newton_orders  # noqa: E402
from verification.mms import (  # noqa: E402
    MESHES,
    closed_form_source,
    fourier,
    hooke,
    mesh_dim,
    neo_hookean,
    power_law,
    run_mms,
    scalar_exact,
    scalar_grad,
    vector_exact,
    vector_grad,
)

# 3D P2 hexahedral elasticity takes about a minute: run by `make test-all` / `fe2 verify`
ELASTIC_KEYS = [
    pytest.param(k, marks=pytest.mark.slow) if k == ("hex", 2) else k for k in MESHES
]


@pytest.mark.parametrize("mesh_key", list(MESHES))
def test_poisson_rates(mesh_key):
    oracle = LinearConductivity(1.0, dim=mesh_dim(mesh_key))
    p = mesh_key[1]
    r = run_mms("scalar", oracle, mesh_key, scalar_exact, scalar_grad,
                source=closed_form_source(fourier(1.0), mesh_dim(mesh_key)))
    assert abs(r.rate_l2 - (p + 1)) < 0.1, (r.rate_l2, r.rate_h1)
    assert abs(r.rate_h1 - p) < 0.1, (r.rate_l2, r.rate_h1)


@pytest.mark.parametrize("mesh_key", ELASTIC_KEYS)
def test_elasticity_rates(mesh_key):
    d = mesh_dim(mesh_key)
    oracle = LinearElastic(E=10.0, nu=0.3, plane="strain" if d == 2 else None)
    p = mesh_key[1]
    r = run_mms("small_strain", oracle, mesh_key, vector_exact, vector_grad,
                source=closed_form_source(hooke(10.0, 0.3), d))
    assert abs(r.rate_l2 - (p + 1)) < 0.1, (r.rate_l2, r.rate_h1)
    assert abs(r.rate_h1 - p) < 0.1, (r.rate_l2, r.rate_h1)


@pytest.mark.parametrize("mesh_key", [("tri", 1), ("tri", 2), ("quad", 1), ("quad", 2)])
def test_neo_hookean_rates_and_quadratic_newton(mesh_key):
    oracle = NeoHookean(E=10.0, nu=0.3, dim=2)
    p = mesh_key[1]

    def exact(x):
        return vector_exact(x, a=0.3)

    def grad(x):
        return vector_grad(x, a=0.3)

    r = run_mms("finite_strain", oracle, mesh_key, exact, grad, steps=2,
                source=closed_form_source(neo_hookean(10.0, 0.3), 2, 0.3))
    assert abs(r.rate_l2 - (p + 1)) < 0.1, (r.rate_l2, r.rate_h1)
    assert abs(r.rate_h1 - p) < 0.1, (r.rate_l2, r.rate_h1)
    # quadratic convergence: once in the asymptotic range, e_{k+1} <= C e_k^2
    res = r.steps[-1][-1].residuals[1:]  # after the load predictor
    assert len(res) <= 8
    orders = newton_orders(res)
    assert orders.size >= 1
    assert orders[-1] > 1.7, (res, orders)


def test_nonlinear_conductivity_rates():
    oracle = NonlinearConductivity(k0=1.0, p=3.0, dim=2, reg=0.5)
    r = run_mms("scalar", oracle, ("tri", 2), scalar_exact, scalar_grad,
                source=closed_form_source(power_law(1.0, 3.0, 0.5), 2))
    assert abs(r.rate_l2 - 3) < 0.1 and abs(r.rate_h1 - 2) < 0.1, (r.rate_l2, r.rate_h1)


@pytest.mark.parametrize("d", [2, 3])
def test_oracle_flux_matches_the_independent_law(d):
    """Each oracle's flux, differenced in space, equals the closed-form source of the law
    written with sympy (to the O(h^2) of the differences): the constitutive law is tested."""
    x = 0.1 + 0.8 * np.random.default_rng(d).random((d, 4, 3))
    cases = [
        (fourier(2.0), LinearConductivity(2.0, dim=d), scalar_grad, None),
        (power_law(1.5, 3.0, 0.5), NonlinearConductivity(1.5, 3.0, dim=d, reg=0.5),
         scalar_grad, None),
        (hooke(10.0, 0.3), LinearElastic(10.0, 0.3, plane="strain" if d == 2 else None),
         vector_grad, None),
        (neo_hookean(10.0, 0.3), NeoHookean(10.0, 0.3, dim=d),
         lambda x: vector_grad(x, a=0.3), 0.3),
    ]
    for law, oracle, grad, a in cases:
        f = closed_form_source(law, d, a)(x)
        fd = manufactured_source(oracle, grad, x)
        assert np.abs(f - fd).max() < 1e-6 * np.abs(f).max(), law.name


def test_wrong_law_loses_convergence():
    """A closed-form source detects an oracle that is not the stated law (here nu = 0.25 for
    0.3); the differenced source cannot (it converges for any law, which the second half of
    the test shows)."""
    wrong = LinearElastic(E=10.0, nu=0.25, plane="strain")
    r = run_mms("small_strain", wrong, ("tri", 2), vector_exact, vector_grad,
                source=closed_form_source(hooke(10.0, 0.3), 2))
    assert r.rate_l2 < 0.5 and r.l2[-1] > 1e-4, (r.rate_l2, r.l2)
    blind = run_mms("small_strain", wrong, ("tri", 2), vector_exact, vector_grad)
    assert abs(blind.rate_l2 - 3) < 0.1
