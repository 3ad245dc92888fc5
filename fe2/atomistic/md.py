"""Equilibrium molecular dynamics of a Lennard-Jones fluid at given density and energy.

:func:`equilibrium_md` is the micro model of :class:`fe2.gas.MolecularDynamicsFlux`: a
cubic periodic box of ``N`` particles at mass density ``rho`` is brought to the
specific internal energy ``e`` with a thermostat, then run at constant energy, and the
time averages of the pressure tensor, energy and temperature are returned with their
statistical errors.

Method
------
- **Start**: the first ``N`` sites of an fcc crystal filling the box, Maxwell velocities
  (seeded, zero total momentum) with the kinetic energy that gives ``e`` on the crystal.
- **Forces**: the potential truncated at its cutoff and shifted (``shift="energy"``,
  so the energy is continuous), a Verlet neighbour list with skin
  rebuilt when an atom has moved by half the skin
  (:func:`fe2.atomistic.neighbours.build_pairs`, numba cell lists), velocity Verlet
  (numba, :func:`fe2.atomistic.kernels.md_verlet`).
- **Thermostat** (equilibration): every ``rescale_every`` steps the velocities are
  scaled so that the instantaneous total energy equals ``N m e``: an isoenergetic
  velocity-rescaling thermostat whose target is the energy, not a temperature (the
  temperature of the state is an output). The last rescale ends the equilibration.
- **Production** at constant energy (NVE): every step is sampled; errors are standard
  errors of ``blocks`` block means.
- **Pressure tensor** (Irving–Kirkwood, volume average): ``P = (sum m v v + sum d f) / V``
  over atoms and over pairs (``d`` the bond, ``f`` the pair force), plus the long-range
  correction ``p_tail I``. **Energy**: ``K + U_trunc + N u_tail`` with
  ``U_trunc = U_shifted + n_pairs(r < r_c) phi(r_c)``.
- **Finite N**: the total momentum is zero, so the box has ``3 (N - 1)`` thermal degrees
  of freedom: ``T = 2 K / (3 (N - 1))``. The results are mapped to the thermodynamic
  limit, where each particle carries ``3/2 T``: the kinetic energy and the kinetic
  pressure count ``N / (N - 1)`` times the measured ones (the thermostat aims at that
  energy), an ``O(1/N)`` correction that matters for small dilute boxes.
- **Full potential**: the tail terms assume ``g(r) = 1`` beyond the cutoff
  (:func:`fe2.atomistic.eos.tail_corrections`), so the results estimate the full
  Lennard-Jones fluid, comparable with the published equations of state
  (:class:`fe2.atomistic.eos.LennardJonesEOS`).
- **Sound-speed bound**: the instantaneous (infinite-frequency) adiabatic bulk modulus
  under an affine compression, ``K_inf = p + (4 K / 9 + sum (r phi' + r^2 phi'') / 9) / V
  + 2 p_tail``, gives ``c_inf = sqrt(K_inf / rho)``. It equals the sound speed of a dilute
  gas to first order in density (``5/3 p``) and exceeds the adiabatic sound speed of a
  dense fluid (the relaxed modulus is smaller): a wave-speed bound for the time step,
  not the sound speed.

Units: any consistent set with ``k_B = 1`` (temperatures in energy units); the time unit
of ``timestep`` is ``sigma sqrt(mass / epsilon)``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from fe2.atomistic.eos import tail_corrections
from fe2.atomistic.kernels import md_forces, md_pairs, md_verlet
from fe2.atomistic.lattice import get_lattice
from fe2.atomistic.potentials import LennardJones

__all__ = ["MDResult", "check_md_options", "check_md_potential", "equilibrium_md",
           "neighbour_pairs"]

log = logging.getLogger(__name__)

_N_SERIES = 16  # columns of the per-step series (see kernels.md_verlet)


@dataclass(frozen=True)
class MDResult:
    """Time averages of an equilibrium MD run (see :func:`equilibrium_md`).

    Attributes
    ----------
    pressure_tensor : ndarray
        ``(3, 3)`` mean pressure tensor [energy / length^3], tail correction included.
    pressure : float
        Mean of ``trace(P) / 3`` [energy / length^3].
    pressure_error : float
        Its standard error (block averages).
    energy : float
        Mean specific internal energy [energy / mass] (full potential, tail included).
    energy_target : float
        The requested specific energy.
    temperature, temperature_error : float
        Mean kinetic temperature ``2 K / (3 (N - 1))`` [energy] and its standard error.
    sound_speed_bound : float
        ``sqrt(K_inf / rho)`` [length / time], an upper bound of the sound speed.
    energy_drift : float
        ``(E_end - E_start) / |E_start|`` of the conserved energy over production.
    density : float
        Mass density [mass / length^3].
    n_particles, steps, list_builds : int
        Particles, total MD steps, neighbour-list builds.
    """

    pressure_tensor: np.ndarray
    pressure: float
    pressure_error: float
    energy: float
    energy_target: float
    temperature: float
    temperature_error: float
    sound_speed_bound: float
    energy_drift: float
    density: float
    n_particles: int
    steps: int
    list_builds: int


def neighbour_pairs(x: np.ndarray, L: float, radius: float):
    """Pairs ``(i (np,), j (np,), image (np, 3))`` of ``x (n, 3)`` closer than ``radius``.

    In a cubic periodic box of side ``L > 2 radius`` (minimum image), by the numba cell
    list :func:`fe2.atomistic.kernels.md_pairs`. Written for MD rather than using the
    general :func:`fe2.atomistic.neighbours.build_pairs` (any box, any number of images):
    at 500 atoms it builds in about 0.1 ms instead of 3 ms, and a dense hot fluid
    rebuilds every few steps.
    """
    n = len(x)
    cap = int(1.3 * n * (n / L**3) * 2.0 * math.pi / 3.0 * radius**3) + 64
    while True:
        pi = np.empty(cap, dtype=np.int64)
        pj = np.empty(cap, dtype=np.int64)
        pm = np.empty((cap, 3), dtype=np.int64)
        cnt = md_pairs(x, L, radius, pi, pj, pm)
        if cnt <= cap:
            return pi[:cnt], pj[:cnt], pm[:cnt]
        cap = cnt


def check_md_potential(owner: str, potential: object) -> LennardJones:
    """``potential`` if it is a :class:`LennardJones` with ``shift`` "energy" or "none"."""
    if not isinstance(potential, LennardJones):
        raise ValueError(f"{owner}: potential must be a LennardJones instance (the tail "
                         f"corrections are those of the 12-6 potential), got "
                         f"{type(potential).__name__}")
    if potential.shift == "force":
        raise ValueError(f"{owner}: a force-shifted LennardJones changes the forces, so the "
                         "full-potential corrections do not apply; use shift='energy'")
    return potential


def _int_at_least(owner: str, name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _block_error(series: np.ndarray, blocks: int) -> float:
    n = len(series) // blocks
    means = series[: n * blocks].reshape(blocks, n).mean(axis=1)
    return float(np.std(means, ddof=1) / math.sqrt(blocks))


def check_md_options(owner: str, potential, n_particles, *, mass=1.0, timestep=0.005,
                     equilibration_steps=2000, production_steps=4000, rescale_every=10,
                     blocks=10, skin=0.3) -> dict:
    """Check the options of :func:`equilibrium_md` (all but the state); returns them.

    Raises
    ------
    ValueError
        Naming ``owner``, the option, its value and what was expected.
    """
    check_md_potential(owner, potential)
    _int_at_least(owner, "n_particles", n_particles, 32)
    _int_at_least(owner, "equilibration_steps", equilibration_steps, 0)
    _int_at_least(owner, "production_steps", production_steps, 2)
    _int_at_least(owner, "rescale_every", rescale_every, 1)
    _int_at_least(owner, "blocks", blocks, 2)
    if production_steps < 2 * blocks:
        raise ValueError(f"{owner}: production_steps={production_steps} must be at least "
                         f"2 blocks ({2 * blocks})")
    for name, val in (("mass", mass), ("timestep", timestep)):
        if isinstance(val, bool) or not (isinstance(val, int | float | np.floating)
                                         and math.isfinite(val) and val > 0):
            raise ValueError(f"{owner}: {name} must be a finite number > 0, got {val!r}")
    if isinstance(skin, bool) or not (isinstance(skin, int | float | np.floating)
                                      and math.isfinite(skin) and skin >= 0):
        raise ValueError(f"{owner}: skin must be a finite number >= 0, got {skin!r}")
    return dict(mass=mass, timestep=timestep, equilibration_steps=equilibration_steps,
                production_steps=production_steps, rescale_every=rescale_every,
                blocks=blocks, skin=skin)


def equilibrium_md(
    potential: LennardJones,
    n_particles: int,
    density: float,
    energy: float,
    *,
    mass: float = 1.0,
    timestep: float = 0.005,
    equilibration_steps: int = 2000,
    production_steps: int = 4000,
    rescale_every: int = 10,
    blocks: int = 10,
    skin: float = 0.3,
    seed: int | np.random.SeedSequence = 0,
) -> MDResult:
    """Equilibrate ``n_particles`` at mass density ``density`` and specific energy ``energy``.

    Parameters
    ----------
    potential : LennardJones
        The pair potential (``shift="energy"`` recommended for energy conservation).
    n_particles : int
        Number of particles (>= 32); the box side ``(N m / rho)^(1/3)`` must exceed
        twice the cutoff.
    density : float
        Mass density ``rho`` [mass / length^3], > 0.
    energy : float
        Specific internal energy ``e`` [energy / mass] of the full Lennard-Jones fluid
        (kinetic + configurational, tail included); must exceed that of the fcc crystal
        at this density.
    mass : float
        Particle mass.
    timestep : float
        Verlet step [``sigma sqrt(mass / epsilon)``].
    equilibration_steps, production_steps : int
        Steps with the thermostat and at constant energy.
    rescale_every : int
        Steps between thermostat rescalings.
    blocks : int
        Blocks for the standard errors (>= 2).
    skin : float
        Neighbour-list skin [length].
    seed : int or SeedSequence
        Seed of the initial velocities; the run is deterministic given it.

    Returns
    -------
    MDResult

    Raises
    ------
    ValueError
        For bad parameters, a box smaller than twice the cutoff, or an energy below the
        crystal's at this density, naming the value and what was expected.
    """
    owner = "equilibrium_md"
    check_md_options(owner, potential, n_particles, mass=mass, timestep=timestep,
                     equilibration_steps=equilibration_steps, production_steps=production_steps,
                     rescale_every=rescale_every, blocks=blocks, skin=skin)
    n, steps_eq, steps_prod = n_particles, equilibration_steps, production_steps
    every = rescale_every
    if not (isinstance(density, int | float | np.floating) and math.isfinite(density)
            and density > 0):
        raise ValueError(f"{owner}: density must be a finite number > 0, got {density!r}")
    if not (isinstance(energy, int | float | np.floating) and math.isfinite(energy)):
        raise ValueError(f"{owner}: energy must be a finite number, got {energy!r}")
    eps, sig, rc = potential.epsilon, potential.sigma, potential.cutoff
    V = n * mass / density
    L = V ** (1.0 / 3.0)
    if L <= 2.0 * (rc + skin):
        n_min = int(math.ceil(density / mass * (2.0 * (rc + skin)) ** 3)) + 1
        raise ValueError(
            f"{owner}: box side {L:.4g} at density {density:.4g} with {n} particles is not "
            f"larger than twice the cutoff + skin {rc + skin:.4g}; use at least {n_min} particles"
        )
    number_density = n / V
    u_tail, p_tail = tail_corrections(number_density * sig**3, rc / sig)
    u_tail *= eps
    p_tail *= eps / sig**3
    prm = np.ascontiguousarray(potential.params)
    phi_rc = float(prm[4] + prm[5] * rc)  # phi(rc) removed by the shift (0 for "none")
    kind = potential.kind

    # start: fcc sites filling the box, Maxwell velocities
    k = int(math.ceil((n / 4.0) ** (1.0 / 3.0)))
    x = np.ascontiguousarray(get_lattice("fcc").crystal(k, L / k).positions[:n])
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, 3))
    v -= v.mean(axis=0)
    f = np.zeros((n, 3))
    obs = np.zeros(10)
    pairs = neighbour_pairs(x, L, rc + skin)
    x_list = x.copy()
    builds = 1
    md_forces(x, L, *pairs, kind, prm, f, obs)
    e_target = energy * mass * n  # total energy

    def potential_full(o: np.ndarray) -> float:
        return float(o[0] + o[1] * phi_rc + n * u_tail)

    dof = (n - 1.0) / n  # zero total momentum: 3 (N - 1) thermal degrees of freedom

    def rescale(u_pot: float) -> None:
        want = dof * (e_target - u_pot)
        if not want > 0:
            raise ValueError(
                f"{owner}: specific energy {energy:.6g} is below the potential energy "
                f"{u_pot / (n * mass):.6g} of the configuration at density {density:.6g}: "
                "no fluid state of that energy (expected a higher energy)"
            )
        kin = 0.5 * mass * float(np.sum(v * v))
        v[...] *= math.sqrt(want / kin)

    rescale(potential_full(obs))
    half_skin2 = (0.5 * skin) ** 2
    dt = float(timestep) * sig * math.sqrt(mass / eps)
    series = np.zeros((steps_eq + steps_prod, _N_SERIES))

    def run(row: int, count: int) -> None:
        """``count`` Verlet steps into ``series[row:]``, rebuilding the list when needed."""
        nonlocal pairs, x_list, builds
        done = 0
        while done < count:
            taken = md_verlet(x, v, f, x_list, half_skin2, L, *pairs, kind, prm, mass, dt,
                              count - done, series, row + done)
            done += taken
            if done < count:  # an atom would leave the skin: rebuild at the current x
                pairs = neighbour_pairs(x, L, rc + skin)
                x_list = x.copy()
                builds += 1

    row = 0
    while row < steps_eq:
        m = min(every, steps_eq - row)
        run(row, m)
        row += m
        o = series[row - 1, 1:11]
        rescale(potential_full(o))
    # the rescale changed the kinetic energy of the last row: production starts afresh
    run(row, steps_prod)
    prod = series[steps_eq:]
    kin = prod[:, 0]
    u_full = prod[:, 1] + prod[:, 2] * phi_rc + n * u_tail
    e_series = (kin / dof + u_full) / (n * mass)
    conserved = kin + prod[:, 1]
    drift = float((conserved[-1] - conserved[0]) / max(abs(conserved[0]), 1e-300))
    vir = prod[:, 4:10]
    kt = prod[:, 10:16]
    comp = (kt / dof + vir) / V  # xx, yy, zz, xy, xz, yz
    comp[:, :3] += p_tail
    p_series = comp[:, :3].mean(axis=1)
    T_series = 2.0 * kin / (3.0 * (n - 1))
    k_inf = p_series + (4.0 * kin / dof / 9.0 + prod[:, 3] / 9.0) / V + 2.0 * p_tail
    mean = comp.mean(axis=0)
    P = np.array([[mean[0], mean[3], mean[4]],
                  [mean[3], mean[1], mean[5]],
                  [mean[4], mean[5], mean[2]]])
    k_mean = float(k_inf.mean())
    if not k_mean > 0:
        raise ValueError(f"{owner}: non-positive instantaneous bulk modulus {k_mean:.4g} at "
                         f"density {density:.6g}, energy {energy:.6g}")
    result = MDResult(
        pressure_tensor=P,
        pressure=float(p_series.mean()),
        pressure_error=_block_error(p_series, blocks),
        energy=float(e_series.mean()),
        energy_target=float(energy),
        temperature=float(T_series.mean()),
        temperature_error=_block_error(T_series, blocks),
        sound_speed_bound=math.sqrt(k_mean / density),
        energy_drift=drift,
        density=float(density),
        n_particles=n,
        steps=steps_eq + steps_prod,
        list_builds=builds,
    )
    log.debug("equilibrium_md: rho=%.4g e=%.4g -> p=%.5g +- %.2g, T=%.4g, drift=%.2g",
              density, energy, result.pressure, result.pressure_error, result.temperature,
              drift)
    return result
