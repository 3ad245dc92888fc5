"""fe2.fmm: FMM-HMM against closed-form potentials, direct sums and the homogenization rate.

References are independent of the code under test: a numpy double loop for the kernel
normalisation, the closed-form potentials of a Gaussian and of a Gaussian times a plane
wave (derived with the Faddeeva function), the two-scale corrector
``eps^2 rho cos / (pi |n|^2)``, fmm3dpy's direct sum against its FMM.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from fe2.fmm import (
    ModulatedGaussian,
    OscillatingDensity,
    direct_potential,
    fmm_hmm_potential,
    gaussian_potential,
    gaussian_wave_potential,
    laplace_sum,
    plot_error_cost,
    resolved_potential,
    tensor_gauss,
    write_results,
)
from fe2.verify import observed_rate

G = ModulatedGaussian(center=(0.5, 0.5, 0.5), sigma=0.08)
BOX = [[0.0, 1.0]] * 3


def _sphere(n: int, radius: float, seed: int = 0) -> np.ndarray:
    u = np.random.default_rng(seed).normal(size=(3, n))
    return 0.5 + radius * u / np.linalg.norm(u, axis=0)


FAR = _sphere(40, 0.7)  # outside the box: smooth kernel on the sources


def test_kernel_is_one_over_r_on_ten_points():
    rng = np.random.default_rng(3)
    s, c, t = rng.random((3, 10)), rng.normal(size=10), rng.random((3, 4)) + 1.5
    ref = np.array([np.sum(c / np.linalg.norm(t[:, [i]] - s, axis=0)) for i in range(4)])
    assert np.allclose(laplace_sum(s, c, t, "direct"), ref, rtol=1e-13, atol=0)
    assert np.allclose(laplace_sum(s, c, t, "fmm", 1e-12), ref, rtol=1e-10, atol=0)


def test_gaussian_closed_forms_against_resolved_direct_sum():
    # Phi_k from erf of a complex argument vs a spectrally accurate quadrature + direct sum
    for eps, order in ((0.25, 6), (0.125, 4)):  # the grid resolves sigma and eps
        d = OscillatingDensity(G.q, eps, BOX)
        r = direct_potential(d, FAR, order=order)
        exact = G.potential(FAR, eps)
        assert np.max(np.abs(r.phi - exact)) < 1e-8 * np.max(np.abs(exact)), eps
    # a single complex wave, real and imaginary parts (sin and cos modulations)
    k = np.array([2 * np.pi * 3, 0.0, 2 * np.pi])
    y, w = tensor_gauss(BOX, 1, 48, "midpoint")
    rho = ModulatedGaussian(sigma=0.08, modes=()).rho(y)
    ref = laplace_sum(y, w * rho * np.cos(k @ y), FAR, "direct") + 1j * laplace_sum(
        y, w * rho * np.sin(k @ y), FAR, "direct")
    phi = gaussian_wave_potential(FAR, (0.5, 0.5, 0.5), 0.08, k)
    assert np.max(np.abs(phi - ref)) < 1e-9


def test_gaussian_potential_limits():
    x = np.array([[0.5, 0.5 + 1e-12, 3.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
    phi = gaussian_potential(x, (0.5, 0.5, 0.5), 0.1)
    assert phi[0] == pytest.approx(np.sqrt(2 / np.pi) / 0.1, rel=1e-14)
    assert phi[1] == pytest.approx(phi[0], rel=1e-10)
    assert phi[2] == pytest.approx(1 / 3.0, rel=1e-14)  # a point charge far away


def test_fmm_hmm_equals_averaged_closed_form_and_does_not_grow_with_eps():
    n = set()
    for eps in (0.1, 0.01, 0.001):
        d = OscillatingDensity(G.q, eps, BOX)
        h = fmm_hmm_potential(d, FAR, macro_order=16, macro_cells=1, macro_rule="midpoint",
                              fmm_eps=1e-10)
        assert np.max(np.abs(h.phi - G.averaged_potential(FAR))) < 1e-8
        n.add(h.n_sources)
    assert n == {16**3}
    # Gauss-Legendre macro cells: algebraic, still accurate
    h = fmm_hmm_potential(OscillatingDensity(G.q, 0.01, BOX), FAR, macro_order=8,
                          macro_cells=3, fmm_eps=1e-10)
    assert np.max(np.abs(h.phi - G.averaged_potential(FAR))) < 1e-5


def test_resolved_fmm_matches_direct_and_exact():
    d = OscillatingDensity(G.q, 1 / 8, BOX)
    f = resolved_potential(d, FAR, order=4, fmm_eps=1e-10)
    r = direct_potential(d, FAR, order=4)
    exact = G.potential(FAR, 1 / 8)
    assert f.n_sources == r.n_sources == (8 * 4) ** 3
    assert np.max(np.abs(f.phi - r.phi)) < 1e-9 * np.max(np.abs(r.phi))
    assert np.max(np.abs(r.phi - exact)) < 1e-8 * np.max(np.abs(exact))


def test_homogenization_error_is_eps_squared_inside_the_support():
    """exact phi_eps - phi_0 ~ eps^2 phi_2: rate 2, and the corrector is its leading term."""
    inside = _inside(200)
    eps = np.array([1 / 16, 1 / 32, 1 / 64, 1 / 128])
    rms, rel = [], []
    for e in eps:
        err = G.potential(inside, e) - G.averaged_potential(inside)
        rms.append(np.sqrt(np.mean(err**2)))
        rel.append(np.sqrt(np.mean((err - G.corrector(inside, e)) ** 2)) / rms[-1])
    assert 1.85 < observed_rate(eps, np.array(rms)) < 2.15
    assert rel[-1] < 0.02 and rel[-1] < rel[0]  # the eps^2 corrector is the leading term


def _inside(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(3, n))
    return 0.5 + 0.06 * u / np.linalg.norm(u, axis=0) * rng.random(n) ** (1 / 3)


def test_near_field_correction_inside_the_support():
    x = _inside(20)
    x[:, 0] = 0.5  # on a source of the odd midpoint grid below
    d = OscillatingDensity(G.q, 1 / 8, BOX)
    ref = G.averaged_potential(x)
    kw = {"macro_order": 7, "macro_cells": 3, "macro_rule": "midpoint", "fmm_eps": 1e-10}
    plain = fmm_hmm_potential(d, x, near_field=False, **kw).phi
    fixed = fmm_hmm_potential(d, x, **kw).phi
    assert np.max(np.abs(plain - ref)) > 1e-2 * np.max(ref)  # the point rule alone
    assert np.max(np.abs(fixed - ref)) < 1e-6 * np.max(ref)
    g = fmm_hmm_potential(d, x, macro_order=8, macro_cells=4, summation="direct").phi
    assert np.max(np.abs(g - ref)) < 1e-6 * np.max(ref)  # Gauss macro cells, direct sum


def test_fmm_hmm_error_inside_is_eps_squared():
    """End to end, HMM style: kernel estimator on the resolved density vs the exact phi_eps."""
    x = _inside(8, seed=4)
    eps = np.array([1 / 32, 1 / 64, 1 / 128])
    rms = []
    for e in eps:
        d = OscillatingDensity(G.q, float(e), BOX)
        h = fmm_hmm_potential(d, x, macro_order=7, macro_cells=3, macro_rule="midpoint",
                              estimator="kernel", samples=3, fmm_eps=1e-9)
        rms.append(np.sqrt(np.mean((h.phi - G.potential(x, float(e))) ** 2)))
    # kernel filter error m (n^2 - 1) eps^2 lap rho / (24 n^2) plus the eps^2 corrector
    assert 1.9 < observed_rate(eps, np.array(rms)) < 2.1


def test_fmm_error_follows_its_tolerance():
    y, w = tensor_gauss(BOX, 2, 8)
    c = w * G.rho(y)
    t = _sphere(60, 0.45, seed=5)  # among the sources: every FMM list is used
    ref = laplace_sum(y, c, t, "direct")
    for tol in (1e-3, 1e-6, 1e-9):
        err = np.max(np.abs(laplace_sum(y, c, t, "fmm", tol) - ref)) / np.max(np.abs(ref))
        assert err < 10 * tol, (tol, err)


def test_averaging_estimators():
    # cell rule: exact for a trigonometric polynomial of degree < n in z
    def q(y, z):
        return (1 + y[0]) * (1 + np.cos(2 * np.pi * z[0]) * np.sin(2 * np.pi * 3 * z[1]))

    y = np.random.default_rng(2).random((3, 7))
    d = OscillatingDensity(q, 0.01, BOX)
    assert np.allclose(d.averaged(y, "cell", n=4), 1 + y[0], rtol=1e-14, atol=0)
    # kernel (3 convolved one-period boxes): error 3 (n^2 - 1) eps^2 lap rho / (24 n^2)
    yk = np.array([[0.5, 0.52, 0.43], [0.5, 0.47, 0.55], [0.5, 0.55, 0.5]])
    a = 0.5 / G.sigma**2
    lap = G.rho(yk) * (4 * a**2 * np.sum((yk - 0.5) ** 2, axis=0) - 6 * a)
    for eps in (0.01, 0.005):
        dk = OscillatingDensity(G.q, eps, BOX)
        err = dk.averaged(yk, "kernel", n=4) - G.rho(yk)
        expected = 3 * 15 * eps**2 * lap / (24 * 16)
        assert np.allclose(err, expected, rtol=0.05, atol=0), (eps, err, expected)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="eps"):
        OscillatingDensity(G.q, -1.0, BOX)
    with pytest.raises(ValueError, match="box"):
        OscillatingDensity(G.q, 0.1, [[1, 0], [0, 1], [0, 1]])
    d = OscillatingDensity(G.q, 0.1, BOX)
    with pytest.raises(ValueError, match=r"targets: expected an array of shape \(3, n\)"):
        fmm_hmm_potential(d, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="fmm_eps"):
        fmm_hmm_potential(d, FAR, fmm_eps=2.0)
    with pytest.raises(ValueError, match="estimator"):
        fmm_hmm_potential(d, FAR, estimator="mean")
    with pytest.raises(ValueError, match="rule"):
        fmm_hmm_potential(d, FAR, macro_rule="simpson")
    with pytest.raises(ValueError, match="modes"):
        ModulatedGaussian(modes=((0.5, (0.5, 0, 0), 0.0),))
    with pytest.raises(ValueError, match="returned shape"):
        OscillatingDensity(lambda y, z: 1.0, 0.1, BOX).resolved(FAR)


def test_outputs_round_trip(tmp_path):
    rows = [{"method": m, "eps": e, "n_sources": n, "seconds": s, "error": err}
            for m, e, n, s, err in [("fmm-hmm", 0.1, 4096, 0.2, 1e-8),
                                    ("fmm-hmm", 0.05, 4096, 0.2, 1e-9),
                                    ("direct", 0.1, 32768, 1.5, 2e-9),
                                    ("direct", 0.05, 262144, 9.0, 3e-9)]]
    phi = G.averaged_potential(FAR)
    paths = write_results(rows, tmp_path, "run", targets=FAR, potentials={"phi0": phi},
                          meta={"sigma": 0.08})
    with paths[0].open() as fh:
        back = list(csv.DictReader(fh))
    assert [float(r["error"]) for r in back] == [r["error"] for r in rows]
    doc = json.loads(paths[1].read_text())
    assert doc["meta"] == {"sigma": 0.08} and np.allclose(doc["potentials"]["phi0"], phi)
    with paths[2].open() as fh:
        pot = list(csv.DictReader(fh))
    assert np.allclose([float(r["phi0"]) for r in pot], phi, rtol=1e-11)
    png = plot_error_cost(rows, tmp_path / "cost.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
