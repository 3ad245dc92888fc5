"""Stress from non-equilibrium molecular dynamics of a Lennard-Jones fluid (SLLOD).

Each macro point carries a cubic periodic box of ``n_particles`` Lennard-Jones atoms
(truncated and shifted at ``cutoff``) at number density ``density``, driven by the local
velocity gradient with the SLLOD equations of motion and Lees–Edwards boundaries, kept at
``temperature`` by an isokinetic thermostat on the peculiar momenta
(:func:`fe2.fluids.kernels.sllod_steps`). The stress is the Irving–Kirkwood volume average
``P = (sum p p + sum d f) / V`` time-averaged over the micro steps of the macro step, and
the oracle returns the deviatoric part of ``-P`` in the flow plane (the isotropic part
goes into the macro pressure).

Two kinds of periodic cell (``cell``):

- ``"lees_edwards"``: Lees–Edwards boundaries realise planar Couette flow, so the
  velocity gradient must be a simple shear ``L = [[0, rate], [0, 0]]`` (as in a channel);
  the MD sees only the shear rate, and other components larger than ``max_non_shear``
  times the largest rate (in a channel they are small, seeded by the MD's own noise) are
  refused with :class:`fe2.oracle.OracleError`.
- ``"deforming"``: any traceless in-plane velocity gradient ``L`` (shear, planar
  elongation, rotation and their mixtures; the xy plane of the 3D box, z periodic and
  undeformed). The box deforms with the flow, ``h' = L h``, and whenever its basis is no
  longer Lagrange–Gauss reduced it is remapped to the reduced basis of the same lattice
  (the generalised Kraynik–Reinelt / Lees–Edwards remapping of Dobson 2014 and Hunt 2016,
  "Periodic boundary conditions for arbitrary deformations in molecular dynamics
  simulations", J. Comput. Phys. 315): the periodic system is unchanged, so the remap is
  exact. Simple shear remaps exactly as Lees–Edwards does. Elongation shrinks the
  shortest lattice vector without bound unless the box starts in the Kraynik–Reinelt
  orientation (``orientation="kraynik-reinelt"``, for elongation along x or y; Kraynik &
  Reinelt 1992, Todd & Daivis 1998): when it falls below twice the cutoff
  the box is re-initialised to the equilibrated start and ``reinit_warmup`` MD steps are
  left out of the average; ``info["md_reinit"]`` counts them per macro step and the state
  keeps the total. Larger boxes (``n_particles = 256, 500``) live longer.

Units: reduced Lennard-Jones units (``sigma``, ``epsilon``, mass 1, ``k_B = 1``) for the
micro model. ``time_unit`` and ``stress_unit`` convert the macro units: the micro model
sees the shear rate ``rate * time_unit`` and returns ``stress_unit * tau``.

Seamless coupling: by default each macro step advances every box by ``dt / time_unit`` of
micro time (time-accurate); ``micro_steps`` fixes the number of MD steps per macro step
whatever ``dt`` is (the time-scale ratio of the seamless method). Positions, momenta and
the Lees–Edwards offset (or the deformed box) are the oracle's state; boxes are not
re-initialised between macro steps (except for the elongation limit above).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from fe2.atomistic.lattice import get_lattice
from fe2.atomistic.potentials import LennardJones
from fe2.oracle import OracleBase, OracleError, Response

from . import kernels
from .stress import _positive

__all__ = ["KRAYNIK_REINELT_ANGLE", "LennardJonesNEMD"]

#: Start angle of the Kraynik–Reinelt lattice for planar elongation along x (radians).
KRAYNIK_REINELT_ANGLE = float(np.arctan((np.sqrt(5.0) - 1.0) / 2.0))


class LennardJonesNEMD(OracleBase):
    """Lennard-Jones fluid under a planar velocity gradient by SLLOD molecular dynamics.

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
        ``cell="lees_edwards"``: largest accepted ratio of the non-shear velocity-gradient
        components to the largest shear rate of a batch (they are ignored by the MD).
    cell : {"lees_edwards", "deforming"}
        Simple shear with Lees–Edwards boundaries, or any traceless planar ``L`` in a
        deforming, remapped box (see the module docstring).
    reinit_warmup : int
        ``cell="deforming"``: MD steps after a re-initialisation left out of the average.
    orientation : float or "kraynik-reinelt"
        ``cell="deforming"``: in-plane rotation (radians) of the start box.
        ``"kraynik-reinelt"`` (``arctan((sqrt 5 - 1)/2)``, 31.72 degrees) makes planar
        elongation along x or y time-periodic: the reduced lattice returns to itself
        every Hencky strain ``ln((3 + sqrt 5)/2) = 0.962`` and its shortest vector never
        falls below 0.9457 of the box side, so there is no re-initialisation.
    max_trace : float
        ``cell="deforming"``: largest accepted ``|L_xx + L_yy|`` relative to the largest
        ``|L|`` of the batch (the box keeps its volume; the macro solver's discrete
        divergence is ~0 up to the pressure solver's tolerance); the trace is removed
        before the MD sees ``L``.
    """

    measure = "velocity_gradient"
    dim = 2

    def __init__(self, density: float = 0.8, temperature: float = 1.0, n_particles: int = 108,
                 cutoff: float = 2.5, timestep: float = 0.005, micro_steps: int | None = None,
                 equilibration: int = 2000, seed: int = 0, time_unit: float = 1.0,
                 stress_unit: float = 1.0, viscosity_estimate: float | None = None,
                 max_non_shear: float = 0.05, cell: str = "lees_edwards",
                 reinit_warmup: int = 50, max_trace: float = 1e-6,
                 orientation: float | str = 0.0):
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
        if cell not in ("lees_edwards", "deforming"):
            raise ValueError(f"LennardJonesNEMD: cell must be 'lees_edwards' or 'deforming', "
                             f"got {cell!r}")
        if not isinstance(reinit_warmup, int | np.integer) or reinit_warmup < 0:
            raise ValueError(f"LennardJonesNEMD: reinit_warmup must be an integer >= 0, got "
                             f"{reinit_warmup!r}")
        self.cell, self.reinit_warmup, self.max_trace = cell, int(reinit_warmup), float(max_trace)
        if isinstance(orientation, str):
            if orientation != "kraynik-reinelt":
                raise ValueError(f"LennardJonesNEMD: orientation must be an angle (radians) or "
                                 f"'kraynik-reinelt', got {orientation!r}")
            orientation = KRAYNIK_REINELT_ANGLE
        if not np.isfinite(orientation):
            raise ValueError(f"LennardJonesNEMD: orientation must be finite, got {orientation!r}")
        self.orientation = float(orientation)
        self._start = None  # equilibrated box (deterministic in the parameters), made once
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

    def equilibrated(self) -> tuple[np.ndarray, np.ndarray]:
        """The start box: fcc melted at rest, ``(x (n, 3), p (n, 3))`` (made once)."""
        if self._start is None:
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
            self._start = (x, p)
        return self._start

    def start_box(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The start (and re-initialisation) box: ``x (n, 3)``, ``p (n, 3)``, ``h (2, 2)``.

        The equilibrated cube, rotated in the plane by ``orientation`` (a rigid rotation
        of the periodic system: the same fluid). Lees–Edwards cells are never rotated.
        """
        x, p = self.equilibrated()
        if self.cell == "lees_edwards" or self.orientation == 0.0:
            return x, p, self.box * np.eye(2)
        c, s = np.cos(self.orientation), np.sin(self.orientation)
        R = np.array([[c, -s], [s, c]])
        xr, pr = x.copy(), p.copy()
        xr[:, :2] = x[:, :2] @ R.T
        pr[:, :2] = p[:, :2] @ R.T
        return xr, pr, self.box * R

    def initial_state(self, pts):
        """Equilibrated box (fcc start melted at rest), the same at every point.

        ``{"x": (n, 3, *pts), "p": (n, 3, *pts), "offset": pts}`` (Lees–Edwards) or
        ``{"x", "p", "box": (2, 2, *pts) in-plane basis (columns), "remaps": pts,
        "reinits": pts}`` (deforming).
        """
        n = self.n_particles
        x, p, h0 = self.start_box()
        shape = (n, 3) + tuple(pts)
        ones = (1,) * len(pts)
        out = {"x": np.broadcast_to(x.reshape((n, 3) + ones), shape).copy(),
               "p": np.broadcast_to(p.reshape((n, 3) + ones), shape).copy()}
        if self.cell == "lees_edwards":
            out["offset"] = np.zeros(pts)
        else:
            out["box"] = np.broadcast_to(h0.reshape((2, 2) + ones), (2, 2) + tuple(pts)).copy()
            out["remaps"] = np.zeros(pts)
            out["reinits"] = np.zeros(pts)
        return out

    def _steps(self, dt):
        dtf = 0.0 if dt is None else float(dt)
        if self.micro_steps is not None:
            return self.micro_steps if dtf > 0 else 0
        return int(round(dtf / self.time_unit / self.timestep))

    @staticmethod
    def _tau(acc):
        mean = acc[:4] / acc[5]
        pr = mean[:3].sum() / 3.0
        tau = np.array([[-(mean[0] - pr), -mean[3]], [-mean[3], -(mean[1] - pr)]])
        var = max(acc[4] / acc[5] - mean[3] ** 2, 0.0)
        return tau, np.sqrt(var / acc[5])

    def _evaluate_deforming(self, G, pts, npts, state, dt) -> Response:
        tr = G[0, 0] + G[1, 1]
        size = np.sqrt((G * G).sum(axis=(0, 1)))
        bad = np.abs(tr) > self.max_trace * size.max(initial=0.0) + 1e-12
        if bad.any():
            i = int(np.argmax(bad))
            raise OracleError(
                f"LennardJonesNEMD: the velocity gradient must be traceless (incompressible); "
                f"point {i} has L = {G[..., i].round(6).tolist()}, trace {tr[i]:.3g}")
        if state is None:
            state = self.initial_state(pts)
        n, L0 = self.n_particles, self.box
        X = np.asarray(state["x"], float).reshape(n, 3, npts)
        P = np.asarray(state["p"], float).reshape(n, 3, npts)
        H = np.asarray(state["box"], float).reshape(2, 2, npts)
        rem = np.asarray(state["remaps"], float).reshape(npts)
        rei = np.asarray(state["reinits"], float).reshape(npts)
        m = self._steps(dt)
        x0, p0, h0 = self.start_box()
        x0, p0, h0 = (np.ascontiguousarray(a) for a in (x0, p0, h0))
        prm = np.ascontiguousarray(self.potential.params)
        Xn, Pn, Hn = np.empty_like(X), np.empty_like(P), np.empty_like(H)
        tau = np.zeros((2, 2, npts))
        se = np.zeros(npts)
        nrem, nrei = np.zeros(npts), np.zeros(npts)
        h = self.timestep
        for q in range(npts):
            Lq = G[..., q] * self.time_unit
            Lq = Lq - 0.5 * np.trace(Lq) * np.eye(2)
            A = np.zeros((4, 4))
            A[:2, :2] = Lq * h
            A[:2, 2:] = h * np.eye(2)
            E = expm(A)
            M, N = np.ascontiguousarray(E[:2, :2]), np.ascontiguousarray(E[:2, 2:])
            xq, pq = np.ascontiguousarray(X[..., q]), np.ascontiguousarray(P[..., q])
            hq = np.ascontiguousarray(H[..., q])
            acc, counts = np.zeros(6), np.zeros(2)
            if m:
                kernels.sllod_box_steps(xq, pq, hq, L0, np.ascontiguousarray(Lq), M, N,
                                        self.potential.kind, prm, h, m, self.temperature, x0,
                                        p0, h0, self.reinit_warmup, acc, counts)
            if acc[5] == 0:  # no time step (or all warm-up): the current configuration
                kernels.sllod_box_steps(xq.copy(), pq.copy(), hq.copy(), L0, np.zeros((2, 2)),
                                        np.eye(2), h * np.eye(2), self.potential.kind, prm, h,
                                        1, self.temperature, x0, p0, h0, 0, acc, np.zeros(2))
            tau[..., q], se[q] = self._tau(acc)
            Xn[..., q], Pn[..., q], Hn[..., q] = xq, pq, hq
            nrem[q], nrei[q] = counts
        return Response(
            flux=(self.stress_unit * tau).reshape((2, 2) + pts),
            state={"x": Xn.reshape((n, 3) + pts), "p": Pn.reshape((n, 3) + pts),
                   "box": Hn.reshape((2, 2) + pts), "remaps": (rem + nrem).reshape(pts),
                   "reinits": (rei + nrei).reshape(pts)},
            info={"tau_xy_se": (self.stress_unit * se).reshape(pts),
                  "md_steps": np.full(pts, float(m)), "md_remap": nrem.reshape(pts),
                  "md_reinit": nrei.reshape(pts)},
        )

    def evaluate(self, g, x=None, state=None, dt=None) -> Response:
        """Advance every box under its velocity gradient; time-averaged stress.

        ``g`` ``(2, 2, *pts)``, ``g[i, j] = du_i/dx_j``. With ``cell="lees_edwards"`` it
        must be simple shear along x: the MD sees only ``g[0, 1]``; the other components
        must stay below ``max_non_shear`` times the largest rate of the batch. With
        ``cell="deforming"`` any traceless ``g``. Returns the stress ``(2, 2, *pts)``, the
        advanced state and ``info`` with ``tau_xy_se`` (naive standard error of the window
        mean, ignoring correlations), ``md_steps`` and (deforming) ``md_remap``,
        ``md_reinit`` (remaps and re-initialisations in this step).
        """
        pts = self.check_input(g)
        npts = int(np.prod(pts)) if pts else 1
        G = np.asarray(g, float).reshape(2, 2, npts)
        if self.cell == "deforming":
            return self._evaluate_deforming(G, pts, npts, state, dt)
        scale = np.abs(G[0, 1]).max(initial=0.0)
        other = np.abs(G[[0, 1, 1], [0, 0, 1]]).max(initial=0.0)
        if other > self.max_non_shear * scale + 1e-9:
            i = int(np.argmax(np.abs(G[[0, 1, 1], [0, 0, 1]]).max(axis=0)))
            raise OracleError(
                f"LennardJonesNEMD: Lees–Edwards boundaries need simple shear "
                f"L = [[0, rate], [0, 0]]; point {i} has L = {G[..., i].round(6).tolist()} "
                f"(cell='deforming' takes any planar flow)"
            )
        if state is None:
            state = self.initial_state(pts)
        n = self.n_particles
        X = np.asarray(state["x"], float).reshape(n, 3, npts)
        P = np.asarray(state["p"], float).reshape(n, 3, npts)
        off = np.asarray(state["offset"], float).reshape(npts)
        m = self._steps(dt)
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
            tau[..., q], se[q] = self._tau(acc)
            Xn[..., q], Pn[..., q], offn[q] = xq, pq, st[0]
        return Response(
            flux=(self.stress_unit * tau).reshape((2, 2) + pts),
            state={"x": Xn.reshape((n, 3) + pts), "p": Pn.reshape((n, 3) + pts),
                   "offset": offn.reshape(pts)},
            info={"tau_xy_se": (self.stress_unit * se).reshape(pts),
                  "md_steps": np.full(pts, float(m))},
        )
