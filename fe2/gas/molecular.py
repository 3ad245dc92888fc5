"""Flux oracles of a Lennard-Jones fluid: molecular dynamics, and the published equation of state.

:class:`MolecularDynamicsFlux` is the molecular micro model of the HMM gas solver: at
each point the conserved state ``U`` fixes a density and a specific internal energy;
:func:`fe2.atomistic.md.equilibrium_md` equilibrates a periodic box of Lennard-Jones
particles at that state (thermostat, then constant energy) and returns its
Irving–Kirkwood pressure tensor; the flux follows by Galilean invariance (the box is at
rest in the frame moving with ``u``)::

    F_mass = rho u,   F_mom = rho u u^T + P,   F_E = E u + P u.

There is no heat flux or viscous stress: the micro state is in equilibrium (the
measured heat flux of an equilibrium box has zero mean and is not used). The oracle is
expensive (about a second per point); wrap it in :class:`fe2.gas.TabulatedFlux` so that
the number of MD runs follows the number of distinct states.

:class:`EOSFlux` is the same flux with the pressure of a published equation of state
(:class:`fe2.atomistic.eos.LennardJonesEOS`): the reference the MD runs are checked
against.
"""

from __future__ import annotations

import numpy as np

from fe2.atomistic.eos import LennardJonesEOS
from fe2.atomistic.md import check_md_options, check_md_potential, equilibrium_md
from fe2.atomistic.potentials import LennardJones
from fe2.oracle import OracleBase, OracleError, Response

from .flux import content_seed, euler_flux, rest_state

__all__ = ["EOSFlux", "MolecularDynamicsFlux"]

_PRESSURES = ("isotropic", "tensor")


def _check_dim(owner: str, dim) -> int:
    if isinstance(dim, bool) or dim not in (1, 2, 3):
        raise ValueError(f"{owner}: dim must be 1, 2 or 3, got {dim!r}")
    return int(dim)


class LennardJonesStates:
    """State conversions of a Lennard-Jones fluid by its published fit ``self.eos``.

    :func:`fe2.gas.fluid_of` finds these methods, so :func:`fe2.gas.shock_tube`, the
    outputs and case files convert ``(rho, u, p)`` with the fit.
    """

    eos: LennardJonesEOS

    def conserved_state(self, rho, u, p) -> np.ndarray:
        """``U (3, *pts)`` (1D) from density, velocity and pressure, by the fit ``eos``."""
        rho, u, p = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (rho, u, p)))
        e = self.eos.energy(rho, self.eos.temperature_from_pressure(rho, p))
        return np.stack([rho, rho * u, rho * e + 0.5 * rho * u * u])

    def primitive_state(self, U) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rho, u (dim, *pts), p)`` of ``U (dim + 2, *pts)``, by the fit ``eos``."""
        U = np.asarray(U, dtype=float)
        rho = U[0]
        u = U[1:-1] / rho
        e = U[-1] / rho - 0.5 * np.sum(u * u, axis=0)
        return rho, u, self.eos.pressure(rho, self.eos.temperature(rho, e))


class MolecularDynamicsFlux(LennardJonesStates, OracleBase):
    """Euler flux of a Lennard-Jones fluid from equilibrium molecular dynamics at each point.

    Parameters
    ----------
    potential : LennardJones, optional
        Pair potential (default ``LennardJones(1, 1, cutoff=2.5)``, energy-shifted).
        Results are for the full potential (long-range corrections, see
        :mod:`fe2.atomistic.md`).
    n_particles : int
        Particles per box (default 256).
    dim : {1, 2, 3}
        Macro space dimension (the MD box is always 3D; the flux uses the pressure
        tensor's block in the first ``dim`` directions).
    seed : int
        Non-negative seed; with the state it fixes each point's initial velocities.
    mass : float
        Particle mass; densities are mass densities.
    timestep, equilibration_steps, production_steps, rescale_every, skin :
        Passed to :func:`fe2.atomistic.md.equilibrium_md`.
    pressure : {"isotropic", "tensor"}
        Use ``trace(P) / 3`` (default: exact for an equilibrium fluid, less noise) or
        the measured tensor.

    Notes
    -----
    ``evaluate(U)`` takes ``U (dim + 2, *pts)`` and returns ``flux (dim, dim + 2, *pts)``
    and ``info`` with ``"wave_speed"`` (``max |u_k| + c_inf``, ``c_inf`` the MD's
    infinite-frequency sound speed: a bound of the adiabatic sound speed),
    ``"pressure_error"`` (standard error of the pressure), ``"temperature"`` and
    ``"md_steps"``, each of shape ``pts``. Points with equal states give equal results
    (the seed is a hash of the state, as in :class:`fe2.gas.KineticFlux`), whatever the
    chunking or executor. ``energy_floor`` (a lower bound of the specific internal
    energy, below the fcc crystal's) is read by :class:`fe2.gas.TabulatedFlux`.
    """

    measure = "conserved"

    def __init__(
        self,
        potential: LennardJones | None = None,
        n_particles: int = 256,
        dim: int = 1,
        seed: int = 0,
        mass: float = 1.0,
        timestep: float = 0.005,
        equilibration_steps: int = 1000,
        production_steps: int = 3000,
        rescale_every: int = 10,
        skin: float = 0.5,
        pressure: str = "isotropic",
    ):
        name = type(self).__name__
        pot = LennardJones(cutoff=2.5) if potential is None else potential
        self.potential = check_md_potential(name, pot)
        self.dim = _check_dim(name, dim)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"{name}: seed must be a non-negative integer, got {seed!r}")
        if pressure not in _PRESSURES:
            raise ValueError(f"{name}: pressure must be 'isotropic' or 'tensor', got "
                             f"{pressure!r}")
        self.seed = int(seed)
        self.pressure = pressure
        self.md_options = check_md_options(
            name, self.potential, n_particles, mass=mass, timestep=timestep,
            equilibration_steps=equilibration_steps, production_steps=production_steps,
            rescale_every=rescale_every, skin=skin)
        self.n_particles = int(n_particles)
        self.mass = float(mass)
        self.n_conserved = self.dim + 2
        self.ncons = self.n_conserved
        #: the published fit of the same fluid, used only to convert primitive states
        self.eos = LennardJonesEOS("jzg", self.potential.epsilon, self.potential.sigma,
                                   self.mass)
        # below the fcc crystal energy of the full potential (-8.6 epsilon per particle)
        self.energy_floor = -10.0 * self.potential.epsilon / self.mass

    def __repr__(self) -> str:
        return (f"MolecularDynamicsFlux({self.potential!r}, n_particles={self.n_particles}, "
                f"dim={self.dim}, seed={self.seed})")

    def evaluate(self, U, x=None, state=None) -> Response:
        """Flux ``(dim, dim + 2, *pts)`` from one MD run per point (see class notes).

        Raises
        ------
        OracleError
            For non-finite input, ``rho <= 0``, or a state MD cannot reach (energy below
            the crystal's, box smaller than twice the cutoff), naming the point.
        """
        owner = type(self).__name__
        st = rest_state(owner, self, U, e_min=self.energy_floor, strict=True)
        d, n = self.dim, st.n
        P = np.empty((d, d, n))
        speed = np.empty(n)
        err = np.empty(n)
        temp = np.empty(n)
        steps = np.empty(n)
        for i in range(n):
            try:
                r = equilibrium_md(self.potential, self.n_particles, float(st.rho[i]),
                                   float(st.e[i]), seed=content_seed(self.seed, st.U[:, i]),
                                   **self.md_options)
            except ValueError as exc:
                idx = tuple(int(j) for j in np.unravel_index(i, st.pts)) if st.pts else ()
                raise OracleError(f"{owner}: at point index {idx} (rho={st.rho[i]:.6g}, "
                                  f"e={st.e[i]:.6g}): {exc}") from None
            if self.pressure == "tensor":
                P[:, :, i] = r.pressure_tensor[:d, :d]
            else:
                P[:, :, i] = r.pressure * np.eye(d)
            speed[i] = r.sound_speed_bound
            err[i] = r.pressure_error
            temp[i] = r.temperature
            steps[i] = r.steps
        flux = euler_flux(st, P)
        wave = np.max(np.abs(st.u), axis=0) + speed
        info = {"wave_speed": wave, "pressure_error": err, "temperature": temp,
                "md_steps": steps}
        return Response(flux=flux, tangent=None,
                        info={k: v.reshape(st.pts) for k, v in info.items()})


class EOSFlux(LennardJonesStates, OracleBase):
    """Euler flux of a fluid with a published equation of state ``p(rho, e)``.

    Parameters
    ----------
    eos : LennardJonesEOS, optional
        The equation of state (default: Johnson–Zollweg–Gubbins, reduced units).
    dim : {1, 2, 3}
        Space dimension.

    ``evaluate(U)`` solves ``e(rho, T) = e`` for the temperature, then returns
    ``flux (dim, dim + 2, *pts)`` with ``p(rho, T)`` and ``info["wave_speed"]`` =
    ``max |u_k| + c`` with the adiabatic sound speed ``c(rho, T)``, and
    ``info["temperature"]``.
    """

    measure = "conserved"

    def __init__(self, eos: LennardJonesEOS | None = None, dim: int = 1):
        self.eos = LennardJonesEOS("jzg") if eos is None else eos
        if not isinstance(self.eos, LennardJonesEOS):
            raise ValueError(f"EOSFlux: eos must be a LennardJonesEOS, got "
                             f"{type(self.eos).__name__}")
        self.dim = _check_dim("EOSFlux", dim)
        self.n_conserved = self.ncons = self.dim + 2
        self.energy_floor = -10.0 * self.eos.epsilon / self.eos.mass

    def __repr__(self) -> str:
        return f"EOSFlux({self.eos!r}, dim={self.dim})"

    def evaluate(self, U, x=None, state=None) -> Response:
        """Flux ``(dim, dim + 2, *pts)``, ``info["wave_speed"]`` and ``info["temperature"]``.

        Raises
        ------
        OracleError
            For non-finite input, ``rho <= 0``, or an energy the fit does not reach.
        """
        st = rest_state("EOSFlux", self, U, e_min=self.energy_floor, strict=True)
        try:
            T = self.eos.temperature(st.rho, st.e)
            p = self.eos.pressure(st.rho, T)
            c = self.eos.sound_speed(st.rho, T)
        except ValueError as exc:
            raise OracleError(f"EOSFlux: {exc}") from None
        wave = np.max(np.abs(st.u), axis=0) + c
        return Response(flux=euler_flux(st, p), tangent=None,
                        info={"wave_speed": wave.reshape(st.pts),
                              "temperature": T.reshape(st.pts)})

