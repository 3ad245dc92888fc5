"""Molecular-dynamics and equation-of-state flux oracles, and a dense-fluid shock tube."""

import numpy as np
import pytest

from fe2.atomistic import LennardJones
from fe2.atomistic.eos import LennardJonesEOS
from fe2.gas import EOSFlux, IdealGas, MolecularDynamicsFlux, TabulatedFlux, evolve, shock_tube
from fe2.oracle import OracleError
from fe2.oracle import evaluate as oracle_evaluate
from fe2.parallel import SerialExecutor

JZG = LennardJonesEOS("jzg")
# a small, quick micro model (the verification study and bench/gas.py use larger ones)
QUICK = dict(n_particles=128, skin=0.3, equilibration_steps=400, production_steps=1200)


def conserved_lj(rho, u, T):
    rho, u, T = (np.asarray(a, dtype=float) for a in (rho, u, T))
    return np.stack([rho, rho * u, rho * JZG.energy(rho, T) + 0.5 * rho * u * u])


def test_eos_flux_is_the_ideal_monatomic_gas_when_dilute():
    U = conserved_lj([1e-6, 2e-6], [0.5, -1.0], [2.0, 3.0])
    got = EOSFlux().evaluate(U)
    want = IdealGas(5.0 / 3.0).evaluate(U)
    assert np.allclose(got.flux, want.flux, rtol=1e-4)
    assert np.allclose(got.info["wave_speed"], want.info["wave_speed"], rtol=1e-4)
    assert np.allclose(got.info["temperature"], [2.0, 3.0], rtol=1e-4)


def test_md_flux_matches_the_eos_flux_and_is_galilean():
    """Moving states: mass flux exact, momentum/energy flux within MD error + fit accuracy."""
    U = conserved_lj([0.3, 0.6], [0.7, -0.4], [3.0, 3.0])
    md = MolecularDynamicsFlux(seed=4, **QUICK).evaluate(U)
    ref = EOSFlux().evaluate(U)
    assert np.array_equal(md.flux[0, 0], U[1])  # rho u exactly
    p_md = md.flux[0, 1] - U[1] ** 2 / U[0]
    p_ref = ref.flux[0, 1] - U[1] ** 2 / U[0]
    tol = 3 * md.info["pressure_error"] + 0.015 * p_ref
    assert np.all(np.abs(p_md - p_ref) <= tol)
    # energy flux (E + p) u with the same p: the flux is assembled by Galilean invariance
    u = U[1] / U[0]
    assert np.allclose(md.flux[0, 2], (U[2] + p_md) * u, rtol=1e-12)
    assert np.all(md.info["wave_speed"] >= ref.info["wave_speed"])  # a bound


def test_md_flux_is_independent_of_chunking_and_point_order():
    U = conserved_lj([0.3, 0.35, 0.3], [0.0, 0.1, 0.0], [2.5, 2.5, 2.5])
    md = MolecularDynamicsFlux(seed=1, **{**QUICK, "production_steps": 200,
                                          "equilibration_steps": 50})
    whole = md.evaluate(U)
    chunked = oracle_evaluate(md, U[:, ::-1], executor=SerialExecutor(), chunk_size=1)
    assert np.array_equal(whole.flux, chunked.flux[..., ::-1])
    assert np.array_equal(whole.flux[..., 0], whole.flux[..., 2])  # equal states, equal runs


def test_dense_shock_tube_with_md_and_tabulation_matches_the_eos_run():
    """MD + on-the-fly tabulation against the same scheme run with the published EOS."""
    n, length, t_end = 24, 20.0, 0.6
    x = (np.arange(n) + 0.5) / n
    U0 = conserved_lj(np.where(x < 0.5, 0.6, 0.3), 0.0, np.where(x < 0.5, 3.0, 2.0))
    dx = length / n
    ref = evolve(U0, dx, t_end, EOSFlux(), bc="outflow", max_dt=0.01)
    tab = TabulatedFlux(MolecularDynamicsFlux(seed=0, **QUICK), tol=0.02)
    run = evolve(U0, dx, t_end, tab, bc="outflow", max_dt=0.01)
    assert run.steps == ref.steps  # the same time steps (max_dt below both CFL limits)
    # relative L1 difference of the density against the size of its variation; the MD
    # pressures carry ~0.5 % noise and sit ~1 % below the fit, the profile follows
    diff = np.abs(run.U[0] - ref.U[0]).sum() / np.abs(ref.U[0] - 0.3).sum()
    assert diff < 0.02
    assert tab.stats["micro_states"] * 20 < tab.stats["queries"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="MolecularDynamicsFlux: potential must be a LennardJones"):
        MolecularDynamicsFlux(potential="lj")
    with pytest.raises(ValueError, match="MolecularDynamicsFlux: n_particles must be"):
        MolecularDynamicsFlux(n_particles=8)
    with pytest.raises(ValueError, match="pressure must be 'isotropic' or 'tensor'"):
        MolecularDynamicsFlux(pressure="virial")
    with pytest.raises(ValueError, match="EOSFlux: dim must be 1, 2 or 3"):
        EOSFlux(dim=4)
    md = MolecularDynamicsFlux(potential=LennardJones(cutoff=2.5), **QUICK)
    with pytest.raises(OracleError, match=r"point index \(1,\).*use at least"):
        md.evaluate(conserved_lj([0.3, 1.2], [0.0, 0.0], [2.0, 2.0]))
    with pytest.raises(OracleError, match=r"density rho <= 0.*\(0,\)"):
        EOSFlux().evaluate(np.array([[-1.0], [0.0], [1.0]]))


def test_shock_tube_converts_states_with_the_fluid():
    """shock_tube on (rho, u, p) states: a dilute LJ fluid is the gamma = 5/3 ideal gas."""
    left, right = (1e-3, 0.0, 3e-3), (1.25e-4, 0.0, 2e-4)  # T* = 3 and 1.6
    lj = shock_tube(left, right, 100, 0.25 / np.sqrt(1e3), flux=EOSFlux())
    ideal = shock_tube(left, right, 100, 0.25 / np.sqrt(1e3), flux=IdealGas(5 / 3))
    for a, b in ((lj.rho, ideal.rho), (lj.p, ideal.p)):
        assert np.abs(a - b).max() < 2e-3 * np.abs(b).max()
    # conversions invert each other at dense states too
    fluid = EOSFlux()
    U = fluid.conserved_state([0.6, 0.3], [0.5, -0.2], [3.6, 0.9])
    rho, u, p = fluid.primitive_state(U)
    assert np.allclose(p, [3.6, 0.9], rtol=1e-10) and np.allclose(u[0], [0.5, -0.2])
