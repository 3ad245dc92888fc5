"""Complex fluids by seamless HMM: a MAC projection solver whose stress comes from an oracle.

The macro model is ``rho (u_t + u . grad u) + grad p = div tau``, ``div u = 0`` in 2D,
solved on a staggered (MAC) grid by Chorin's projection method
(:class:`NavierStokes2D`, :class:`MACGrid`). The extra stress ``tau`` comes from an oracle
with measure ``"velocity_gradient"`` evaluated at the cell centres: closed forms
(:class:`Newtonian`, :class:`OldroydB`, :class:`FENEP`) or particle micro models
(:class:`HookeanDumbbells`, :class:`FENEDumbbells`; :class:`LennardJonesNEMD`, SLLOD
molecular dynamics in simple shear with Lees–Edwards boundaries or under any planar
velocity gradient in a deforming, remapped box) whose ensembles are advanced by each
macro step and never re-initialised (seamless coupling); :func:`time_average` gives the
time averages and batch-means errors of such noisy runs.

Ready-made flows: :func:`lid_driven_cavity`, :func:`channel` (periodic, pressure-driven
or sliding walls), :func:`start_up_shear` (homogeneous shear at one point). Outputs:
:func:`write_series` (ParaView ``.vti`` + ``.pvd``), :func:`write_profiles` (CSV + JSON),
:func:`plot_centerlines`, :func:`plot_streamlines`. Case files: :func:`run_fluid_case`.
:mod:`fe2.fluids.reference` holds the published cavity tables and the closed forms used
to verify them.
"""

from . import reference
from .case import FluidCase, FluidCaseError, load_fluid_case, run_fluid_case
from .coarse import DumbbellModel
from .dumbbells import FENEDumbbells, HookeanDumbbells
from .flows import FlowResult, channel, lid_driven_cavity, run, start_up_shear, time_average
from .grid import MACGrid
from .nemd import LennardJonesNEMD
from .output import plot_centerlines, plot_streamlines, write_profiles, write_series
from .solver import FlowState, NavierStokes2D
from .stress import FENEP, Newtonian, OldroydB

__all__ = [
    "DumbbellModel",
    "FENEDumbbells",
    "FENEP",
    "FlowResult",
    "FluidCase",
    "FluidCaseError",
    "FlowState",
    "HookeanDumbbells",
    "LennardJonesNEMD",
    "MACGrid",
    "NavierStokes2D",
    "Newtonian",
    "OldroydB",
    "channel",
    "lid_driven_cavity",
    "load_fluid_case",
    "plot_centerlines",
    "plot_streamlines",
    "reference",
    "run",
    "run_fluid_case",
    "start_up_shear",
    "time_average",
    "write_profiles",
    "write_series",
]
