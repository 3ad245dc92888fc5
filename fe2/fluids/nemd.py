"""Stress from non-equilibrium molecular dynamics of a Lennard-Jones fluid (SLLOD).

Each macro point carries a cubic periodic box of ``n_particles`` Lennard-Jones atoms
(truncated and shifted at ``cutoff``) at number density ``density``, driven by the local
velocity gradient with the SLLOD equations of motion and Lees–Edwards boundaries, kept at
``temperature`` by an isokinetic thermostat on the peculiar momenta
(:func:`fe2.fluids.kernels.sllod_steps`). The stress is the Irving–Kirkwood volume average
``P = (sum p p + sum d f) / V`` time-averaged over the micro steps of the macro step, and
the oracle returns the deviatoric part of ``-P`` in the flow plane (the isotropic part
goes into the macro pressure).

Scope: Lees–Edwards boundaries realise planar Couette flow, so the velocity gradient must
be a simple shear ``L = [[0, rate], [0, 0]]`` (as in a channel); the MD sees only the
shear rate, and other components larger than ``max_non_shear`` times the largest rate
(in a channel they are small, seeded by the MD's own noise: neighbouring boxes decorrelate
because MD is chaotic) are refused with :class:`fe2.oracle.OracleError`. A channel
should therefore be one cell long (``MACGrid(1, ny, periodic_x=True)``), so that the
flow cannot vary along x. General planar flows need deforming cells with
Kraynik–Reinelt-type remapping, which this module does not implement.

Units: reduced Lennard-Jones units (``sigma``, ``epsilon``, mass 1, ``k_B = 1``) for the
micro model. ``time_unit`` and ``stress_unit`` convert the macro units: the micro model
sees the shear rate ``rate * time_unit`` and returns ``stress_unit * tau``.

Seamless coupling: by default each macro step advances every box by ``dt / time_unit`` of
micro time (time-accurate); ``micro_steps`` fixes the number of MD steps per macro step
whatever ``dt`` is (the time-scale ratio of the seamless method). The boxes are never
re-initialised: positions, momenta and the Lees–Edwards offset are the oracle's state.
"""

from __future__ import annotations

import numpy as np

from fe2.atomistic.lattice import get_lattice
from fe2.atomistic.potentials import LennardJones
from fe2.oracle import OracleBase, OracleError, Response

from . import kernels
from .stress import _positive

__all__ = ["LennardJonesNEMD"]


class LennardJonesNEMD(OracleBase):
    """Lennard-Jones fluid under simple shear by SLLOD molecular dynamics.

    Parameters
    ----------
    density, temperature : float
        Reduced number density and temperature of the fluid.
    n_particles : int
        Atoms per box: ``4 k^3`` (fcc start), e.g. 108, 256, 500; the box side must
        exceed twice the cutoff.
    cutoff : float
        Truncation radius (potential shifted to zero there).
    timestep : float
        MD step (reduced time).
    micro_steps : int, optional
        MD steps per macro step (seamless); default ``round(dt / time_unit / timestep)``.
    equilibration : int
        MD steps at rest before the first macro step.
    seed : int
        Seed of the initial velocities (the same start at every point).
    time_unit, stress_unit : float
        Macro units of one reduced time and one reduced stress.
    viscosity_estimate : float, optional
        Reported as ``zero_shear_viscosity`` (macro units) for the macro solver's
        stabilisation and for ``lid_driven_cavity``'s density; not used by the MD.
    max_non_shear : float
        Largest accepted ratio of the non-shear velocity-gradient components to the
        largest shear rate of a batch (they are ignored by the MD).
    """

    measure = "velocity_gradient"
    dim = 2

    def __init__(self, density: float = 0.8, temperature: float = 1.0, n_particles: int = 108,
                 cutoff: float = 2.5, timestep: float = 0.005, micro_steps: int | None = None,
                 equilibration: int = 2000, seed: int = 0, time_unit: float = 1.0,
                 stress_unit: float = 1.0, viscosity_estimate: float | None = None,
                 max_non_shear: float = 0.05):
        _positive("LennardJonesNEMD", density=density, temperature=temperature, cutoff=cutoff,
                  timestep=timestep, time_unit=time_unit, stress_unit=stress_unit)
        k = round((n_particles / 4) ** (1 / 3))
        if isinstance(n_particles, bool) or 4 * k**3 != n_particles:
            raise ValueError(f"LennardJonesNEMD: n_particles must be 4 k^3 (108, 256, 500, ...), "
                             f"got {n_particles!r}")
        L = (n_particles / density) ** (1 / 3)
        if L <= 2 * cutoff:
            raise ValueError(f"LennardJonesNEMD: box side {L:.3g} must exceed twice the cutoff "
                             f"{cutoff}; use more particles")
        if micro_steps is not None and (not isinstance(micro_steps, int | np.integer)
                                        or micro_steps < 1):
            raise ValueError(f"LennardJonesNEMD: micro_steps must be an integer >= 1, got "
                             f"{micro_steps!r}")
        self.density, self.temperature = float(density), float(temperature)
        self.n_particles, self.cutoff, self.timestep = int(n_particles), float(cutoff), timestep
        self.micro_steps = micro_steps
        self.equilibration = int(equilibration)
        self.seed = int(seed)
        self.time_unit, self.stress_unit = float(time_unit), float(stress_unit)
        self.viscosity_estimate = viscosity_estimate
        self.max_non_shear = float(max_non_shear)
        self.box = L
        self.potential = LennardJones(1.0, 1.0, cutoff, shift="energy")

    @property
    def zero_shear_viscosity(self) -> float | None:
        """``viscosity_estimate`` (macro units), or None."""
        return self.viscosity_estimate

    @property
    def solvent_viscosity(self) -> float:
        """0: all of the stress comes from the MD."""
        return 0.0

    def _run(self, x, p, st, rate, nsteps, acc):
        kernels.sllod_steps(x, p, st, self.box, rate, self.potential.kind,
                            np.ascontiguousarray(self.potential.params), self.timestep, nsteps,
                            self.temperature, acc)

    def initial_state(self, pts):
        """Equilibrated box (fcc start melted at rest), the same at every point.

        ``{"x": (n, 3, *pts), "p": (n, 3, *pts), "offset": pts}``.
        """
        n, L = self.n_particles, self.box
        k = round((n / 4) ** (1 / 3))
        x = np.ascontiguousarray(get_lattice("fcc").crystal(k, L / k).positions[:n], float)
        x -= L * np.floor(x / L)
        rng = np.random.default_rng(self.seed)
        p = rng.standard_normal((n, 3))
        p -= p.mean(axis=0)
        p *= np.sqrt(self.temperature * 3 * (n - 1) / (p * p).sum())
        st = np.zeros(1)
        if self.equilibration:
            self._run(x, p, st, 0.0, self.equilibration, np.zeros(6))
        shape = (n, 3) + tuple(pts)
        ones = (1,) * len(pts)
        return {"x": np.broadcast_to(x.reshape((n, 3) + ones), shape).copy(),
                "p": np.broadcast_to(p.reshape((n, 3) + ones), shape).copy(),
                "offset": np.zeros(pts)}

    def evaluate(self, g, x=None, state=None, dt=None) -> Response:
        """Advance every box under its shear rate ``g[0, 1]``; time-averaged stress.

        ``g`` ``(2, 2, *pts)`` must be simple shear along x: the MD sees only ``g[0, 1]``;
        the other components must stay below ``max_non_shear`` times the largest rate of
        the batch (they arise from the MD noise itself in a channel). Returns the stress
        ``(2, 2, *pts)``, the advanced state and ``info`` with ``tau_xy_se`` (naive
        standard error of the window mean, ignoring correlations) and ``md_steps``.
        """
        pts = self.check_input(g)
        npts = int(np.prod(pts)) if pts else 1
        G = np.asarray(g, float).reshape(2, 2, npts)
        scale = np.abs(G[0, 1]).max(initial=0.0)
        other = np.abs(G[[0, 1, 1], [0, 0, 1]]).max(initial=0.0)
        if other > self.max_non_shear * scale + 1e-9:
            i = int(np.argmax(np.abs(G[[0, 1, 1], [0, 0, 1]]).max(axis=0)))
            raise OracleError(
                f"LennardJonesNEMD: Lees–Edwards boundaries need simple shear "
                f"L = [[0, rate], [0, 0]]; point {i} has L = {G[..., i].round(6).tolist()}"
            )
        if state is None:
            state = self.initial_state(pts)
        n = self.n_particles
        X = np.asarray(state["x"], float).reshape(n, 3, npts)
        P = np.asarray(state["p"], float).reshape(n, 3, npts)
        off = np.asarray(state["offset"], float).reshape(npts)
        dtf = 0.0 if dt is None else float(dt)
        if self.micro_steps is not None:
            m = self.micro_steps if dtf > 0 else 0
        else:
            m = int(round(dtf / self.time_unit / self.timestep))
        Xn, Pn, offn = np.empty_like(X), np.empty_like(P), np.empty_like(off)
        tau = np.zeros((2, 2, npts))
        se = np.zeros(npts)
        for q in range(npts):
            xq = np.ascontiguousarray(X[..., q])
            pq = np.ascontiguousarray(P[..., q])
            st = np.array([off[q]])
            acc = np.zeros(6)
            rate = G[0, 1, q] * self.time_unit
            if m:
                self._run(xq, pq, st, rate, m, acc)
            else:  # no time step: the stress of the current configuration
                self._run(xq.copy(), pq.copy(), st.copy(), 0.0, 1, acc)
            mean = acc[:4] / acc[5]
            pr = mean[:3].sum() / 3.0
            tau[0, 0, q] = -(mean[0] - pr)
            tau[1, 1, q] = -(mean[1] - pr)
            tau[0, 1, q] = tau[1, 0, q] = -mean[3]
            var = max(acc[4] / acc[5] - mean[3] ** 2, 0.0)
            se[q] = np.sqrt(var / acc[5])
            Xn[..., q], Pn[..., q], offn[q] = xq, pq, st[0]
        return Response(
            flux=(self.stress_unit * tau).reshape((2, 2) + pts),
            state={"x": Xn.reshape((n, 3) + pts), "p": Pn.reshape((n, 3) + pts),
                   "offset": offn.reshape(pts)},
            info={"tau_xy_se": (self.stress_unit * se).reshape(pts),
                  "md_steps": np.full(pts, float(m))},
        )
