"""Method of manufactured solutions: observed L2 / H1 rates of the macro problems.

For P1 the L2 error decays like h^2 and the H1 error like h; for P2 one order
more. The exact fields, meshes and the driver live in verification/mms.py (shared
with the ``mms_*`` verification studies); the body load is f = -div q(grad u*)
for the chosen u* and the Dirichlet data is u*.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fe2.materials import (  # noqa: E402
    LinearConductivity,
    LinearElastic,
    NeoHookean,
    NonlinearConductivity,
)
from fe2.verify import newton_orders  # noqa: E402
from verification.mms import (  # noqa: E402
    MESHES,
    mesh_dim,
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
    r = run_mms("scalar", oracle, mesh_key, scalar_exact, scalar_grad)
    assert abs(r.rate_l2 - (p + 1)) < 0.1, (r.rate_l2, r.rate_h1)
    assert abs(r.rate_h1 - p) < 0.1, (r.rate_l2, r.rate_h1)


@pytest.mark.parametrize("mesh_key", ELASTIC_KEYS)
def test_elasticity_rates(mesh_key):
    d = mesh_dim(mesh_key)
    oracle = LinearElastic(E=10.0, nu=0.3, plane="strain" if d == 2 else None)
    p = mesh_key[1]
    r = run_mms("small_strain", oracle, mesh_key, vector_exact, vector_grad)
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

    r = run_mms("finite_strain", oracle, mesh_key, exact, grad, steps=2)
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
    r = run_mms("scalar", oracle, ("tri", 2), scalar_exact, scalar_grad)
    assert abs(r.rate_l2 - 3) < 0.1 and abs(r.rate_h1 - 2) < 0.1, (r.rate_l2, r.rate_h1)
