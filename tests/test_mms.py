"""Method of manufactured solutions: observed L2 / H1 rates of the macro problems.

For P1 the L2 error decays like h^2 and the H1 error like h; for P2 one order
more. The body load is f = -div q(grad u*) for the chosen u* (computed from the
oracle itself, see fe2.verify.manufactured_source), and Dirichlet data is u*.
"""

import numpy as np
import pytest
import skfem

from fe2.macro import NewtonOptions, Problem
from fe2.materials import LinearConductivity, LinearElastic, NeoHookean, NonlinearConductivity
from fe2.verify import field_errors, manufactured_source, observed_rate

PI = np.pi


def scalar_exact(x):
    return np.sin(PI * x[0]) * np.cos(0.5 * PI * x[1]) + 0.3 * x[0] * x[1]


def scalar_grad(x):
    gx = PI * np.cos(PI * x[0]) * np.cos(0.5 * PI * x[1]) + 0.3 * x[1]
    gy = -0.5 * PI * np.sin(PI * x[0]) * np.sin(0.5 * PI * x[1]) + 0.3 * x[0]
    out = [gx, gy]
    if x.shape[0] == 3:
        out = [g * (1 + 0 * x[2]) for g in out] + [0 * x[2]]
    return np.array(out)


def vector_exact(x, a=0.05):
    d = x.shape[0]
    u = [a * np.sin(PI * x[1]) * x[0], a * np.cos(0.5 * PI * x[0]) * x[1] ** 2]
    if d == 3:
        u = [ui + a * 0.3 * x[2] ** 2 for ui in u] + [a * np.sin(PI * x[0]) * x[2]]
    return np.array(u)


def vector_grad(x, a=0.05):
    d = x.shape[0]
    z = 0 * x[0]
    g = np.zeros((d, d) + x.shape[1:])
    g[0, 0] = a * np.sin(PI * x[1])
    g[0, 1] = a * PI * np.cos(PI * x[1]) * x[0]
    g[1, 0] = -a * 0.5 * PI * np.sin(0.5 * PI * x[0]) * x[1] ** 2
    g[1, 1] = a * 2 * np.cos(0.5 * PI * x[0]) * x[1]
    if d == 3:
        g[0, 2] = a * 0.6 * x[2]
        g[1, 2] = a * 0.6 * x[2]
        g[2, 0] = a * PI * np.cos(PI * x[0]) * x[2]
        g[2, 2] = a * np.sin(PI * x[0]) + z
    return g


def _grid(n, d):
    return [np.linspace(0, 1, n + 1)] * d


MESHES = {
    ("tri", 1): (lambda n: skfem.MeshTri.init_tensor(*_grid(n, 2)), [8, 16, 32]),
    ("tri", 2): (lambda n: skfem.MeshTri.init_tensor(*_grid(n, 2)), [4, 8, 16]),
    ("quad", 1): (lambda n: skfem.MeshQuad.init_tensor(*_grid(n, 2)), [8, 16, 32]),
    ("quad", 2): (lambda n: skfem.MeshQuad.init_tensor(*_grid(n, 2)), [4, 8, 16]),
    ("tet", 1): (lambda n: skfem.MeshTet.init_tensor(*_grid(n, 3)), [3, 6, 12]),
    ("tet", 2): (lambda n: skfem.MeshTet.init_tensor(*_grid(n, 3)), [2, 4, 8]),
    ("hex", 1): (lambda n: skfem.MeshHex.init_tensor(*_grid(n, 3)), [3, 6, 12]),
    ("hex", 2): (lambda n: skfem.MeshHex.init_tensor(*_grid(n, 3)), [2, 4, 8]),
}


def run_mms(kind, oracle, mesh_key, exact, grad, steps=1):
    make, ns = MESHES[mesh_key]
    order = mesh_key[1]
    hs, e0, e1, iters = [], [], [], []
    for n in ns:
        mesh = make(n).with_boundaries({"all": lambda x: np.ones(x.shape[1], dtype=bool)})
        prob = Problem(mesh, oracle, kind=kind, order=order)
        prob.body_load(lambda x, t: t * manufactured_source(oracle, grad, x))
        prob.dirichlet("all", lambda x, t: t * exact(x).reshape(-1, x.shape[1]))
        sol = prob.solve(NewtonOptions(rtol=1e-11, atol=1e-13, steps=steps))
        l2, h1 = field_errors(prob.basis, sol.u, exact, grad)
        hs.append(1.0 / n)
        e0.append(l2)
        e1.append(h1)
        iters.append(sol.steps)
    return observed_rate(hs, e0), observed_rate(hs, e1), iters


@pytest.mark.parametrize("mesh_key", list(MESHES))
def test_poisson_rates(mesh_key):
    d = 2 if mesh_key[0] in ("tri", "quad") else 3
    oracle = LinearConductivity(1.0, dim=d)
    p = mesh_key[1]
    r0, r1, _ = run_mms("scalar", oracle, mesh_key, scalar_exact, scalar_grad)
    assert abs(r0 - (p + 1)) < 0.1, (r0, r1)
    assert abs(r1 - p) < 0.1, (r0, r1)


@pytest.mark.parametrize("mesh_key", list(MESHES))
def test_elasticity_rates(mesh_key):
    d = 2 if mesh_key[0] in ("tri", "quad") else 3
    oracle = LinearElastic(E=10.0, nu=0.3, plane="strain" if d == 2 else None)
    p = mesh_key[1]
    r0, r1, _ = run_mms("small_strain", oracle, mesh_key, vector_exact, vector_grad)
    assert abs(r0 - (p + 1)) < 0.1, (r0, r1)
    assert abs(r1 - p) < 0.1, (r0, r1)


@pytest.mark.parametrize("mesh_key", [("tri", 1), ("tri", 2), ("quad", 1), ("quad", 2)])
def test_neo_hookean_rates_and_quadratic_newton(mesh_key):
    oracle = NeoHookean(E=10.0, nu=0.3, dim=2)
    p = mesh_key[1]

    def exact(x):
        return vector_exact(x, a=0.3)

    def grad(x):
        return vector_grad(x, a=0.3)

    r0, r1, steps = run_mms("finite_strain", oracle, mesh_key, exact, grad, steps=2)
    assert abs(r0 - (p + 1)) < 0.1, (r0, r1)
    assert abs(r1 - p) < 0.1, (r0, r1)
    # quadratic convergence: once in the asymptotic range, e_{k+1} <= C e_k^2
    res = np.array(steps[-1][-1].residuals[1:])  # after the load predictor
    assert len(res) <= 8
    tail = res[res > 1e-10 * res[0]]
    k = len(tail) - 2
    assert k >= 1
    rates = np.log(tail[2:] / tail[1:-1]) / np.log(tail[1:-1] / tail[:-2])
    assert rates[-1] > 1.7, (res, rates)


def test_nonlinear_conductivity_rates():
    oracle = NonlinearConductivity(k0=1.0, p=3.0, dim=2, reg=0.5)
    r0, r1, steps = run_mms("scalar", oracle, ("tri", 2), scalar_exact, scalar_grad)
    assert abs(r0 - 3) < 0.1 and abs(r1 - 2) < 0.1, (r0, r1)
