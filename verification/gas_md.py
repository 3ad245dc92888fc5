"""Gas dynamics with molecular fluxes: Lennard-Jones MD against published equations of state.

* Equation of state: equilibrium MD (:func:`fe2.atomistic.md.equilibrium_md`, cutoff 2.5
  sigma with long-range corrections) at several supercritical ``(rho*, T*)`` is brought to
  the specific energy the Johnson–Zollweg–Gubbins fit gives there; its pressure and
  temperature are compared with the fit. Acceptance: ``|p_MD - p_JZG| <= 3 s_p + 1.5 %
  p_JZG + |p_JZG - p_KN|`` (statistical error, the fits' accuracy at liquid densities, and
  the spread of two independent published fits), ``|T_MD - T| <= 3 s_T + 1 % T``, and the
  MD's infinite-frequency sound speed bounds the fit's adiabatic one.
* Dense-fluid shock tube (left ``(0.6, 0, T* = 3)``, right ``(0.3, 0, T* = 2)``, a tube of
  20 sigma): Nessyahu–Tadmor with :class:`fe2.gas.MolecularDynamicsFlux` through
  :class:`fe2.gas.TabulatedFlux`, against the same scheme, grid and time steps with the
  published equation of state (:class:`fe2.gas.EOSFlux`): relative L1 density difference
  below 2 % (the MD pressures carry ~0.5 % noise and sit ~1 % below the fit), and the
  MD runs at least 20x (quick) / 100x (full) fewer than the flux queries.
"""

from __future__ import annotations

import time

import numpy as np

from fe2.atomistic import LennardJones
from fe2.atomistic.eos import LennardJonesEOS
from fe2.atomistic.md import equilibrium_md
from fe2.gas import EOSFlux, MolecularDynamicsFlux, TabulatedFlux, evolve
from verification.core import Check, Plot, Series, StudyResult, Table

TITLE = "Gas dynamics: Lennard-Jones MD fluxes vs published equations of state"

JZG, KN = LennardJonesEOS("jzg"), LennardJonesEOS("kn")
FIT_ACCURACY = 0.015
STATES_QUICK = [(0.3, 3.0), (0.6, 3.0), (0.8, 1.5)]
STATES_FULL = [(0.1, 1.5), (0.3, 3.0), (0.5, 2.0), (0.6, 3.0), (0.7, 2.0), (0.8, 1.5),
               (0.9, 4.0)]
LENGTH = 20.0


def _tube_initial(n: int) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    rho = np.where(x < 0.5, 0.6, 0.3)
    T = np.where(x < 0.5, 3.0, 2.0)
    return np.stack([rho, 0.0 * rho, rho * JZG.energy(rho, T)])


def run(quick: bool) -> StudyResult:
    """The study; ``quick``: 3 states and a 24-cell tube (~20 s), else 7 and 100 (~3 min)."""
    res = StudyResult(
        "gas_md", TITLE,
        "Equilibrium MD of the Lennard-Jones fluid (cutoff 2.5 sigma, tail corrections, "
        "energy-targeted thermostat then constant energy) at the specific energy of the "
        "Johnson–Zollweg–Gubbins fit: pressure within 3 standard errors + 1.5 % + the "
        "JZG–Kolafa-Nezbeda spread, temperature within 3 standard errors + 1 %, the MD "
        "sound-speed bound above the fit's sound speed. A dense-fluid shock tube with MD "
        "fluxes through on-the-fly tabulation matches the same scheme run with the fit "
        "(relative L1 density difference < 2 %) with at least 20x (quick) / 100x (full) "
        "fewer MD runs than flux queries.",
    )
    pot = LennardJones(cutoff=2.5)
    n_part, eq, prod = (256, 1000, 3000) if quick else (500, 2000, 8000)
    states = STATES_QUICK if quick else STATES_FULL
    table = Table(["rho*", "T*", "p MD", "s_p", "p JZG", "p KN", "T MD", "s_T",
                   "c_inf MD", "c JZG"])
    p_md, p_fit, errs = [], [], []
    for k, (rho, T) in enumerate(states):
        e = float(JZG.energy(rho, T))
        r = equilibrium_md(pot, n_part, rho, e, equilibration_steps=eq, production_steps=prod,
                           skin=0.5, seed=100 + k)
        pj, pk = float(JZG.pressure(rho, T)), float(KN.pressure(rho, T))
        cj = float(JZG.sound_speed(rho, T))
        table.add(rho, T, r.pressure, r.pressure_error, pj, pk, r.temperature,
                  r.temperature_error, r.sound_speed_bound, cj)
        name = f"rho*={rho:g}, T*={T:g}"
        tol = 3 * r.pressure_error + FIT_ACCURACY * pj + abs(pj - pk)
        res.check(Check.at_most(f"{name}: |p_MD - p_JZG| (<= 3 s_p + 1.5 % + fit spread)",
                                abs(r.pressure - pj), tol))
        res.check(Check.at_most(f"{name}: |T_MD - T|", abs(r.temperature - T),
                                3 * r.temperature_error + 0.01 * T))
        res.check(Check.holds(f"{name}: MD sound-speed bound >= adiabatic sound speed",
                              r.sound_speed_bound >= cj, ">= JZG c",
                              f"{r.sound_speed_bound:.4g} vs {cj:.4g}"))
        p_md.append(r.pressure)
        p_fit.append(pj)
        errs.append(r.pressure_error)
    res.tables.append((f"Equilibrium MD ({n_part} particles, {eq} + {prod} steps) vs the "
                       "published fits", table))
    p_md, p_fit = np.array(p_md), np.array(p_fit)
    res.plots.append(Plot("md_eos_pressure", "MD pressure vs the JZG fit", "p* (JZG)",
                          "p* (MD)", [Series("MD", p_fit, p_md, "o"),
                                      Series("p_MD = p_JZG", p_fit, p_fit, "k-")],
                          xscale="linear", yscale="linear"))

    # dense-fluid shock tube
    n, t_end = (24, 0.6) if quick else (100, 1.0)
    dx = LENGTH / n
    max_dt = 0.02 * dx
    U0 = _tube_initial(n)
    t0 = time.perf_counter()
    ref = evolve(U0, dx, t_end, EOSFlux(), bc="outflow", max_dt=max_dt)
    t_ref = time.perf_counter() - t0
    md_opts = (dict(n_particles=128, skin=0.3, equilibration_steps=400, production_steps=1200)
               if quick else dict(n_particles=256, equilibration_steps=1000,
                                  production_steps=3000))
    tab = TabulatedFlux(MolecularDynamicsFlux(seed=0, **md_opts), tol=0.02)
    t0 = time.perf_counter()
    run_md = evolve(U0, dx, t_end, tab, bc="outflow", max_dt=max_dt)
    t_md = time.perf_counter() - t0
    res.check(Check.holds("shock tube: MD and EOS runs take the same time steps",
                          run_md.steps == ref.steps, "equal", f"{run_md.steps} vs {ref.steps}"))
    diff = float(np.abs(run_md.U[0] - ref.U[0]).sum() / np.abs(ref.U[0] - 0.3).sum())
    res.check(Check.at_most("shock tube: relative L1 density difference MD+tab vs EOS", diff,
                            0.02))
    q, s = tab.stats["queries"], tab.stats["micro_states"]
    res.check(Check.at_least("shock tube: flux queries per MD run (tabulation)", q / s,
                             20.0 if quick else 100.0))
    tt = Table(["flux", "cells", "steps", "MD runs", "flux queries", "wall [s]",
                "rel. L1 density difference"])
    tt.add("EOSFlux (JZG)", n, ref.steps, 0, q, t_ref, 0.0)
    tt.add("TabulatedFlux(MD)", n, run_md.steps, s, q, t_md, diff)
    res.tables.append((f"Dense shock tube, t* = {t_end:g}, MD {md_opts['n_particles']} "
                       "particles", tt))
    x = dx * (np.arange(n) + 0.5)
    res.plots.append(Plot("md_shock_tube_density", f"Dense LJ shock tube at t* = {t_end:g}",
                          "x / sigma", "rho*",
                          [Series("EOS (JZG)", x, ref.U[0], "k-"),
                           Series(f"MD + tabulation ({s} MD runs)", x, run_md.U[0], "o")],
                          xscale="linear", yscale="linear"))
    return res
