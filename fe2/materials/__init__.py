"""Pointwise constitutive laws, each an oracle (see :mod:`fe2.oracle`).

- :class:`LinearConductivity` (measure ``gradient``): ``q = K grad u``
- :class:`NonlinearConductivity` (``gradient``): ``q = k0 (reg^2 + |g|^2)^((p-2)/2) g``
- :class:`LinearElastic` (``strain``): Cauchy stress, 3D, plane strain or plane stress
- :class:`SaintVenantKirchhoff` (``deformation_gradient``): first Piola–Kirchhoff stress
- :class:`NeoHookean` (``deformation_gradient``): first Piola–Kirchhoff stress
- :class:`J2Plasticity` (``strain``): Cauchy stress, history ``eps_p``, ``alpha``, ``beta``

The nonlinear laws have a vectorised numpy reference and a per-point numba
twin (``backend="numba"``, the default); both agree to round-off. All objects
hold plain attributes only, so they pickle into process pools.

>>> from fe2.materials import from_dict
>>> from_dict({"type": "LinearElastic", "E": 1.0, "nu": 0.25}, dim=2)
LinearElastic(E=1.0, nu=0.25, plane='strain')
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from fe2.materials.conductivity import LinearConductivity, NonlinearConductivity
from fe2.materials.elasticity import LinearElastic
from fe2.materials.hyperelastic import NeoHookean, SaintVenantKirchhoff
from fe2.materials.plasticity import J2Plasticity

__all__ = [
    "LinearConductivity",
    "NonlinearConductivity",
    "LinearElastic",
    "SaintVenantKirchhoff",
    "NeoHookean",
    "J2Plasticity",
    "MATERIALS",
    "from_dict",
]

MATERIALS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        LinearConductivity,
        NonlinearConductivity,
        LinearElastic,
        SaintVenantKirchhoff,
        NeoHookean,
        J2Plasticity,
    )
}


def _parameters(cls: type) -> tuple[list[str], list[str]]:
    """Names of all and of the required constructor parameters of ``cls``."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    names = [p.name for p in params]
    required = [p.name for p in params if p.default is inspect.Parameter.empty]
    return names, required


def from_dict(spec: Mapping[str, Any], dim: int) -> Any:
    """Build a material from a mapping such as a TOML table.

    Parameters
    ----------
    spec : mapping
        ``{"type": <class name>, <constructor parameter>: <value>, ...}``, e.g.
        ``{"type": "LinearElastic", "E": 1.0, "nu": 0.3, "plane": "strain"}``.
        A ``"dim"`` key, when present, must equal ``dim``.
    dim : int
        Space dimension of the macro problem. It fills the ``dim`` parameter;
        for :class:`LinearElastic` ``dim = 3`` means ``plane = None`` and
        ``dim = 2`` defaults to ``plane = "strain"``.

    Raises
    ------
    ValueError
        Unknown type, unknown or missing parameter (the message lists the valid
        names), a dimension that does not match, or a bad parameter value.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"material spec must be a mapping, got {type(spec).__name__}")
    kwargs = dict(spec)
    if "type" not in kwargs:
        raise ValueError(
            f"material spec needs a 'type' key, one of {', '.join(MATERIALS)}; "
            f"got keys {', '.join(map(str, kwargs)) or 'none'}"
        )
    name = kwargs.pop("type")
    cls = MATERIALS.get(name)
    if cls is None:
        raise ValueError(f"unknown material type {name!r}; expected one of {', '.join(MATERIALS)}")
    if "dim" in kwargs:
        if kwargs["dim"] != dim:
            raise ValueError(
                f"{name}: dim = {kwargs['dim']!r} in the material spec does not match the "
                f"problem dimension {dim}"
            )
        del kwargs["dim"]
    names, required = _parameters(cls)
    unknown = [k for k in kwargs if k not in names]
    if unknown:
        valid = ["type"] + [n for n in names if n != "dim"]
        raise ValueError(
            f"{name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid names are {', '.join(valid)}"
        )
    if cls is LinearElastic:
        if dim == 3:
            if kwargs.get("plane") is not None:
                raise ValueError(
                    f"{name}: plane = {kwargs['plane']!r} needs dim 2, but the problem has dim 3"
                )
        elif dim == 2:
            kwargs.setdefault("plane", "strain")
            if kwargs["plane"] is None:
                raise ValueError(f"{name}: dim 2 needs plane = 'strain' or 'stress', got None")
        else:
            raise ValueError(f"{name}: dimension dim must be 2 or 3, got {dim!r}")
    elif "dim" in names:
        kwargs["dim"] = dim
    missing = [k for k in required if k not in kwargs]
    if missing:
        raise ValueError(
            f"{name}: missing parameter(s) {', '.join(map(repr, missing))}; "
            f"required names are {', '.join(r for r in required)}"
        )
    return cls(**kwargs)
