"""Reaction networks: species, mass-action reactions, and their TOML files.

Propensity convention (Gillespie 1977, the one of the SSA): a reaction with rate
constant ``c`` and reactant coefficients ``nu_j`` fires, in the state ``x`` (molecule
counts), with propensity

    a(x) = c * prod_j binom(x_j, nu_j)

so ``c x_j`` for ``S_j -> ...``, ``c x_j x_k`` for ``S_j + S_k -> ...`` and
``c x_j (x_j - 1) / 2`` for ``2 S_j -> ...``; an empty reactant set gives ``a = c``
(inflow). ``c`` is per unit time and already includes any volume factors.

A TOML model file (``fe2/kinetics/models/heat_shock.toml`` is one) has a
``[species]`` table of initial counts and ``[[reaction]]`` entries with ``rate``,
``reactants`` and ``products`` (tables species -> coefficient, may be empty) and an
optional ``fast`` flag::

    [species]
    A = 100
    B = 0

    [[reaction]]
    rate = 1e5
    reactants = { A = 1 }
    products = { B = 1 }
    fast = true
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["NetworkError", "Reaction", "ReactionNetwork", "model_path", "MODELS"]

#: models shipped with fe2 (``fe2/kinetics/models/<name>.toml``)
MODELS: tuple[str, ...] = ("heat_shock",)


class NetworkError(ValueError):
    """A reaction network or its TOML file is invalid (one-line message)."""


def _coefficients(d: Mapping, where: str) -> dict[str, int]:
    if not isinstance(d, Mapping):
        raise NetworkError(f"{where}: expected a table species -> coefficient, "
                           f"got {d!r}")
    out = {}
    for name, nu in d.items():
        if not isinstance(name, str) or not name:
            raise NetworkError(f"{where}: species names must be non-empty strings, "
                               f"got {name!r}")
        if isinstance(nu, bool) or not isinstance(nu, int | np.integer) or nu < 0:
            raise NetworkError(f"{where}[{name!r}]: expected a non-negative integer "
                               f"stoichiometric coefficient, got {nu!r}")
        if nu:
            out[name] = int(nu)
    return out


@dataclass(frozen=True)
class Reaction:
    """One mass-action reaction ``sum nu_j S_j -> sum mu_j S_j`` with rate constant ``rate``.

    Parameters
    ----------
    rate : float
        Rate constant ``c >= 0`` (per unit time); propensity ``c prod_j binom(x_j, nu_j)``.
    reactants, products : dict
        Species name -> non-negative integer coefficient (zeros are dropped).
    fast : bool
        Whether :func:`fe2.kinetics.nested_ssa` treats it as a fast reaction.
    """

    rate: float
    reactants: Mapping[str, int] = field(default_factory=dict)
    products: Mapping[str, int] = field(default_factory=dict)
    fast: bool = False

    def __post_init__(self):
        r = self.rate
        if isinstance(r, bool) or not isinstance(r, int | float | np.number) \
                or not math.isfinite(r) or r < 0:
            raise NetworkError(f"Reaction rate: expected a finite number >= 0, got {r!r}")
        object.__setattr__(self, "rate", float(r))
        object.__setattr__(self, "reactants", _coefficients(self.reactants, "Reaction reactants"))
        object.__setattr__(self, "products", _coefficients(self.products, "Reaction products"))
        if not isinstance(self.fast, bool | np.bool_):
            raise NetworkError(f"Reaction fast: expected true or false, got {self.fast!r}")
        object.__setattr__(self, "fast", bool(self.fast))

    def __str__(self) -> str:
        def side(d):
            return " + ".join(f"{n if n > 1 else ''}{s}" for s, n in d.items()) or "0"
        return f"{side(self.reactants)} -> {side(self.products)} (c = {self.rate:g})"


@dataclass(frozen=True)
class ReactionNetwork:
    """Species and reactions, with the arrays the SSA kernels use.

    Parameters
    ----------
    species : sequence of str
        Species names (order = column order of every state array).
    reactions : sequence of Reaction
    initial : dict, optional
        Species -> initial count (from a TOML file); see :meth:`x0`.

    Attributes
    ----------
    stoichiometry : ndarray, shape (n_reactions, n_species), int64
        State change of each reaction (products minus reactants).
    reactant_index, reactant_order : ndarray, shape (n_reactions, k), int64
        Reactant species of each reaction and their coefficients, padded with -1 / 0.
    rates : ndarray, shape (n_reactions,)
    fast : ndarray of bool, shape (n_reactions,)
    """

    species: tuple[str, ...]
    reactions: tuple[Reaction, ...]
    initial: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.species, str) or not isinstance(self.species, Sequence):
            raise NetworkError(f"ReactionNetwork species: expected a list of names, "
                               f"got {self.species!r}")
        species = tuple(self.species)
        if not species:
            raise NetworkError("ReactionNetwork species: expected at least one species")
        for s in species:
            if not isinstance(s, str) or not s:
                raise NetworkError(f"ReactionNetwork species: names must be non-empty "
                                   f"strings, got {s!r}")
        dup = sorted({s for s in species if species.count(s) > 1})
        if dup:
            raise NetworkError(f"ReactionNetwork species: duplicate names {dup}")
        reactions = tuple(self.reactions)
        if not reactions:
            raise NetworkError("ReactionNetwork reactions: expected at least one reaction")
        known = set(species)
        for i, r in enumerate(reactions):
            if not isinstance(r, Reaction):
                raise NetworkError(f"ReactionNetwork reactions[{i}]: expected a Reaction, "
                                   f"got {type(r).__name__}")
            for side in ("reactants", "products"):
                bad = [s for s in getattr(r, side) if s not in known]
                if bad:
                    raise NetworkError(f"ReactionNetwork reactions[{i}] ({r}): unknown "
                                       f"species {bad[0]!r} in {side}; known: "
                                       f"{', '.join(species)}")
            if not r.reactants and not r.products:
                raise NetworkError(f"ReactionNetwork reactions[{i}]: a reaction needs "
                                   f"reactants or products")
        initial = dict(self.initial)
        for s, n in initial.items():
            if s not in known:
                raise NetworkError(f"ReactionNetwork initial: unknown species {s!r}")
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
                raise NetworkError(f"ReactionNetwork initial[{s!r}]: expected a "
                                   f"non-negative integer count, got {n!r}")
        object.__setattr__(self, "species", species)
        object.__setattr__(self, "reactions", reactions)
        object.__setattr__(self, "initial", initial)

    # ------------------------------------------------------------------ sizes
    @property
    def n_species(self) -> int:
        """Number of species."""
        return len(self.species)

    @property
    def n_reactions(self) -> int:
        """Number of reactions."""
        return len(self.reactions)

    def index(self, name: str) -> int:
        """Column of species ``name`` in state arrays."""
        try:
            return self.species.index(name)
        except ValueError:
            raise NetworkError(f"unknown species {name!r}; known: "
                               f"{', '.join(self.species)}") from None

    # ------------------------------------------------------------------ arrays
    @property
    def stoichiometry(self) -> np.ndarray:
        """State change per reaction, shape (n_reactions, n_species), int64."""
        nu = np.zeros((self.n_reactions, self.n_species), dtype=np.int64)
        for i, r in enumerate(self.reactions):
            for s, n in r.reactants.items():
                nu[i, self.index(s)] -= n
            for s, n in r.products.items():
                nu[i, self.index(s)] += n
        return nu

    @property
    def rates(self) -> np.ndarray:
        """Rate constants, shape (n_reactions,)."""
        return np.array([r.rate for r in self.reactions], dtype=float)

    @property
    def fast(self) -> np.ndarray:
        """The ``fast`` flags, shape (n_reactions,), bool."""
        return np.array([r.fast for r in self.reactions], dtype=bool)

    def reactant_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Reactant columns and coefficients: ``(index, order)``, each (n_reactions, k).

        ``index`` pads with -1, ``order`` with 0; ``k`` = the largest number of distinct
        reactants of a reaction.
        """
        k = max(1, max(len(r.reactants) for r in self.reactions))
        idx = np.full((self.n_reactions, k), -1, dtype=np.int64)
        order = np.zeros((self.n_reactions, k), dtype=np.int64)
        for i, r in enumerate(self.reactions):
            for j, (s, n) in enumerate(r.reactants.items()):
                idx[i, j] = self.index(s)
                order[i, j] = n
        return idx, order

    def propensities(self, x: np.ndarray) -> np.ndarray:
        """Propensities ``a(x)`` (numpy reference of the kernels).

        Parameters
        ----------
        x : array, shape (..., n_species)
            Counts.

        Returns
        -------
        ndarray, shape (..., n_reactions)
        """
        from scipy.special import comb

        x = np.asarray(x, dtype=float)
        a = np.empty(x.shape[:-1] + (self.n_reactions,))
        for i, r in enumerate(self.reactions):
            v = np.full(x.shape[:-1], r.rate)
            for s, n in r.reactants.items():
                v = v * comb(x[..., self.index(s)], n)
            a[..., i] = v
        return a

    def x0(self, x0: Mapping[str, int] | Sequence[int] | np.ndarray | None = None,
           where: str = "x0") -> np.ndarray:
        """An initial state as an int64 array of shape (n_species,).

        ``x0`` may be a dict (missing species: the network's ``initial`` counts, else 0),
        a sequence of counts in species order, or None (the ``initial`` counts).
        """
        if x0 is None or isinstance(x0, Mapping):
            counts = dict(self.initial)
            for s, n in (x0 or {}).items():
                if s not in self.species:
                    raise NetworkError(f"{where}: unknown species {s!r}; known: "
                                       f"{', '.join(self.species)}")
                counts[s] = n
            vals = [counts.get(s, 0) for s in self.species]
        else:
            vals = list(np.asarray(x0).ravel())
            if len(vals) != self.n_species:
                raise NetworkError(f"{where}: expected {self.n_species} counts (one per "
                                   f"species {', '.join(self.species)}), got {len(vals)}")
        out = np.empty(self.n_species, dtype=np.int64)
        for i, (s, n) in enumerate(zip(self.species, vals, strict=True)):
            ok = isinstance(n, int | np.integer) and not isinstance(n, bool)
            if not ok and isinstance(n, float | np.floating) and float(n).is_integer():
                ok = True
            if not ok or n < 0:
                raise NetworkError(f"{where}[{s!r}]: expected a non-negative integer count, "
                                   f"got {n!r}")
            out[i] = int(n)
        return out

    # ------------------------------------------------------------------ building
    def with_fast(self, fast: Sequence[bool] | np.ndarray) -> ReactionNetwork:
        """The same network with the ``fast`` flags replaced (shape (n_reactions,))."""
        fast = np.asarray(fast, dtype=bool).ravel()
        if fast.size != self.n_reactions:
            raise NetworkError(f"fast: expected {self.n_reactions} flags, got {fast.size}")
        rs = [Reaction(r.rate, r.reactants, r.products, bool(f))
              for r, f in zip(self.reactions, fast, strict=True)]
        return ReactionNetwork(self.species, rs, self.initial)

    @classmethod
    def from_toml(cls, path: str | Path) -> ReactionNetwork:
        """Read a model file (format: module docstring); errors name the file and field."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise NetworkError(f"{path}: no such model file") from None
        except tomllib.TOMLDecodeError as err:
            raise NetworkError(f"{path}: not valid TOML: {err}") from None
        unknown = set(data) - {"species", "reaction"}
        if unknown:
            raise NetworkError(f"{path}: unknown top-level field {sorted(unknown)[0]!r}; "
                               f"expected [species] and [[reaction]]")
        sp = data.get("species")
        if not isinstance(sp, dict) or not sp:
            raise NetworkError(f"{path}: [species]: expected a table of species = "
                               f"initial count")
        for s, n in sp.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise NetworkError(f"{path}: species.{s}: expected a non-negative integer "
                                   f"initial count, got {n!r}")
        rx = data.get("reaction")
        if not isinstance(rx, list) or not rx:
            raise NetworkError(f"{path}: [[reaction]]: expected at least one reaction")
        reactions = []
        for i, entry in enumerate(rx):
            where = f"{path}: reaction[{i}]"
            if not isinstance(entry, dict):
                raise NetworkError(f"{where}: expected a table")
            extra = set(entry) - {"rate", "reactants", "products", "fast"}
            if extra:
                raise NetworkError(f"{where}: unknown field {sorted(extra)[0]!r}; expected "
                                   f"rate, reactants, products, fast")
            if "rate" not in entry:
                raise NetworkError(f"{where}.rate: missing (rate constant per unit time)")
            try:
                reactants = _coefficients(entry.get("reactants", {}), f"{where}.reactants")
                products = _coefficients(entry.get("products", {}), f"{where}.products")
            except NetworkError as err:
                raise NetworkError(str(err)) from None
            for side, d in (("reactants", reactants), ("products", products)):
                bad = [s for s in d if s not in sp]
                if bad:
                    raise NetworkError(f"{where}.{side}: unknown species {bad[0]!r} (not in "
                                       f"[species])")
            try:
                reactions.append(Reaction(entry["rate"], reactants, products,
                                          entry.get("fast", False)))
            except NetworkError as err:
                field_ = "rate" if "rate" in str(err) else "fast"
                val = entry.get(field_)
                raise NetworkError(f"{where}.{field_}: expected "
                                   + ("a finite number >= 0" if field_ == "rate"
                                      else "true or false") + f", got {val!r}") from None
        try:
            return cls(tuple(sp), reactions, dict(sp))
        except NetworkError as err:
            raise NetworkError(f"{path}: {err}") from None

    @classmethod
    def model(cls, name: str) -> ReactionNetwork:
        """A model shipped with fe2 by name (see :data:`MODELS`), e.g. ``"heat_shock"``."""
        return cls.from_toml(model_path(name))

    def __str__(self) -> str:
        lines = [f"ReactionNetwork: {self.n_species} species, {self.n_reactions} reactions"]
        lines += [f"  R{i}{' (fast)' if r.fast else ''}: {r}"
                  for i, r in enumerate(self.reactions)]
        return "\n".join(lines)


def model_path(name: str) -> Path:
    """Path of a model file shipped with fe2 (``name`` in :data:`MODELS`)."""
    if name not in MODELS:
        raise NetworkError(f"unknown model {name!r}; shipped models: {', '.join(MODELS)}")
    return Path(str(resources.files("fe2.kinetics") / "models" / f"{name}.toml"))
