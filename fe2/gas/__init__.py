"""Gas dynamics by HMM: central finite-volume schemes fed by flux oracles.

The macro model is ``U_t + div F(U) = 0`` with ``U = (rho, rho u, E)``; the flux comes
from an oracle with measure ``"conserved"`` (:class:`IdealGas`, the closed-form
reference, or a kinetic / molecular micro model), and the staggered Lax–Friedrichs and
Nessyahu–Tadmor schemes need nothing but flux values and a wave-speed bound.
:func:`exact_riemann` is the ideal-gas reference solution.
:class:`MolecularDynamicsFlux` takes the flux from equilibrium molecular dynamics of a
Lennard-Jones fluid at each point (best wrapped in :class:`TabulatedFlux`);
:class:`EOSFlux` from a published equation of state of that fluid, its reference.
"""

from .ideal import IdealGas, conserved, fluid_of, primitive
from .kinetic import KineticFlux
from .molecular import EOSFlux, MolecularDynamicsFlux
from .output import evolve_series, plot_profiles, profiles, write_profiles, write_series
from .riemann import StarState, exact_riemann, star_state
from .schemes import (
    BOUNDARIES,
    LIMITERS,
    SCHEMES,
    FlowResult,
    ShockTubeResult,
    evolve,
    limited_slope,
    shock_tube,
)
from .schemes2d import BOUNDARIES_2D, FlowResult2D, evolve2d
from .tabulated import TabulatedFlux

__all__ = [
    "EOSFlux",
    "MolecularDynamicsFlux",
    "TabulatedFlux",
    "BOUNDARIES_2D",
    "FlowResult2D",
    "evolve2d",
    "evolve_series",
    "plot_profiles",
    "profiles",
    "write_profiles",
    "write_series",
    "BOUNDARIES",
    "LIMITERS",
    "SCHEMES",
    "FlowResult",
    "IdealGas",
    "KineticFlux",
    "ShockTubeResult",
    "StarState",
    "conserved",
    "fluid_of",
    "evolve",
    "exact_riemann",
    "limited_slope",
    "primitive",
    "shock_tube",
    "star_state",
]
