"""The case file as typed models (pydantic v2), and its one-line errors.

A case file is a TOML table validated by :class:`Case` (``extra="forbid"`` and
strict types at every level: a boolean or a string is never a number, an
unknown key is an error, NaN and infinities are refused). Material tables are
checked against the constructors of :mod:`fe2.materials` (one model per class,
made from its signature), RVE tables against :class:`fe2.homogenization.RVE`
and the cell generators of :mod:`fe2.homogenization.cells`.

Pydantic's errors are translated into one line naming the file, the field, the
value and what was expected::

    case.toml: newton.steps: expected an integer >= 1 (initial number of load steps), got a
    string "two"

:func:`case_schema` is the JSON schema of the file (``fe2 schema``), for
editors: Taplo / Even Better TOML read it from a first line
``#:schema ./case.schema.json``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
)

__all__ = ["CaseError", "Case", "load_case", "case_schema", "KINDS", "CELL_TYPES"]

from fe2.gas.schemes import BOUNDARIES as GAS_BOUNDARIES
from fe2.gas.schemes import LIMITERS as GAS_LIMITERS
from fe2.gas.schemes import SCHEMES as GAS_SCHEMES

KINDS = ("scalar", "small_strain", "finite_strain", "material_point", "shock_tube", "fluid")
CELL_TYPES = ("laminate", "checkerboard", "circular_inclusion", "inclusions",
              "random_inclusions", "image", "mesh")


class CaseError(ValueError):
    """A case file that cannot be run as written (one line: file, field, value, expected)."""


# ---------------------------------------------------------------- field helpers

def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _toml(v: Any) -> str:
    """``v`` written as in a TOML file (``true``, ``"text"``, ``nan``, ``[1, 2]``)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    return repr(v)


def _kind_of(v: Any) -> str:
    for t, name in ((bool, "a boolean"), (str, "a string"), (int, "an integer"),
                    (float, "a number"), (list, "a list"), (dict, "a table")):
        if isinstance(v, t):
            return name
    return type(v).__name__


def bad(where: str, val: Any, expected: str) -> str:
    """``"<where>: expected <expected>, got <kind> <value>"`` (without the file)."""
    return f"{where}: expected {expected}, got {_kind_of(val)} {_toml(val)}"


def _expected(kind: str, lo=None, hi=None, open_lo=False, choices=(), note="") -> str:
    base = {"int": "an integer", "number": "a finite number", "str": "a string",
            "bool": "true or false", "load": "a finite number or a list of finite numbers",
            "ints": "a non-empty list of distinct integers >= 0",
            "strs": "a list of strings", "table": "a table"}[kind]
    if choices:
        base = "one of " + ", ".join(_toml(c) for c in choices)
    elif lo is not None and hi is not None:
        base += f" in {_num(lo)}..{_num(hi)}"
    elif lo is not None:
        base += f" {'>' if open_lo else '>='} {_num(lo)}"
    return base + (f" ({note})" if note else "")


def fld(kind: str, default: Any = ..., *, lo=None, hi=None, open_lo=False, choices=(),
        note="") -> Any:
    """A pydantic ``Field`` with its range and its one-line description (what it expects)."""
    kw: dict[str, Any] = {}
    if lo is not None:
        kw["gt" if open_lo else "ge"] = lo
    if hi is not None:
        kw["le"] = hi
    if choices:
        kw["json_schema_extra"] = {"enum": list(choices)}
    return Field(default, description=_expected(kind, lo, hi, open_lo, choices, note), **kw)


def _one_of(choices: tuple) -> AfterValidator:
    def check(v):
        if v not in choices:
            raise ValueError("not one of the choices")
        return v
    return AfterValidator(check)


Num = Annotated[float, Strict(), AllowInfNan(False)]
Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
NumItem = Annotated[float, Strict(), AllowInfNan(False), Field(description="a finite number")]
IntItem = Annotated[int, Strict(), Field(description="an integer")]
StrItem = Annotated[str, Strict(), Field(description="a string")]
BoolItem = Annotated[bool, Strict(), Field(description="true or false")]
CompItem = Annotated[int, Strict(), Field(ge=0, description="an integer >= 0 (a component index)")]
Load = Num | Annotated[list[NumItem], Field(min_length=1)]


def _distinct(v: list | None) -> list | None:
    if v is not None and len(set(v)) != len(v):
        raise ValueError("components repeat")
    return v


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ------------------------------------------------------------------- sections

class Mesh(_Section):
    """``[mesh]``: the macro mesh (any file :func:`fe2.io.read_mesh` reads)."""

    file: Str = fld("str", note="mesh file, relative to the case file's folder")
    order: Annotated[Int, _one_of((1, 2))] = fld("int", 1, choices=(1, 2))
    intorder: Int | None = fld("int", None, lo=1, hi=19, note="quadrature order")


class Problem(_Section):
    """``[problem]``: what is solved."""

    kind: Annotated[Str, _one_of(KINDS)] = fld("str", choices=KINDS)


class Dirichlet(_Section):
    """``[[dirichlet]]``: prescribed values on a boundary, scaled by the load factor."""

    boundary: Str = fld("str")
    value: Load = fld("load", 0.0)
    components: Annotated[list[CompItem], Field(min_length=1),
                          AfterValidator(_distinct)] | None = fld("ints", None)


class Neumann(_Section):
    """``[[neumann]]``: a traction / boundary flux, scaled by the load factor."""

    boundary: Str = fld("str")
    value: Load = fld("load")


class Body(_Section):
    """``[[body]]``: a body load, scaled by the load factor."""

    value: Load = fld("load")
    subdomain: Str | None = fld("str", None)


class Newton(_Section):
    """``[newton]``: load stepping, cut-backs and the Newton iteration."""

    rtol: Num = fld("number", 1e-9, lo=0, open_lo=True)
    atol: Num = fld("number", 1e-12, lo=0, open_lo=True)
    max_iter: Int = fld("int", 25, lo=1)
    steps: Int = fld("int", 1, lo=1, note="initial number of load steps")
    max_cutbacks: Int = fld("int", 8, lo=0)
    grow: Num = fld("number", 1.5, lo=1,
                    note="factor by which the load step grows back after a cut-back")
    line_search: Int = fld("int", 0, lo=0, hi=30, note="backtracking halvings; 0: off")
    min_increment: Num | None = fld("number", None, lo=0, open_lo=True,
                                    note="smallest load increment before giving up")
    max_total_cutbacks: Int = fld("int", 100, lo=0, note="cut-backs allowed in the whole run")


class Solver(_Section):
    """``[solver]``: the macro linear solver (:func:`fe2.linalg.make_solver`)."""

    type: Str = fld("str", "scipy")
    prefix: Str = fld("str", "macro_")
    options: dict[str, Any] | None = fld("table", None)


class Curve(_Section):
    """``output.curve``: mean displacement vs reaction of one boundary component."""

    boundary: Str = fld("str")
    component: Int = fld("int", 0, lo=0)


OUTPUT_FORMATS = ("pvd", "xdmf")
MacroPoint = Annotated[list[Int], Field(min_length=2, max_length=2,
                                        description="[element, quadrature point]")]


class Output(_Section):
    """``[output]``: what a run writes."""

    vtu: Bool = fld("bool", True, note="write the solution series (format: pvd or xdmf)")
    png: Bool = fld("bool", True)
    format: Annotated[Str, _one_of(OUTPUT_FORMATS)] = fld(
        "str", "pvd", choices=OUTPUT_FORMATS, note="VTU + PVD series, or XDMF + HDF5")
    scalars: Str | None = fld("str", None)
    warp: Num = fld("number", 1.0)
    reactions: list[StrItem] | None = fld("strs", None)
    curve: Curve | None = Field(None, description="a table { boundary, component }")
    micro: Literal["all"] | list[MacroPoint] | None = Field(
        None, description='RVE fields of macro points: "all" or a list of [element, qp] '
        "(micro/rve.vtm + one VTU per point)")


def _executor_kinds() -> tuple[str, ...]:
    from fe2.parallel import EXECUTOR_KINDS

    return tuple(EXECUTOR_KINDS)


class Parallel(_Section):
    """``[parallel]``: where the oracle evaluations run."""

    workers: Int = fld("int", 0, lo=0, note="0: serial")
    executor: Annotated[Str, _one_of(_executor_kinds())] = fld(
        "str", "process", choices=_executor_kinds())
    chunk_size: Int | None = fld("int", None, lo=1)


COMPONENT_KEY = r"^[1-3]{1,2}$"
LoadValue = Annotated[Load, Field(description="a finite number or a list of finite numbers")]


class Point(_Section):
    """``[point]`` of a ``kind = "material_point"`` case: the load path of one oracle.

    ``strain`` and ``stress`` map components (``"11"``, ``"22"``, ``"12"``, ...,
    1-based; ``"1"``, ``"2"`` for a gradient) to their prescribed values at the
    load points ``t = 1, 2, ..., n`` (a number or a list of n numbers; the path
    starts at zero input and zero flux at ``t = 0`` and is piecewise linear in
    ``t``). A component not listed has its flux prescribed zero: ``strain =
    { 11 = 0.01 }`` alone is uniaxial stress.
    """

    dim: Annotated[Int, _one_of((2, 3))] = fld("int", 3, choices=(2, 3),
                                                note="2: plane strain for elasticity")
    strain: dict[Annotated[str, Field(pattern=COMPONENT_KEY)], LoadValue] = Field(
        default_factory=dict,
        description="prescribed input components (\"11\", \"12\", ...) -> value(s) at the "
                    "load points")
    stress: dict[Annotated[str, Field(pattern=COMPONENT_KEY)], LoadValue] = Field(
        default_factory=dict,
        description="prescribed flux components -> value(s) at the load points (default 0)")
    steps: Int = fld("int", 10, lo=1, note="increments per segment of the path")
    rtol: Num = fld("number", 1e-10, lo=0, open_lo=True)
    max_iter: Int = fld("int", 25, lo=1)
    max_cutbacks: Int = fld("int", 8, lo=0)


# ----------------------------------------------------------------- materials

def _annotation_type(annot: str) -> tuple[Any, str]:
    """Pydantic type and expectation of a constructor parameter annotation."""
    table = {
        "float": (Num, "a finite number"),
        "int": (Int, "an integer"),
        "str": (Str, "a string"),
        "bool": (Bool, "true or false"),
        "str | None": (Str | None, "a string"),
        "int | None": (Int | None, "an integer"),
        "float | None": (Num | None, "a finite number"),
        "float | np.ndarray": (Num | list[NumItem] | list[list[NumItem]],
                               "a finite number or a list of numbers"),
        "Sequence[float]": (list[NumItem], "a list of numbers"),
        "Sequence[float] | None": (list[NumItem] | None, "a list of numbers"),
        "float | Sequence[float]": (Num | list[NumItem],
                                    "a finite number or a list of numbers"),
        "float | Sequence[float] | None": (Num | list[NumItem] | None,
                                           "a finite number or a list of numbers"),
        "Sequence[int] | None": (list[IntItem] | None, "a list of integers"),
        "np.ndarray | Sequence[Sequence[float]]": (list[list[NumItem]],
                                                   "a list of lists of numbers"),
    }
    return table.get(annot, (Any, f"a value of type {annot}"))


def _model_from_signature(name: str, tag: str, func: Any, doc: str, skip: tuple = (),
                          extra: dict | None = None) -> type[BaseModel]:
    """A strict model ``{type = tag, <parameters of func>}`` (``dim``: filled in by fe2)."""
    fields: dict[str, Any] = {"type": (Literal[tag], Field(description=f'"{tag}"'))}
    params = list(inspect.signature(func).parameters.values())
    for p in params:
        if p.name in ("self",) + skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annot = "" if p.annotation is inspect.Parameter.empty else str(p.annotation)
        typ, exp = _annotation_type(annot)
        if p.name == "dim":
            fields["dim"] = (Int | None, Field(None, description="an integer (the problem's "
                                                                "dimension; filled in)"))
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (typ, Field(default, description=exp))
    fields.update(extra or {})
    return typing.cast(type[BaseModel], pydantic_create_model(name, doc, fields))


def pydantic_create_model(name: str, doc: str, fields: dict) -> type[BaseModel]:
    """``pydantic.create_model`` with the strict, extra-forbidding base of case sections."""
    from pydantic import create_model

    return create_model(name, __base__=_Section, __doc__=doc, **fields)


def _material_models() -> dict[str, type[BaseModel]]:
    from fe2 import materials

    return {n: _model_from_signature(n, n, cls.__init__, f"[materials.NAME] type = \"{n}\": "
                                     f"parameters of fe2.materials.{n}.")
            for n, cls in materials.MATERIALS.items()}


def _cell_models() -> dict[str, type[BaseModel]]:
    from fe2.homogenization import cells

    out = {}
    for n in CELL_TYPES[:5]:
        out[n] = _model_from_signature(f"Cell_{n}", n, getattr(cells, n),
                                       f"cell type = \"{n}\": fe2.homogenization.cells.{n}.")
    out["image"] = _model_from_signature(
        "Cell_image", "image", cells.from_image, "cell type = \"image\": a .npy array of "
        "phase ids (fe2.homogenization.cells.from_image).", skip=("array",),
        extra={"file": (Str, Field(description="a string (a .npy file of phase ids)"))})
    out["mesh"] = _model_from_signature(
        "Cell_mesh", "mesh", cells.from_mesh, "cell type = \"mesh\": a mesh file "
        "(fe2.homogenization.cells.from_mesh).", skip=("source", "phases"),
        extra={"file": (Str, Field(description="a string (a mesh file)")),
               "phases": (list[StrItem] | dict[str, Int] | None,
                          Field(None, description="a list of subdomain names in phase order"))})
    return out


MATERIAL_MODELS = _material_models()
CELL_MODELS = _cell_models()
Material = Annotated[Union[tuple(MATERIAL_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
CellSpec = Annotated[Union[tuple(CELL_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
Mask = list[BoolItem] | list[list[BoolItem]]
Matrix = list[NumItem] | list[list[NumItem]]


def _rve_bcs() -> tuple[str, ...]:
    from fe2.homogenization.rve import BOUNDARY_CONDITIONS

    return tuple(BOUNDARY_CONDITIONS)


class RVEMaterial(_Section):
    """``[materials.NAME] type = "RVE"``: an RVE oracle (:class:`fe2.homogenization.RVE`).

    ``mixed`` is a boolean mask shaped like the macro input (``[[false, false],
    [false, true]]`` for a 2D strain; symmetric): components whose *flux* is
    prescribed instead of the input, to the values ``mixed_flux`` (same shape,
    default 0) times the load factor ``t``. ``predictor = "elastic"`` accepts
    the cell's linear response while no micro point yields.
    """

    type: Literal["RVE"] = Field(description='"RVE"')
    cell: CellSpec = Field(description="a table with a 'type', one of " + ", ".join(CELL_TYPES))
    phases: Annotated[list[Material], Field(min_length=1)] = Field(
        description="a non-empty list of material tables, indexed by phase id")
    bc: Annotated[Str, _one_of(_rve_bcs())] = fld("str", "periodic", choices=_rve_bcs())
    order: Annotated[Int, _one_of((1, 2))] = fld("int", 1, choices=(1, 2))
    intorder: Int | None = fld("int", None, lo=1, hi=19, note="micro quadrature order")
    rtol: Num = fld("number", 1e-10, lo=0, open_lo=True)
    max_iter: Int = fld("int", 25, lo=1)
    mixed: Mask | None = Field(None, description="a (list of) list(s) of true/false shaped like "
                                                 "the macro input")
    mixed_flux: Matrix | None = Field(None, description="a (list of) list(s) of finite numbers "
                                                        "shaped like the macro input")
    predictor: Annotated[Str, _one_of(("elastic",))] | None = fld(
        "str", None, choices=("elastic",))


class SurrogateDesign(_Section):
    """``design = { lower = ..., upper = ..., points = 64 }``: offline training points.

    A box of the wrapped oracle's input (``lower <= g <= upper`` componentwise, each shaped
    like the macro input) sampled by :func:`fe2.surrogate.sample_box` and answered by the
    oracle before the run.
    """

    lower: Matrix = Field(description="lower corner, shaped like the macro input")
    upper: Matrix = Field(description="upper corner, shaped like the macro input")
    points: Int = fld("int", 64, lo=2, note="a power of two keeps a Sobol design balanced")
    method: Annotated[Str, _one_of(("sobol", "lhs"))] = fld(
        "str", "sobol", choices=("sobol", "lhs"))


class AdaptiveSurrogateMaterial(_Section):
    """``[materials.NAME] type = "AdaptiveSurrogate"``: a GP surrogate with fallback.

    :class:`fe2.surrogate.AdaptiveSurrogate` around the ``oracle`` table (an RVE or a
    material); ``load`` names a trained surrogate (``.npz`` + ``.json``, see
    :func:`fe2.surrogate.spec.surrogate_from_dict`).
    """

    type: Literal["AdaptiveSurrogate"] = Field(description='"AdaptiveSurrogate"')
    oracle: Annotated[Union[tuple(MATERIAL_MODELS.values()) + (RVEMaterial,)],  # noqa: UP007
                      Field(discriminator="type")] = Field(
        description="the wrapped material table: an RVE or a material")
    model: Annotated[Str, _one_of(("gp", "neural"))] = fld(
        "str", "gp", choices=("gp", "neural"),
        note="Gaussian process, or the PyTorch energy ensemble (the torch extra)")
    tol: Num = fld("number", 1e-2, lo=0, open_lo=True, note="largest relative predictive std")
    design: SurrogateDesign | None = Field(None, description="offline training design")
    kernel: Annotated[Str, _one_of(("matern52", "rbf"))] = fld(
        "str", "matern52", choices=("matern52", "rbf"))
    reoptimize_every: Int = fld("int", 20, lo=1)
    seed: Int = fld("int", 0, lo=0)
    gradients: Bool = fld("bool", False, note="train on the oracle's tangents too")
    incremental: Bool = fld("bool", True, note="extend the GP's Cholesky factor between "
                                               "re-optimisations instead of refactorising")
    load: Str | None = fld("str", None, note="path of a saved surrogate, without suffix")


MATERIAL_MODELS_ALL = {**MATERIAL_MODELS, "RVE": RVEMaterial,
                       "AdaptiveSurrogate": AdaptiveSurrogateMaterial}
AnyMaterial = Annotated[Union[tuple(MATERIAL_MODELS_ALL.values())],  # noqa: UP007
                        Field(discriminator="type")]


# ---------------------------------------------------------------- gas dynamics

class FluxSpec(_Section):
    """Base of the ``[flux]`` tables of a ``kind = "shock_tube"`` case.

    A flux type is a model with ``type: Literal["Name"]``, its constructor
    parameters as fields and ``oracle_class = "module:Class"``; :meth:`build`
    calls ``Class(**fields)`` (nested flux tables built first). Override
    :meth:`build` when a parameter needs more than that (a potential table).
    """

    oracle_class: ClassVar[str] = ""

    def build(self) -> Any:
        """The flux oracle of this table (measure ``"conserved"``, dim 1)."""
        import importlib

        module, name = self.oracle_class.split(":")
        cls = getattr(importlib.import_module(module), name)
        kw = {k: (v.build() if isinstance(v, FluxSpec) else v) for k, v in self if k != "type"}
        return cls(**kw)


class IdealGasFlux(FluxSpec):
    """``[flux] type = "IdealGas"``: the closed-form Euler flux (:class:`fe2.gas.IdealGas`)."""

    oracle_class: ClassVar[str] = "fe2.gas:IdealGas"
    type: Literal["IdealGas"] = Field(description='"IdealGas"')
    gamma: Num = fld("number", 1.4, lo=1, open_lo=True, note="ratio of specific heats")


VARIANCE_REDUCTION = ("antithetic", "qmc", "none")
LJ_EOS_MODELS = ("jzg", "kn")


class KineticFluxSpec(FluxSpec):
    """``[flux] type = "KineticFlux"``: Monte Carlo moments of a Maxwellian.

    :class:`fe2.gas.KineticFlux`; ``variance_reduction = "none"``: plain sampling.
    """

    oracle_class: ClassVar[str] = "fe2.gas:KineticFlux"
    type: Literal["KineticFlux"] = Field(description='"KineticFlux"')
    gamma: Num = fld("number", 1.4, lo=1, open_lo=True, note="at most 3 in 1D")
    samples: Int = fld("int", 4096, lo=2, note="velocity samples per point")
    seed: Int = fld("int", 0, lo=0)
    variance_reduction: Annotated[Str, _one_of(VARIANCE_REDUCTION)] = fld(
        "str", "antithetic", choices=VARIANCE_REDUCTION)

    def build(self) -> Any:
        """:class:`fe2.gas.KineticFlux` (``"none"`` -> ``variance_reduction=None``)."""
        from fe2.gas import KineticFlux

        vr = None if self.variance_reduction == "none" else self.variance_reduction
        return KineticFlux(gamma=self.gamma, samples=self.samples, seed=self.seed,
                           variance_reduction=vr)


class EOSFluxSpec(FluxSpec):
    """``[flux] type = "EOSFlux"``: a Lennard-Jones fluid by a published equation of state.

    :class:`fe2.gas.EOSFlux` with :class:`fe2.atomistic.eos.LennardJonesEOS` (reduced
    units by default); states are converted with the same fit.
    """

    oracle_class: ClassVar[str] = "fe2.gas:EOSFlux"
    type: Literal["EOSFlux"] = Field(description='"EOSFlux"')
    model: Annotated[Str, _one_of(LJ_EOS_MODELS)] = fld(
        "str", "jzg", choices=LJ_EOS_MODELS,
        note="Johnson-Zollweg-Gubbins 1993 or Kolafa-Nezbeda 1994")
    epsilon: Num = fld("number", 1.0, lo=0, open_lo=True, note="well depth")
    sigma: Num = fld("number", 1.0, lo=0, open_lo=True, note="length scale")
    mass: Num = fld("number", 1.0, lo=0, open_lo=True, note="particle mass")

    def build(self) -> Any:
        """:class:`fe2.gas.EOSFlux` of the named fit."""
        from fe2.atomistic.eos import LennardJonesEOS
        from fe2.gas import EOSFlux

        return EOSFlux(LennardJonesEOS(self.model, self.epsilon, self.sigma, self.mass))


class MolecularDynamicsFluxSpec(FluxSpec):
    """``[flux] type = "MolecularDynamicsFlux"``: equilibrium MD of a Lennard-Jones fluid.

    :class:`fe2.gas.MolecularDynamicsFlux` with ``LennardJones(epsilon, sigma, cutoff)``
    (energy-shifted); wrap it in ``TabulatedFlux`` (about a second per MD run).
    """

    oracle_class: ClassVar[str] = "fe2.gas:MolecularDynamicsFlux"
    type: Literal["MolecularDynamicsFlux"] = Field(description='"MolecularDynamicsFlux"')
    epsilon: Num = fld("number", 1.0, lo=0, open_lo=True, note="well depth")
    sigma: Num = fld("number", 1.0, lo=0, open_lo=True, note="length scale")
    cutoff: Num = fld("number", 2.5, lo=0, open_lo=True, note="in units of sigma, > 1")
    mass: Num = fld("number", 1.0, lo=0, open_lo=True, note="particle mass")
    n_particles: Int = fld("int", 256, lo=32)
    seed: Int = fld("int", 0, lo=0)
    timestep: Num = fld("number", 0.005, lo=0, open_lo=True,
                        note="Verlet step in sigma sqrt(mass / epsilon)")
    equilibration_steps: Int = fld("int", 1000, lo=0)
    production_steps: Int = fld("int", 3000, lo=20)
    skin: Num = fld("number", 0.5, lo=0, note="neighbour-list skin")

    def build(self) -> Any:
        """:class:`fe2.gas.MolecularDynamicsFlux` with its Lennard-Jones potential."""
        from fe2.atomistic import LennardJones
        from fe2.gas import MolecularDynamicsFlux

        pot = LennardJones(self.epsilon, self.sigma, cutoff=self.cutoff * self.sigma)
        return MolecularDynamicsFlux(
            pot, n_particles=self.n_particles, seed=self.seed, mass=self.mass,
            timestep=self.timestep, equilibration_steps=self.equilibration_steps,
            production_steps=self.production_steps, skin=self.skin * self.sigma)


# Flux types a [flux] table (or the oracle of a TabulatedFlux) can name: one entry each.
# A new oracle class is one FluxSpec subclass above (``type: Literal["Name"]``, its
# constructor parameters as typed fields with fld(...), ``oracle_class = "module:Class"``;
# override build() when a parameter is itself a table, e.g. a potential) and one entry
# here, e.g. "EOSFlux": EOSFluxSpec, "MolecularDynamicsFlux": MolecularDynamicsFluxSpec.
# The schema, the one-line errors and `fe2 run` follow from the entry.
BASE_FLUX_MODELS: dict[str, type[FluxSpec]] = {
    "IdealGas": IdealGasFlux,
    "KineticFlux": KineticFluxSpec,
    "EOSFlux": EOSFluxSpec,
    "MolecularDynamicsFlux": MolecularDynamicsFluxSpec,
}
AnyBaseFlux = Annotated[Union[tuple(BASE_FLUX_MODELS.values())],  # noqa: UP007
                        Field(discriminator="type")]


class TabulatedFluxSpec(FluxSpec):
    """``[flux] type = "TabulatedFlux"``: adaptive table over another flux oracle.

    :class:`fe2.gas.TabulatedFlux`; the oracle is the nested table ``[flux.oracle]``.
    """

    oracle_class: ClassVar[str] = "fe2.gas:TabulatedFlux"
    type: Literal["TabulatedFlux"] = Field(description='"TabulatedFlux"')
    oracle: AnyBaseFlux = Field(description="a flux table with a 'type', one of "
                                + ", ".join(BASE_FLUX_MODELS))
    tol: Num = Field(1e-4, gt=0, lt=1, description="a finite number > 0 and < 1 (relative "
                     "interpolation tolerance)")
    margin: Num = fld("number", 0.25, lo=0, open_lo=True)


FLUX_MODELS: dict[str, type[FluxSpec]] = {**BASE_FLUX_MODELS,
                                          "TabulatedFlux": TabulatedFluxSpec}
FLUX_TYPES = tuple(FLUX_MODELS)
AnyFlux = Annotated[Union[tuple(FLUX_MODELS.values())],  # noqa: UP007
                    Field(discriminator="type")]


class GasState(_Section):
    """``left`` / ``right``: a primitive state ``{ rho, u, p }``."""

    rho: Num = fld("number", lo=0, open_lo=True, note="density")
    u: Num = fld("number", note="velocity")
    p: Num = fld("number", lo=0, note="pressure")


BoundaryName = Annotated[Str, _one_of(GAS_BOUNDARIES), Field(
    description="one of " + ", ".join(_toml(b) for b in GAS_BOUNDARIES),
    json_schema_extra={"enum": list(GAS_BOUNDARIES)})]


class ShockTube(_Section):
    """``[shock_tube]`` of a ``kind = "shock_tube"`` case: a 1D Riemann problem.

    Run by :func:`fe2.gas.shock_tube` with the flux oracle of ``[flux]``.
    """

    left: GasState = Field(description="a table { rho, u, p }: the state left of x0")
    right: GasState = Field(description="a table { rho, u, p }: the state right of x0")
    n_cells: Int = fld("int", lo=3)
    t_end: Num = fld("number", lo=0, open_lo=True, note="final time")
    x0: Num = fld("number", 0.5, note="initial discontinuity, inside domain")
    domain: Annotated[list[NumItem], Field(min_length=2, max_length=2)] = Field(
        default_factory=lambda: [0.0, 1.0], description="[a, b] with b > a")
    scheme: Annotated[Str, _one_of(GAS_SCHEMES)] = fld(
        "str", "nt", choices=GAS_SCHEMES, note="Nessyahu-Tadmor or Lax-Friedrichs")
    limiter: Annotated[Str, _one_of(GAS_LIMITERS)] = fld("str", "mc", choices=GAS_LIMITERS)
    cfl: Num | None = Field(None, gt=0, le=1, description="a finite number > 0 and <= 1 "
                            "(a_max dt / (dx/2); default 0.45 (nt), 0.9 (lf))")
    max_dt: Num | None = fld("number", None, lo=0, open_lo=True, note="cap on the time step")
    bc: BoundaryName | Annotated[list[BoundaryName], Field(min_length=2, max_length=2)] = \
        Field("outflow", description="a boundary kind (one of " + ", ".join(
            _toml(b) for b in GAS_BOUNDARIES) + ") or a [left, right] pair of them")
    frames: Int = fld("int", 10, lo=1, note="snapshots after t = 0 in the ParaView series")
    reference_gamma: Num | None = fld(
        "number", None, lo=1, open_lo=True,
        note="gamma of the ideal-gas exact solution plotted and compared with; default: "
             "the flux's gamma for IdealGas, none otherwise")


# the sections a kind needs, for JSON-schema validators (fe2 checks them in check_layout)
_KIND_SECTIONS = {
    "if": {"properties": {"problem": {"properties": {"kind": {"const": "shock_tube"}},
                                      "required": ["kind"]}},
           "required": ["problem"]},
    "then": {"required": ["shock_tube", "flux"]},
    "else": {"if": {"properties": {"problem": {"properties": {"kind": {"const": "fluid"}}}}},
             "then": {"required": ["flow"]}, "else": {"required": ["materials"]}},
}


class Case(_Section):
    """A case: every section of the file, validated, defaults filled in.

    Build one with :meth:`from_toml` (a file) or :meth:`from_dict` (a mapping,
    e.g. written in a script), run it with :func:`fe2.case.run_case`.

    Examples
    --------
    >>> from fe2.case import Case
    >>> case = Case.from_dict({
    ...     "problem": {"kind": "material_point"},
    ...     "materials": {"steel": {"type": "LinearElastic", "E": 200e3, "nu": 0.3}},
    ...     "point": {"strain": {"11": 0.001}},
    ... })
    >>> case.problem.kind, case.point.steps
    ('material_point', 10)
    >>> Case.from_dict({"problem": {"kind": "scalar", "knd": 1}})
    Traceback (most recent call last):
    ...
    fe2.case.models.CaseError: <dict>: problem.knd: unknown field; valid fields of problem: kind
    """

    model_config = ConfigDict(extra="forbid", strict=True, title="fe2 case file",
                              json_schema_extra={"allOf": [_KIND_SECTIONS]})

    mesh: Mesh | None = Field(None, description="[mesh]: the macro mesh (not for "
                                                "kind = \"material_point\")")
    problem: Problem
    materials: Annotated[dict[str, AnyMaterial], Field(min_length=1)] | None = Field(
        None, description="[materials.NAME]: one material per subdomain NAME of the mesh, or "
                          "'all' (not for kind = \"shock_tube\")")
    dirichlet: list[Dirichlet] = Field(default_factory=list)
    neumann: list[Neumann] = Field(default_factory=list)
    body: list[Body] = Field(default_factory=list)
    newton: Newton = Field(default_factory=Newton)
    solver: Solver = Field(default_factory=Solver)
    output: Output = Field(default_factory=Output)
    parallel: Parallel = Field(default_factory=Parallel)
    point: Point | None = Field(None, description="[point]: the load path of a "
                                                  "kind = \"material_point\" case")
    shock_tube: ShockTube | None = Field(None, description="[shock_tube]: the Riemann problem "
                                                           "of a kind = \"shock_tube\" case")
    flux: AnyFlux | None = Field(None, description="[flux]: the flux oracle of a kind = "
                                 "\"shock_tube\" case, a table with a 'type', one of "
                                 + ", ".join(FLUX_TYPES))
    flow: dict[str, Any] | None = Field(None, description="[flow]: the flow of a kind = "
                                        "\"fluid\" case (fe2.fluids.FluidCase: kind, n, "
                                        "reynolds, t_end, steady_tol, ...)")
    stress: dict[str, Any] | None = Field(None, description="[stress]: the stress oracle of a "
                                          "kind = \"fluid\" case, a table with a 'type'")

    _path: Path | None = PrivateAttr(None)
    _base_dir: Path = PrivateAttr(default_factory=Path)
    _source: str = PrivateAttr("<dict>")

    @property
    def path(self) -> Path:
        """The case file (``Path("<dict>")`` for a case made by :meth:`from_dict`)."""
        return self._path if self._path is not None else Path(self._source)

    @property
    def base_dir(self) -> Path:
        """Folder relative file names (mesh, cell images) are taken from."""
        return self._base_dir

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> Case:
        """Read and validate a case file; :class:`CaseError` names the file and the field.

        >>> Case.from_toml("no/such/case.toml")
        Traceback (most recent call last):
        ...
        fe2.case.models.CaseError: no/such/case.toml: case file not found
        """
        path = Path(path)
        if not path.is_file():
            raise CaseError(f"{path}: case file not found" if not path.exists()
                            else f"{path}: not a file")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise CaseError(f"{path}: not valid TOML: {err}") from err
        except (OSError, UnicodeDecodeError) as err:
            raise CaseError(f"{path}: cannot read the case file: {err}") from err
        if not raw:
            raise CaseError(f"{path}: the case file is empty; it needs at least [mesh], "
                            "[problem] and [materials.NAME] (see examples/cases/)")
        case = cls.from_dict(raw, base_dir=path.parent, source=str(path))
        case._path = path
        return case

    @classmethod
    def from_dict(cls, data: dict, base_dir: str | os.PathLike = ".",
                  source: str = "<dict>") -> Case:
        """Validate a mapping laid out like a case file (TOML tables as dicts).

        ``base_dir`` is the folder relative file names are taken from;
        ``source`` names the data in error messages. The mesh file is resolved
        and checked. Raises :class:`CaseError` (one line).
        """
        if not isinstance(data, dict):
            raise CaseError(f"{source}: expected a table of sections, got {_kind_of(data)}")
        try:
            case = cls.model_validate(data)
        except ValidationError as err:
            raise CaseError(f"{source}: {translate(err, data)}") from None
        case._base_dir = Path(base_dir)
        case._source = source
        case.check_layout()
        return case

    def check_layout(self) -> None:
        """Checks across sections (run by :meth:`from_dict`).

        Required sections per kind, ``materials.all`` alone, the mesh file
        exists (made absolute).
        """
        src = str(self.path)
        gas = ("shock_tube", "flux")
        if self.problem.kind == "fluid":
            self._check_fluid(src)
            return
        for sec in ("flow", "stress"):
            if getattr(self, sec) is not None:
                raise CaseError(f"{src}: {sec}: only for kind = \"fluid\", not "
                                f"{self.problem.kind!r}")
        if self.problem.kind == "shock_tube":
            self._check_shock_tube(src)
            return
        for sec in gas:
            if getattr(self, sec) is not None:
                raise CaseError(f"{src}: {sec}: only for kind = \"shock_tube\", not "
                                f"{self.problem.kind!r}")
        if self.materials is None:
            raise CaseError(f"{src}: materials: missing section [materials.NAME] (NAME a "
                            "subdomain of the mesh, or 'all')")
        names = list(self.materials)
        if self.problem.kind == "material_point":
            if len(names) != 1:
                raise CaseError(f"{src}: materials: a material_point case has exactly one "
                                f"material, got {len(names)} ({', '.join(names)})")
            for sec in ("mesh", "dirichlet", "neumann", "body"):
                if getattr(self, sec):
                    raise CaseError(f"{src}: {sec}: not used by kind = \"material_point\" "
                                    "(the load path is [point])")
            if self.point is None:
                raise CaseError(f"{src}: point: missing section [point] (the load path of "
                                "kind = \"material_point\")")
            return
        if self.point is not None:
            raise CaseError(f"{src}: point: only for kind = \"material_point\", not "
                            f"{self.problem.kind!r}")
        if self.mesh is None:
            raise CaseError(f"{src}: mesh: missing section [mesh]")
        if "all" in self.materials and len(self.materials) > 1:
            raise CaseError(f"{src}: materials.all: cannot be combined with other materials")
        mesh_file = Path(self.mesh.file)
        if not mesh_file.is_absolute():
            mesh_file = (self.base_dir / mesh_file).resolve()
        if not mesh_file.is_file():
            raise CaseError(f"{src}: mesh.file: mesh file not found: {mesh_file}")
        self.mesh.file = str(mesh_file)

    def _check_fluid(self, src: str) -> None:
        """Sections of a ``kind = "fluid"`` case: [flow], optional [stress], [output] png/vtu."""
        for sec in ("mesh", "materials", "dirichlet", "neumann", "body", "point", "newton",
                    "solver", "shock_tube", "flux"):
            if sec in self.model_fields_set and getattr(self, sec):
                raise CaseError(f"{src}: {sec}: not used by kind = \"fluid\" (the flow is "
                                "[flow], the stress oracle [stress])")
        for key in ("scalars", "reactions", "curve", "micro"):
            if key in self.output.model_fields_set:
                raise CaseError(f"{src}: output.{key}: not used by kind = \"fluid\" "
                                "(valid: vtu, png)")
        from fe2.case.fluid import fluid_case

        fluid_case(self)

    def _check_shock_tube(self, src: str) -> None:
        """Sections of a ``kind = "shock_tube"`` case: [shock_tube] and [flux], nothing else."""
        for sec in ("shock_tube", "flux"):
            if getattr(self, sec) is None:
                raise CaseError(f"{src}: {sec}: missing section [{sec}] (kind = "
                                "\"shock_tube\")")
        for sec in ("mesh", "materials", "dirichlet", "neumann", "body", "point", "newton",
                    "solver"):
            if sec in self.model_fields_set and getattr(self, sec):
                raise CaseError(f"{src}: {sec}: not used by kind = \"shock_tube\" (the "
                                "problem is [shock_tube], the oracle [flux])")
        for key in ("scalars", "reactions", "curve", "micro"):
            if key in self.output.model_fields_set:
                raise CaseError(f"{src}: output.{key}: not used by kind = \"shock_tube\" "
                                "(valid: vtu, png)")
        if self.output.format != "pvd":
            exp = '"pvd" (a shock tube writes a VTU + PVD series)'
            raise CaseError(f"{src}: {bad('output.format', self.output.format, exp)}")
        st = self.shock_tube
        a, b = st.domain
        if not b > a:
            raise CaseError(f"{src}: {bad('shock_tube.domain', st.domain, '[a, b] with b > a')}")
        if not a <= st.x0 <= b:
            exp = f"a number in the domain {_num(a)}..{_num(b)}"
            raise CaseError(f"{src}: {bad('shock_tube.x0', st.x0, exp)}")
        bc = [st.bc, st.bc] if isinstance(st.bc, str) else st.bc
        if "periodic" in bc and bc[0] != bc[1]:
            exp = '"periodic" on both sides or on neither'
            raise CaseError(f"{src}: {bad('shock_tube.bc', st.bc, exp)}")

    def material_tables(self) -> dict[str, dict]:
        """The ``[materials.NAME]`` tables as written (unset defaults left out)."""
        return {k: v.model_dump(exclude_unset=True) for k, v in (self.materials or {}).items()}


def load_case(path: str | os.PathLike) -> Case:
    """Read and validate a case file: :meth:`Case.from_toml`."""
    return Case.from_toml(path)


def case_schema() -> dict:
    """The JSON schema of a case file (draft 2020-12), as ``fe2 schema`` prints it."""
    schema = Case.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# ------------------------------------------------------- translation of errors

def _unwrap(ann: Any) -> Any:
    while typing.get_origin(ann) is Annotated:
        ann = typing.get_args(ann)[0]
    return ann


def _description(ann: Any) -> str | None:
    if typing.get_origin(ann) is Annotated:
        for m in typing.get_args(ann)[1:]:
            d = getattr(m, "description", None)
            if d:
                return d
    return None


def _models_in(ann: Any) -> list[type[BaseModel]]:
    ann = _unwrap(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    if typing.get_origin(ann) in (Union, getattr(__import__("types"), "UnionType", Union)):
        return [m for a in typing.get_args(ann) for m in _models_in(a)]
    return []


def _container(ann: Any, kind: type) -> Any:
    """The item annotation of a ``list`` / ``dict`` (``kind``) inside ``ann``, or None."""
    ann = _unwrap(ann)
    if typing.get_origin(ann) is kind:
        return typing.get_args(ann)[-1]
    for a in typing.get_args(ann) if typing.get_origin(ann) is not None else ():
        a = _unwrap(a)
        if typing.get_origin(a) is kind:
            return typing.get_args(a)[-1]
    return None


def _pick_model(ann: Any, raw: Any) -> type[BaseModel] | None:
    models = _models_in(ann)
    if len(models) == 1:
        return models[0]
    if isinstance(raw, dict):
        for m in models:
            f = m.model_fields.get("type")
            if f is not None and typing.get_args(_unwrap(f.annotation)) == (raw.get("type"),):
                return m
    return None


class _Where:
    """The walk of one error location through the raw data and the models."""

    def __init__(self, loc: tuple, data: Any, keep_last: bool):
        self.parts: list = []
        self.value: Any = data
        self.model: type[BaseModel] | None = Case
        self.parent_model: type[BaseModel] | None = None
        self.ann: Any = Case
        self.expected: str | None = None
        node = data
        for i, key in enumerate(loc):
            last = i == len(loc) - 1
            present = (isinstance(node, dict) and key in node) or (
                isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node))
            if not present and not (last and keep_last):
                continue  # a union member's label, not a place in the file
            self._step(key, node[key] if present else None)
            node = node[key] if present else None

    def _step(self, key: Any, raw: Any) -> None:
        self.parts.append(key)
        self.value = raw
        model = self.model
        if isinstance(key, str) and model is not None and key in model.model_fields:
            fi = model.model_fields[key]
            self.parent_model = model
            self.ann = fi.annotation
            self.expected = fi.description
        elif isinstance(key, int):
            item = _container(self.ann, list)
            self.parent_model = None
            self.ann = item
            self.expected = _description(item) if item is not None else None
        elif isinstance(key, str):  # a key of a dict (materials.NAME, point.strain.11)
            item = _container(self.ann, dict)
            self.parent_model = model
            self.ann = item
            self.expected = _description(item) if item is not None else None
        else:  # pragma: no cover
            self.ann = None
        self.model = _pick_model(self.ann, raw) if self.ann is not None else None

    @property
    def text(self) -> str:
        out = ""
        for k in self.parts:
            out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
        return out


def _valid_fields(model: type[BaseModel] | None) -> str:
    return ", ".join(model.model_fields) if model is not None else ""


def _one(e: dict, data: Any) -> str:
    """One pydantic error as ``<where>: <what>`` (no file)."""
    typ, loc = e["type"], tuple(e["loc"])
    w = _Where(loc, data, keep_last=typ in ("missing", "extra_forbidden"))
    where = w.text
    if loc and loc[-1] == "[key]":
        return (f"{where}: not a component; expected 1-based digits such as 11, 22, 12 "
                "(1, 2, 3 for a gradient)")
    if typ == "extra_forbidden":
        parent = _Where(loc[:-1], data, keep_last=False)
        model = parent.model
        tag = typing.get_args(_unwrap(model.model_fields["type"].annotation))[0] \
            if model is not None and "type" in model.model_fields else None
        if tag is not None and tag in FLUX_MODELS:
            return (f"{where}: unknown parameter of flux type {tag}; valid parameters: "
                    f"{_valid_fields(model)}")
        if tag is not None and tag in MATERIAL_MODELS_ALL:
            return (f"{where}: unknown parameter of {tag}; valid parameters: "
                    f"{_valid_fields(model)}")
        if tag is not None:
            return f"{where}: unknown parameter of cell type {tag!r}; valid parameters: " \
                   f"{_valid_fields(model)}"
        if not parent.parts:
            valid = ", ".join(sorted(Case.model_fields))
            return f"{where}: unknown section; valid sections: {valid}"
        return f"{where}: unknown field; valid fields of {parent.text}: {_valid_fields(model)}"
    if typ == "missing":
        if len(w.parts) == 1:
            name = w.parts[0]
            if name == "materials":
                return ("materials: missing section [materials.NAME] (NAME a subdomain of the "
                        "mesh, or 'all')")
            return f"{name}: missing section [{name}]"
        return f"{where}: missing field ({w.expected or 'a value'})"
    if typ in ("union_tag_invalid", "union_tag_not_found"):
        is_cell = bool(w.parts) and w.parts[-1] == "cell"
        is_flux = bool(w.parts) and (w.parts[-1] == "flux" or w.parts[-2:] == ["flux", "oracle"])
        what = "cell type" if is_cell else "flux type" if is_flux else "material type"
        tags = ", ".join(CELL_TYPES if is_cell else FLUX_TYPES if w.parts == ["flux"]
                         else BASE_FLUX_MODELS if is_flux else MATERIAL_MODELS_ALL)
        if typ == "union_tag_not_found":
            return (f"{where}.type: missing field (a {what}: one of {tags})")
        tag = e.get("ctx", {}).get("tag", w.value.get("type") if isinstance(w.value, dict)
                                   else None)
        if isinstance(w.value, dict) and not isinstance(w.value.get("type"), str):
            return bad(f"{where}.type", w.value.get("type"), f"a string, one of {tags}")
        return f"{where}.type: unknown {what} {tag!r}; expected one of {tags}"
    if typ in ("model_attributes_type", "model_type"):
        exp = "a table with a 'type'" if len(w.parts) == 2 and w.parts[0] == "materials" \
            else "a table"
        return bad(where, w.value, exp)
    if typ == "list_type" and where in ("dirichlet", "neumann", "body"):
        return f"{where}: must be a list of tables, written [[{where}]]"
    if typ == "dict_type" and where == "materials":
        return bad(where, w.value, "tables [materials.NAME]")
    return bad(where, w.value, w.expected or _plain(e))


def _plain(e: dict) -> str:
    msg = e.get("msg", "a valid value")
    return msg[0].lower() + msg[1:] if msg else "a valid value"


def translate(err: ValidationError, data: Any) -> str:
    """The first error of a :class:`pydantic.ValidationError`, as ``<field>: <what>``.

    Of the errors on one field (a union tries each member type) the deepest
    one is taken: ``value = [nan, 0.0]`` names ``value[0]``.
    """
    errors = err.errors(include_url=False)
    # an unknown key first (a misspelt name also makes the right name "missing")
    errors = [e for e in errors if e["type"] == "extra_forbidden"] or errors
    first = errors[0]
    fw = _Where(tuple(first["loc"]), data, first["type"] in ("missing", "extra_forbidden"))
    best, depth = first, len(fw.parts)
    for e in errors[1:]:
        w = _Where(tuple(e["loc"]), data, e["type"] in ("missing", "extra_forbidden"))
        if w.parts[: len(fw.parts)] == fw.parts and len(w.parts) > depth:
            best, depth = e, len(w.parts)
    return _one(best, data)
