"""Tests of the FE-HMM sampler against closed forms, an independent cell solver and rates.

References (never the code's own earlier output):

- smooth laminate a(y) = 1.5 + sin(2 pi y_1): A0 = diag(harmonic, arithmetic mean)
  = diag(sqrt(1.25), 1.5);
- a(y) = exp(beta sin 2 pi y_1 sin 2 pi y_2): 1/a is a shift of a and a is symmetric under
  y_1 <-> y_2, so Keller's duality gives A0 = I exactly (also for c(x) a(y): A0 = c(x) I);
- the non-symmetric laminate of verification/fe_hmm.py (a11 = 1.5 + sin 2 pi y_1, a22 = 2,
  a12 = -a21 = 0.3 + 0.4 cos 2 pi y_1): A0 from the layered closed form by quadrature;
- voxel cells: fe2.homogenization.RVE (its own mesh, constraint and condensation code) with
  periodic / KUBC / TUBC <-> periodic / Dirichlet / Neumann coupling;
- the ordering Dirichlet >= periodic >= Neumann (nested micro spaces);
- macro FE rates with a manufactured homogenized solution (P1: 2 / 1, P2: 3 / 2);
- resonance error of Dirichlet coupling ~ eps / delta (slope 1);
- DNS on a mesh resolving eps: its L2 distance to u0 decays like eps.
"""

from __future__ import annotations

import numpy as np
import pytest
import skfem

from fe2.homogenization import RVE, HMMSampler, cells
from fe2.homogenization.hmm import (
    FineScaleOracle,
    dns_solve,
    isotropic_elasticity,
    laminate_tensor,
    locally_periodic,
    random_checkerboard,
    voxel_coefficient,
)
from fe2.macro import NewtonOptions, Problem
from fe2.materials import LinearConductivity, LinearElastic
from fe2.oracle import OracleError
from fe2.verify import check_tangent, field_errors, observed_rate
from verification.fe_hmm import (  # the study's coefficients and closed forms
    g0,
    keller,
    nonsymmetric_A0,
    nonsymmetric_laminate,
    source,
    u0,
)

PI = np.pi
A_LAM = np.diag([np.sqrt(1.25), 1.5])


def smooth_laminate(x, y):
    return 1.5 + np.sin(2 * PI * y[0])


def unit_square(n, kind="tri"):
    cls = skfem.MeshTri if kind == "tri" else skfem.MeshQuad
    return cls.init_tensor(*[np.linspace(0, 1, n + 1)] * 2).with_boundaries(
        {"all": lambda x: np.ones(x.shape[1], dtype=bool)})


XS = np.array([[0.31, 0.77, 0.05], [0.47, 0.12, 0.93]])


# ---------------------------------------------------------------- A_H vs references


@pytest.mark.parametrize("measure", ["gradient", "strain"])
@pytest.mark.parametrize("coupling,bc", [("periodic", "periodic"), ("dirichlet", "kubc"),
                                         ("neumann", "tubc")])
def test_matches_independent_rve_solver(coupling, bc, measure):
    """A box aligned with a voxel checkerboard is the RVE cell: same tensor to round-off."""
    cell = cells.checkerboard(4)
    if measure == "gradient":
        phases = [LinearConductivity(1.0), LinearConductivity(10.0)]
        values = [1.0, 10.0]
    else:
        phases = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
        values = [isotropic_elasticity(p.lam, p.mu) for p in phases]
    ref = RVE(cell, phases, bc=bc).effective_tensor()
    eps = 0.1
    a = voxel_coefficient(cell.image, values, size=eps)
    hmm = HMMSampler(a, eps=eps, delta=eps, coupling=coupling, micro_h=eps / 8, measure=measure)
    x = np.array([[0.35, 0.75], [0.25, 0.45]])  # box corners on the period lattice
    A = hmm.effective_tensor(x)
    for p in range(2):
        np.testing.assert_allclose(A[..., p], ref, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("order,rate,ks", [(1, 2.0, (4, 8, 16)), (2, 4.0, (8, 16, 32))])
def test_periodic_smooth_laminate_micro_rate(order, rate, ks):
    """Periodic coupling, delta = eps: A_H -> harmonic/arithmetic means at the micro FE rate.

    The energy (hence A_H) converges at twice the H1 rate: h^2 for P1, h^4 for P2.
    """
    eps = 0.01
    hs, errs = [], []
    for k in ks:
        hmm = HMMSampler(smooth_laminate, eps=eps, delta=eps, micro_h=eps / k, order=order)
        A = hmm.effective_tensor(XS[:, :2])
        errs.append(np.abs(A - A_LAM[..., None]).max())
        hs.append(1.0 / k)
    assert errs[-1] < (1e-2 if order == 1 else 1e-4)
    assert observed_rate(hs, errs) == pytest.approx(rate, abs=0.4)


@pytest.mark.parametrize("mesh", ["quad", "tri"])
def test_periodic_keller_isotropic(mesh):
    """A genuinely 2D smooth cell with the exact answer A0 = I (Keller duality)."""
    for delta in (1.0, 2.0):
        hmm = HMMSampler(keller, eps=0.02, delta=0.02 * delta, micro_h=0.02 / 8, order=2,
                         mesh=mesh)
        A = hmm.effective_tensor(XS)
        np.testing.assert_allclose(A, np.broadcast_to(np.eye(2)[..., None], A.shape), atol=1e-3)


def test_three_dimensional_laminate():
    a = lambda x, y: 1.5 + np.sin(2 * PI * y[0])  # noqa: E731
    hmm = HMMSampler(a, eps=0.1, delta=0.1, micro_h=0.1 / 8, order=2, dim=3)
    A = hmm.effective_tensor(np.array([[0.3], [0.2], [0.7]]))[..., 0]
    np.testing.assert_allclose(A, np.diag([np.sqrt(1.25), 1.5, 1.5]), atol=1e-3)


@pytest.mark.parametrize("coupling", ["periodic", "dirichlet", "neumann"])
def test_homogeneous_elasticity_exact(coupling):
    """A constant stiffness is reproduced by every coupling; the tangent has C's symmetries."""
    C = isotropic_elasticity(1.2, 0.7)
    hmm = HMMSampler(lambda x: np.broadcast_to(C.reshape(C.shape + (1,) * (x.ndim - 1)),
                                               C.shape + x.shape[1:]),
                     eps=0.1, delta=0.3, coupling=coupling, micro_h=0.1, measure="strain")
    A = hmm.effective_tensor(XS)
    np.testing.assert_allclose(A, np.broadcast_to(C[..., None], A.shape), atol=1e-12)


def test_ordering_of_couplings_random_field():
    """Nested micro spaces: A_dirichlet >= A_periodic >= A_neumann as quadratic forms."""
    eps = 0.05
    a = random_checkerboard(eps, values=[1.0, 8.0], seed=3)
    tens = {c: HMMSampler(a, eps=eps, delta=4 * eps, coupling=c, micro_h=eps / 4)
            .effective_tensor(XS) for c in ("dirichlet", "periodic", "neumann")}
    for p in range(XS.shape[1]):
        gap1 = np.linalg.eigvalsh(tens["dirichlet"][..., p] - tens["periodic"][..., p])
        gap2 = np.linalg.eigvalsh(tens["periodic"][..., p] - tens["neumann"][..., p])
        assert gap1.min() > -1e-10 and gap2.min() > -1e-10
        assert gap1.max() > 1e-3 and gap2.max() > 1e-3  # a random field is no laminate
        # Voigt / Reuss bounds of the box
        for A in (t[..., p] for t in tens.values()):
            ev = np.linalg.eigvalsh(A)
            assert 1.0 < ev.min() and ev.max() < 8.0


def test_random_checkerboard_field():
    a = random_checkerboard(0.1, values=[1.0, 5.0], probabilities=[0.3, 0.7], seed=7)
    x = np.random.default_rng(0).uniform(-50, 50, size=(2, 40000))
    v = a(x)
    assert set(np.unique(v)) == {1.0, 5.0}
    assert np.mean(v == 5.0) == pytest.approx(0.7, abs=0.02)
    np.testing.assert_array_equal(v, a(x))  # deterministic
    # constant on each eps-square
    np.testing.assert_array_equal(a(np.floor(x / 0.1) * 0.1 + 0.05), v)
    assert np.mean(random_checkerboard(0.1, [1.0, 5.0], seed=8)(x) != v) > 0.3
    t = random_checkerboard(0.1, [np.eye(2), 2 * np.eye(2)], seed=1)(x[:, :5].reshape(2, 5, 1))
    assert t.shape == (2, 2, 5, 1)


def test_voxel_coefficient_tiles_and_checks():
    img = np.array([[0, 1], [1, 1]])
    a = voxel_coefficient(img, [2.0, 3.0], size=0.2, origin=0.1)
    x = np.array([[0.15, 0.25, 0.35, 0.15 - 0.2], [0.15, 0.15, 0.15, 0.15]])
    np.testing.assert_array_equal(a(x), [2.0, 3.0, 2.0, 2.0])
    b = voxel_coefficient(np.array([[1.0, 2.0], [3.0, 4.0]]), periodic=False)
    np.testing.assert_array_equal(b(np.array([[0.25, 0.75], [0.75, 0.25]])), [2.0, 3.0])
    with pytest.raises(ValueError, match="outside the image box"):
        b(np.array([[1.5], [0.5]]))
    with pytest.raises(ValueError, match="phase ids"):
        voxel_coefficient(img, [1.0])


def test_tangent_flux_and_fd():
    hmm = HMMSampler(keller, eps=0.05, delta=0.05, micro_h=0.05 / 4)
    g = np.random.default_rng(1).normal(size=(2, 3))
    r = hmm.evaluate(g, x=XS)
    assert r.tangent.shape == (2, 2, 3) and r.flux.shape == (2, 3)
    np.testing.assert_allclose(r.flux, np.einsum("ijp,jp->ip", r.tangent, g))
    np.testing.assert_allclose(r.tangent, np.swapaxes(r.tangent, 0, 1), atol=1e-12)
    assert check_tangent(hmm, g, x=XS) < 1e-7
    el = HMMSampler(lambda x: isotropic_elasticity(1 + 0.5 * np.sin(2 * PI * x[0] / 0.05), 1.0),
                    eps=0.05, delta=0.05, micro_h=0.05 / 4, measure="strain")
    eps_ = np.random.default_rng(2).normal(size=(2, 2, 3))
    eps_ = eps_ + np.swapaxes(eps_, 0, 1)
    T = el.evaluate(eps_, x=XS).tangent
    np.testing.assert_allclose(T, np.transpose(T, (1, 0, 2, 3, 4)), atol=1e-12)
    np.testing.assert_allclose(T, np.transpose(T, (2, 3, 0, 1, 4)), atol=1e-12)
    assert check_tangent(el, eps_, x=XS) < 1e-7


def test_executor_and_pickle_give_the_same_answer():
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    from fe2.oracle import evaluate

    hmm = HMMSampler(keller, eps=0.05, delta=0.05, micro_h=0.05 / 4)
    x = np.random.default_rng(3).uniform(0, 1, size=(2, 7, 3))
    g = np.ones((2, 7, 3))
    serial = hmm.evaluate(g, x=x)
    with ThreadPoolExecutor(2) as ex:
        par = evaluate(hmm, g, x=x, executor=ex, chunk_size=5)
    np.testing.assert_allclose(par.tangent, serial.tangent, rtol=1e-12, atol=1e-14)
    clone = pickle.loads(pickle.dumps(hmm))
    np.testing.assert_allclose(clone.evaluate(g, x=x).flux, serial.flux, rtol=1e-12)


def test_cache_returns_the_same_tensor():
    store = {}
    hmm = HMMSampler(keller, eps=0.05, delta=0.05, micro_h=0.05 / 4, cache=store)
    A1 = hmm.effective_tensor(XS)
    A2 = hmm.effective_tensor(XS.copy())
    np.testing.assert_array_equal(A1, A2)
    assert len(store) == 1 and hmm.stats["cache_hits"] == 1 and hmm.stats["points"] == 3


# ---------------------------------------------------------------- macro FE-HMM


@pytest.mark.parametrize("cell,order,ns,rates", [("keller", 1, (4, 8, 16), (2.0, 1.0)),
                                                 ("keller", 2, (2, 4, 8), (3.0, 2.0)),
                                                 ("non-symmetric", 2, (2, 4, 8), (3.0, 2.0))])
def test_macro_rates_manufactured_homogenized(cell, order, ns, rates):
    """FE-HMM with periodic coupling converges to u0 of -div(A0 grad u0) = f at FE rates.

    Both cells have non-zero micro correctors (<a> != A0), so the rates need the micro
    solves: Keller's cell (A0 = I) and the non-symmetric laminate (A0 from quadrature).
    """
    coef, A0 = (keller, np.eye(2)) if cell == "keller" else (nonsymmetric_laminate,
                                                              nonsymmetric_A0())
    hs, e0, e1 = [], [], []
    for n in ns:
        hmm = HMMSampler(coef, eps=1e-3, delta=1e-3, micro_h=1e-3 / 8, order=2)
        prob = Problem(unit_square(n), hmm, kind="scalar", order=order)
        prob.dirichlet("all", 0.0)
        prob.body_load(source(A0))
        prob.solve()
        a, b = field_errors(prob.basis, prob.u, u0, g0)
        hs.append(1.0 / n)
        e0.append(a)
        e1.append(b)
        A = prob.last_response.tangent
        np.testing.assert_allclose(A, np.broadcast_to(A0[..., None, None], A.shape), atol=1e-3)
    assert observed_rate(hs, e0) == pytest.approx(rates[0], abs=0.25)
    assert observed_rate(hs, e1) == pytest.approx(rates[1], abs=0.2)


def test_macro_elasticity_homogeneous_equals_direct():
    """Small-strain macro problem: FE-HMM with a constant C equals the LinearElastic solve."""
    mat = LinearElastic(1.0, 0.3, plane="strain")
    C = isotropic_elasticity(mat.lam, mat.mu)

    def coef(x):
        return np.broadcast_to(C.reshape(C.shape + (1,) * (x.ndim - 1)), C.shape + x.shape[1:])

    sols = []
    for oracle in (mat, HMMSampler(coef, eps=0.01, delta=0.01, micro_h=0.005,
                                   coupling="neumann", measure="strain")):
        m = skfem.MeshQuad.init_tensor(*[np.linspace(0, 1, 5)] * 2).with_defaults()
        prob = Problem(m, oracle, kind="small_strain", order=2)
        prob.dirichlet("left", 0.0).neumann("right", [0.1, 0.02]).body_load([0.0, -0.05])
        prob.solve(NewtonOptions(rtol=1e-11))
        sols.append(prob.u)
    np.testing.assert_allclose(sols[1], sols[0], atol=1e-10 * np.abs(sols[0]).max())


# ---------------------------------------------------------------- resonance error


@pytest.mark.parametrize("coupling,sign", [("dirichlet", 1.0), ("neumann", -1.0)])
def test_resonance_error_decays_like_eps_over_delta(coupling, sign):
    """delta not a multiple of eps: |A_H - A0| ~ eps / delta (Dirichlet above, Neumann below)."""
    eps = 0.01
    ratios = np.array([1.5, 2.5, 4.5, 8.5])
    errs = []
    for r in ratios:
        hmm = HMMSampler(keller, eps=eps, delta=r * eps, coupling=coupling, micro_h=eps / 8,
                         order=2)
        A = hmm.effective_tensor(XS[:, :1])[..., 0]
        ev = np.linalg.eigvalsh(A) - 1.0
        assert np.all(sign * ev > 0)  # bounds from above / below
        errs.append(np.abs(ev).max())
    slope = observed_rate(1.0 / ratios, errs)
    assert slope == pytest.approx(1.0, abs=0.2)


@pytest.mark.slow
def test_locally_periodic_delta_tradeoff():
    """a = c(x) a_per(x/eps), A0(x) = c(x) I: error ~ eps/delta + delta^2 c''/c: a minimum."""
    eps, k = 1e-3, 20.0
    a = locally_periodic(lambda x, y: np.exp(k * x[0]) * keller(x, y), eps)
    x = np.array([[0.03], [0.5]])
    c = np.exp(k * x[0, 0])
    ratios = [1.5, 3.5, 10.5, 40.5]
    errs = []
    for r in ratios:
        hmm = HMMSampler(a, eps=eps, delta=r * eps, coupling="dirichlet", micro_h=eps / 8)
        errs.append(np.abs(hmm.effective_tensor(x)[..., 0] / c - np.eye(2)).max())
    i = int(np.argmin(errs))
    assert 0 < i < len(ratios) - 1, errs  # decreases, then increases
    assert errs[-1] > 2 * errs[i] and errs[0] > 2 * errs[i]


@pytest.mark.slow
def test_random_checkerboard_gap_shrinks():
    """Stationary random field: the Dirichlet - Neumann gap closes as the box grows."""
    eps = 0.01
    a = random_checkerboard(eps, values=[1.0, 4.0], seed=11)
    x = np.random.default_rng(5).uniform(0, 10, size=(2, 8))
    gaps = []
    for r in (2, 4, 8, 16):
        A = {c: HMMSampler(a, eps=eps, delta=r * eps, coupling=c, micro_h=eps / 4)
             .effective_tensor(x) for c in ("dirichlet", "neumann")}
        gaps.append(np.mean(np.trace(A["dirichlet"] - A["neumann"])) / 2)
    assert np.all(np.array(gaps) > 0) and np.all(np.diff(gaps) < 0)
    assert gaps[-1] < gaps[0] / 3


# ---------------------------------------------------------------- FE-HMM vs DNS


def _hmm_vs_dns(inv_eps):
    eps = 1.0 / inv_eps
    dns = dns_solve(keller, lambda x: 2 * PI**2 * u0(x), 4 * inv_eps, eps=eps, order=2)
    e_dns, _ = field_errors(dns.basis, dns.u, u0, g0, intorder=4)
    hmm = HMMSampler(keller, eps=eps, delta=eps, micro_h=eps / 4, order=2, cache={})
    prob = Problem(unit_square(8), hmm, kind="scalar", order=2)
    prob.dirichlet("all", 0.0)
    prob.body_load(lambda x, t: t * 2 * PI**2 * u0(x))
    prob.solve()
    e_hmm, _ = field_errors(prob.basis, prob.u, u0, g0)
    bq = skfem.Basis(prob.mesh, prob.element, intorder=6)
    xq = np.array(bq.global_coordinates())
    uh = np.array(bq.interpolate(prob.u))
    ud = dns.basis.interpolator(dns.u)(xq.reshape(2, -1)).reshape(uh.shape)
    dist = float(np.sqrt(np.sum((uh - ud) ** 2 * bq.dx)))
    return e_dns, e_hmm, dist, hmm.micro_dofs


def _check_hmm_vs_dns(inv):
    out = [_hmm_vs_dns(i) for i in inv]
    e_dns = [o[0] for o in out]
    assert observed_rate(1.0 / np.array(inv), e_dns) == pytest.approx(1.0, abs=0.3)
    for (ed, eh, dist, _), i in zip(out, inv, strict=True):
        assert eh < ed  # FE-HMM closer to the homogenized solution than the DNS
        assert dist < 0.2 / i  # the two solutions differ by O(eps)
    assert len({o[3] for o in out}) == 1  # micro problem size independent of eps


def test_hmm_vs_dns_quick():
    _check_hmm_vs_dns([8, 16])


@pytest.mark.slow
def test_hmm_vs_dns_fine():
    _check_hmm_vs_dns([8, 16, 32, 64])


def test_fine_scale_oracle():
    orc = FineScaleOracle(keller, eps=0.1)
    x = XS
    r = orc.evaluate(np.ones((2, 3)), x=x)
    np.testing.assert_allclose(r.tangent[0, 0], keller(x, x / 0.1))
    np.testing.assert_allclose(r.tangent[0, 1], 0.0)
    with pytest.raises(OracleError, match="coordinates"):
        orc.evaluate(np.ones((2, 3)))
    with pytest.raises(ValueError, match="needs eps"):
        FineScaleOracle(keller)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs,match", [
    ({"eps": 0.0}, "eps must be a positive number, got 0.0"),
    ({"eps": -1.0}, "eps must be a positive number"),
    ({"delta": 0.05}, r"delta = 0.05 < eps = 0.1 with periodic coupling"),
    ({"coupling": "robin"}, "coupling must be one of 'periodic', 'dirichlet', 'neumann', "
                            "got 'robin'"),
    ({"micro_h": 0.5}, "micro_h = 0.5 exceeds the box side delta = 0.2"),
    ({"order": 3}, "order must be 1 or 2, got 3"),
    ({"measure": "deformation_gradient"}, "measure must be 'gradient'"),
    ({"mesh": "hexagon"}, "mesh must be 'quad' or 'tri'"),
    ({"cache": [1]}, "cache must be a dict-like"),
])
def test_bad_input(kwargs, match):
    args = {"eps": 0.1, "delta": 0.2, **kwargs}
    with pytest.raises(ValueError, match=match):
        HMMSampler(keller, **args)


def test_bad_coefficient_and_points():
    with pytest.raises(ValueError, match="requires 3 positional"):
        HMMSampler(lambda x, y, z: x, eps=0.1, delta=0.1)
    hmm = HMMSampler(lambda x: np.ones((3,) + x.shape[1:]), eps=0.1, delta=0.1)
    msg = r"returned shape \(3, 1, 64, 4\) for points of shape \(1, 64, 4\)"
    with pytest.raises(OracleError, match=msg):
        hmm.evaluate(np.ones((2, 1)), x=np.zeros((2, 1)))
    ok = HMMSampler(keller, eps=0.1, delta=0.1)
    with pytest.raises(OracleError, match="needs the physical coordinates"):
        ok.evaluate(np.ones((2, 4)))
    with pytest.raises(OracleError, match=r"x has shape \(2, 3\), expected \(2, 4\)"):
        ok.evaluate(np.ones((2, 4)), x=np.zeros((2, 3)))
    el = HMMSampler(keller, eps=0.1, delta=0.1, measure="strain")
    with pytest.raises(OracleError, match="stiffness tensor"):
        el.evaluate(np.zeros((2, 2, 1)), x=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="eps must be a positive"):
        locally_periodic(keller, 0)
    with pytest.raises(ValueError, match="probabilities"):
        random_checkerboard(0.1, [1.0, 2.0], probabilities=[0.2, 0.2])
    with pytest.raises(ValueError, match="n must be a positive integer"):
        dns_solve(keller, 1.0, 0, eps=0.1)


def test_example_06(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "06_hmm.py"
    spec = importlib.util.spec_from_file_location("ex06", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    s = mod.main(tmp_path)
    assert s["tensors"]["periodic_1.0"]["error"] < 2e-3  # Keller: A0 = I
    assert s["tensors"]["dirichlet_2.5"]["error"] > 5 * s["tensors"]["periodic_1.0"]["error"]
    assert s["l2_hmm"] < s["l2_dns"] and s["hmm_dns_distance"] < 0.2 * s["eps"]
    for row in s["random_checkerboard"].values():
        assert row["dirichlet"] > row["periodic"] > row["neumann"]
    assert (tmp_path / "summary.json").exists()


def test_laminate_tensor_closed_form():
    np.testing.assert_allclose(laminate_tensor([1.0, 3.0]), np.diag([1.5, 2.0]))
