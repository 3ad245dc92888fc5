"""A neural energy model with a deep ensemble: flux and tangent as derivatives of one scalar.

:class:`EnergyEnsemble` learns a scalar potential ``W`` of frame-indifferent inputs and
returns the flux as its gradient and the tangent as its Hessian (both by automatic
differentiation in PyTorch, float64), so the tangent is symmetric and consistent with the
flux by construction. ``M`` networks that differ only in their random initialisation
(a deep ensemble, Lakshminarayanan, Pritzel & Blundell, NeurIPS 2017) give the
predictive mean (their average) and the predictive standard deviation (their spread).

Inputs ``I`` of the energy, by measure (``E`` the input tensor), for
``symmetry="isotropic"`` / ``"anisotropic"``:

- ``"gradient"`` (``g``): ``|g|^2`` / the components of ``g ⊗ g``;
- ``"strain"`` (``ε``): ``tr ε, tr ε², (tr ε³ in 3D)`` / the components of ``ε``;
- ``"deformation_gradient"`` (``F``): ``tr C, (tr C² in 3D), ln J`` with ``C = FᵀF`` / the
  components of ``C``.

(``ln J = ln det C / 2``.) The F-based energies are objective for any ``symmetry``: a
rotation ``F -> Q F`` leaves ``C`` alone, so ``P -> Q P``. The gradient energies are even
in ``g``, so ``q(-g) = -q(g)``. Each input ``I`` is standardised by its training mean and
standard deviation, the network ``Ŵ`` (``tanh`` hidden layers plus a linear term) maps them
to a scalar, and
``W = s_E s_q Ŵ`` with ``s_E`` the RMS input and ``s_q`` the RMS flux norm of the training
set, so that flux errors are weighed in units of ``s_q``.

The model is trained on flux samples (and, with ``dY``, tangent samples) by full-batch
L-BFGS with a strong Wolfe line search on the mean squared scaled errors, one
optimiser per member (one shared L-BFGS over all members converged 30-100x worse
in loss in a 3D neo-Hookean test: the line search couples independent problems).

It speaks the protocol :class:`~fe2.surrogate.AdaptiveSurrogate` uses for its Gaussian
process (``fit(X, Y, optimize, dY)``, ``predict(X, grad)``, ``fitted``, ``to_arrays``,
``config``, ``from_arrays``) on the same **features**: the input flattened, except for
measure ``strain``, whose features are the upper triangle ``ε_ij, i <= j`` (in
``numpy.triu_indices`` order); outputs ``Y`` are the flux flattened. It is also an oracle
itself (:meth:`evaluate`), answering with the ensemble mean and without fallback.

Not covered: history-dependent micro models (an energy of the current input cannot
represent them; :meth:`fit_oracle` refuses oracles with an ``initial_state``), measures
``conserved`` and ``velocity_gradient`` (no potential), and anisotropy in ``"isotropic"``
mode (use ``"anisotropic"``). PyTorch is an optional extra: ``pip install "fe2[torch]"``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..oracle import OracleBase, OracleError, Response, evaluate
from .gp import GPPrediction

__all__ = ["ENERGY_MEASURES", "SYMMETRIES", "EnergyEnsemble", "history_free", "require_torch"]

log = logging.getLogger(__name__)

ENERGY_MEASURES: tuple[str, ...] = ("gradient", "strain", "deformation_gradient")
SYMMETRIES: tuple[str, ...] = ("isotropic", "anisotropic")


def require_torch(what: str = "fe2.surrogate"):
    """Import and return :mod:`torch`, or raise an ImportError naming the ``torch`` extra."""
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(f"{what} needs PyTorch, an optional extra of fe2: "
                          "pip install 'fe2[torch]' (torch==2.13.0)") from err
    return torch


def _positive_int(owner: str, name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {v!r}")
    return int(v)


def history_free(oracle: Any) -> bool:
    """False when ``oracle`` carries history that is more than a warm start.

    An oracle with ``initial_state(...)`` not None has history, except a cell (an RVE)
    whose phases all have none: its state is only the warm start of the micro solver.
    """
    if not hasattr(oracle, "initial_state") or oracle.initial_state((1,)) is None:
        return True
    phases = getattr(oracle, "phases", None)
    if not phases:
        return False
    return not any(hasattr(p, "initial_state") and p.initial_state((1,)) is not None
                   for p in phases)


class EnergyEnsemble(OracleBase):
    """Deep ensemble of neural energies ``W(I(E))``: flux ``dW/dE``, tangent ``d²W/dE²``.

    Parameters
    ----------
    measure : {"gradient", "strain", "deformation_gradient"}
        What the inputs are (see the module docs for the invariants used).
    dim : int
        Spatial dimension (1, 2 or 3; 1 only for ``"gradient"``).
    members : int
        Number of networks ``M`` (default 5).
    hidden : tuple of int
        Widths of the ``tanh`` hidden layers (default ``(32, 32)``).
    symmetry : {"isotropic", "anisotropic"}
        Invariants or tensor components as the energy's inputs.
    max_iter : int
        L-BFGS iterations of a full fit (``optimize=True``; default 1000).
    refit_iter : int
        L-BFGS iterations of a warm-started refit (``optimize=False``; default 200).
    tangent_weight : float
        Weight of the tangent misfit (in units of ``s_q / s_E``) when ``dY`` is given.
    seed : int
        Member ``k`` is initialised from the seed ``seed + k``.

    Attributes
    ----------
    X, Y, dY : ndarray
        Training features ``(n, D)``, fluxes ``(n, m)`` and tangents ``(n, m, D)`` (or None).
    x_std, theta : ndarray (D,)
        Standard deviation of the training features and zeros: the duck-typed length
        scales ``x_std * exp(theta)`` that :class:`AdaptiveSurrogate` reads from its GP
        (here the spread of the training inputs).
    losses : ndarray (M,)
        Final training loss of every member (mean squared scaled flux error, plus the
        weighted tangent error); ``loss`` is their sum.
    """

    def __init__(self, measure: str, dim: int, members: int = 5,
                 hidden: tuple[int, ...] = (32, 32), symmetry: str = "isotropic",
                 max_iter: int = 1000, refit_iter: int = 200, tangent_weight: float = 1.0,
                 seed: int = 0):
        name = "EnergyEnsemble"
        if measure not in ENERGY_MEASURES:
            raise ValueError(f"{name}: measure must be one of {', '.join(ENERGY_MEASURES)} "
                             f"(inputs with a potential), got {measure!r}")
        if dim not in ((1, 2, 3) if measure == "gradient" else (2, 3)):
            raise ValueError(f"{name}: dim must be 1, 2 or 3 (2 or 3 for {measure!r}), got "
                             f"{dim!r}")
        if symmetry not in SYMMETRIES:
            raise ValueError(f"{name}: symmetry must be one of {', '.join(SYMMETRIES)}, got "
                             f"{symmetry!r}")
        self.members = _positive_int(name, "members", members)
        self.hidden = tuple(_positive_int(name, "hidden width", h) for h in hidden)
        self.max_iter = _positive_int(name, "max_iter", max_iter)
        self.refit_iter = _positive_int(name, "refit_iter", refit_iter)
        if not (np.isfinite(tangent_weight) and tangent_weight >= 0):
            raise ValueError(f"{name}: tangent_weight must be >= 0, got {tangent_weight!r}")
        self.measure, self.dim, self.symmetry = measure, int(dim), symmetry
        self.tangent_weight = float(tangent_weight)
        self.seed = int(seed)
        d = self.dim
        self.nfull = d if measure == "gradient" else d * d
        self.nfeat = d * (d + 1) // 2 if measure == "strain" else self.nfull
        # features -> flattened input tensor: E = A x
        A = np.eye(self.nfull)
        if measure == "strain":
            iu = np.triu_indices(d)
            A = np.zeros((self.nfull, self.nfeat))
            for k, (i, j) in enumerate(zip(*iu, strict=True)):
                A[i * d + j, k] = A[j * d + i, k] = 1.0
        self.A = A
        self.params: list[np.ndarray] | None = None
        self.X = self.Y = self.dY = None
        self.loss = float("nan")
        self.losses = np.full(self.members, np.nan)

    def __repr__(self) -> str:
        return (f"EnergyEnsemble(measure={self.measure!r}, dim={self.dim}, members="
                f"{self.members}, hidden={self.hidden}, symmetry={self.symmetry!r}, "
                f"training_points={0 if self.X is None else len(self.X)})")

    # --------------------------------------------------------------- invariants

    def _invariants(self, torch, E):
        """Energy inputs ``(..., k)`` of flattened input tensors ``E (..., nfull)``."""
        d = self.dim
        if self.measure == "gradient":
            if self.symmetry == "isotropic":
                return (E * E).sum(-1, keepdim=True)
            iu = np.triu_indices(d)
            return E[..., iu[0]] * E[..., iu[1]]
        T = E.reshape(E.shape[:-1] + (d, d))
        if self.measure == "strain":
            S = 0.5 * (T + T.transpose(-1, -2))
        else:
            S = T.transpose(-1, -2) @ T  # C = F^T F
        iu = np.triu_indices(d)
        if self.symmetry == "anisotropic":
            return S[..., iu[0], iu[1]]
        tr = torch.diagonal(S, dim1=-2, dim2=-1).sum(-1)
        S2 = S @ S
        tr2 = torch.diagonal(S2, dim1=-2, dim2=-1).sum(-1)
        if self.measure == "strain":
            inv = [tr, tr2]
            if d == 3:
                inv.append(torch.diagonal(S2 @ S, dim1=-2, dim2=-1).sum(-1))
        else:
            inv = [tr] + ([tr2] if d == 3 else []) + [0.5 * torch.log(torch.linalg.det(S))]
        return torch.stack(inv, -1)

    # ------------------------------------------------------------------ network

    def _init_params(self, torch, k: int) -> list:
        """Batched weights ``(M, n_in, n_out)`` and biases ``(M, 1, n_out)`` per layer."""
        sizes = (k,) + self.hidden + (1,)
        params = [[] for _ in range(2 * (len(sizes) - 1))]
        for m in range(self.members):
            gen = torch.Generator().manual_seed(self.seed + m)
            for layer, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                w = torch.randn(a, b, generator=gen, dtype=torch.float64) * np.sqrt(1.0 / a)
                params[2 * layer].append(w)
                params[2 * layer + 1].append(torch.zeros(1, b, dtype=torch.float64))
        params.append([torch.zeros(self.members, k, 1, dtype=torch.float64)[m]
                       for m in range(self.members)])
        return [torch.stack(p).requires_grad_() for p in params]

    def _energy(self, torch, params, E):
        """Scaled energies ``(M, n)`` of ``E (M, n, nfull)`` (scaled inputs)."""
        inv = self._invariants(torch, E * self.e_scale)
        z = (inv - self._t_imean) / self._t_istd
        out = torch.bmm(z, params[-1])  # linear part
        nl = len(params) // 2
        for layer in range(nl):
            z = torch.baddbmm(params[2 * layer + 1], z, params[2 * layer])
            if layer < nl - 1:
                z = torch.tanh(z)
        return (z + out)[..., 0]

    def _forward(self, torch, params, x, tangent: bool, create_graph: bool):
        """Scaled flux ``(M, n, nfull)``, feature tangent ``(M, n, nfull, D)`` at ``x (n, D)``."""
        E = (x @ self._t_A.T).unsqueeze(0).expand(params[0].shape[0], -1, -1).clone()
        E.requires_grad_(True)
        W = self._energy(torch, params, E)
        (q,) = torch.autograd.grad(W.sum(), E, create_graph=create_graph or tangent)
        if not tangent:
            return q, None
        rows = []
        for c in range(self.nfull):
            (h,) = torch.autograd.grad(q[..., c].sum(), E, create_graph=create_graph,
                                       retain_graph=True)
            rows.append(h)
        H = torch.stack(rows, -2)  # (M, n, nfull, nfull), d q_c / d E_j
        return q, H @ self._t_A

    def _tensors(self, torch):
        self._t_A = torch.as_tensor(self.A)
        self._t_imean = torch.as_tensor(self.i_mean)
        self._t_istd = torch.as_tensor(self.i_std)

    # ------------------------------------------------------------------ fitting

    @property
    def fitted(self) -> bool:
        """True once :meth:`fit` has run."""
        return self.params is not None

    def _check_xy(self, X, Y, dY):
        X = np.atleast_2d(np.asarray(X, dtype=float))
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[:, None]
        if X.shape[1] != self.nfeat or Y.shape != (X.shape[0], self.nfull) or len(X) < 1:
            raise ValueError(
                f"EnergyEnsemble.fit: measure {self.measure!r}, dim {self.dim} needs features "
                f"X (n, {self.nfeat}) and fluxes Y (n, {self.nfull}); got X {X.shape}, "
                f"Y {Y.shape}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
            raise ValueError("EnergyEnsemble.fit: non-finite training data")
        if dY is not None:
            dY = np.asarray(dY, dtype=float)
            if dY.shape != Y.shape + (self.nfeat,) or not np.all(np.isfinite(dY)):
                raise ValueError(f"EnergyEnsemble.fit: dY must be finite of shape "
                                 f"{Y.shape + (self.nfeat,)}, got {dY.shape}")
        return X, Y, dY

    def fit(self, X: np.ndarray, Y: np.ndarray, optimize: bool = True,
            dY: np.ndarray | None = None) -> EnergyEnsemble:
        """Train on features ``X (n, D)``, fluxes ``Y (n, m)``, optional tangents ``dY (n, m, D)``.

        With ``optimize`` (or on the first call) the scalings are recomputed and every
        member is trained from its seeded initialisation for ``max_iter`` iterations;
        without, the members continue from their current weights for ``refit_iter``.
        """
        torch = require_torch("EnergyEnsemble")
        X, Y, dY = self._check_xy(X, Y, dY)
        self.X, self.Y, self.dY = X, Y, dY
        fresh = optimize or self.params is None
        if fresh:
            sd = X.std(axis=0)
            self.x_std = np.where(sd > 0, sd, 1.0)
            self.theta = np.zeros(self.nfeat)
            E = X @ self.A.T
            self.e_scale = float(np.sqrt(np.mean(np.sum(E**2, axis=1)))) or 1.0
            self.q_scale = float(np.sqrt(np.mean(np.sum(Y**2, axis=1)))) or 1.0
            with torch.no_grad():
                inv = self._invariants(torch, torch.as_tensor(E)).numpy()
            self.i_mean = inv.mean(axis=0)
            sd = inv.std(axis=0)
            self.i_std = np.where(sd > 1e-12 * (np.abs(self.i_mean) + 1.0), sd, 1.0)
        self._tensors(torch)
        params = (self._init_params(torch, len(self.i_mean)) if fresh else
                  [torch.as_tensor(p).clone().requires_grad_() for p in self.params])
        x = torch.as_tensor(X / self.e_scale)
        y = torch.as_tensor(Y / self.q_scale)
        dy = None if dY is None else torch.as_tensor(dY * self.e_scale / self.q_scale)
        wt = self.tangent_weight
        iters = self.max_iter if fresh else self.refit_iter
        losses, trained = [], []
        for m in range(self.members):  # one optimiser per member: independent trainings
            pm = [p[m : m + 1].detach().clone().requires_grad_() for p in params]
            opt = torch.optim.LBFGS(pm, lr=1.0, max_iter=iters, history_size=50,
                                    tolerance_grad=1e-12, tolerance_change=1e-16,
                                    line_search_fn="strong_wolfe")
            last = [np.nan]

            def closure(opt=opt, pm=pm, last=last):
                opt.zero_grad()
                q, t = self._forward(torch, pm, x, tangent=dy is not None, create_graph=True)
                loss = ((q - y) ** 2).sum(-1).mean()
                if dy is not None:
                    loss = loss + wt * ((t - dy) ** 2).sum((-1, -2)).mean()
                loss.backward()
                last[0] = float(loss.detach())
                return loss

            opt.step(closure)
            losses.append(last[0])
            trained.append([p.detach() for p in pm])
        self.losses = np.array(losses)
        self.loss = float(self.losses.sum())
        self.params = [torch.cat(ps).numpy().copy() for ps in zip(*trained, strict=True)]
        log.debug("EnergyEnsemble: %d points, %d members, loss %.3g", len(X), self.members,
                  self.loss)
        return self

    # --------------------------------------------------------------- prediction

    def members_predict(self, X: np.ndarray, grad: bool = False
                        ) -> tuple[np.ndarray, np.ndarray | None]:
        """Every member's flux ``(M, n, m)`` and, with ``grad``, tangent ``(M, n, m, D)``."""
        if not self.fitted:
            raise RuntimeError("EnergyEnsemble.predict: call fit first")
        torch = require_torch("EnergyEnsemble")
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.nfeat:
            raise ValueError(f"EnergyEnsemble.predict: expected {self.nfeat} input columns, "
                             f"got {X.shape[1]}")
        self._tensors(torch)
        params = [torch.as_tensor(p) for p in self.params]
        q, t = self._forward(torch, params, torch.as_tensor(X / self.e_scale), tangent=grad,
                             create_graph=False)
        q = q.detach().numpy() * self.q_scale
        t = None if t is None else t.detach().numpy() * (self.q_scale / self.e_scale)
        return q, t

    def predict(self, X: np.ndarray, grad: bool = False) -> GPPrediction:
        """Ensemble mean and std ``(n, m)`` at features ``X (n, D)``.

        With ``grad`` also the mean tangent ``d mean / d x (n, m, D)``.
        """
        q, t = self.members_predict(X, grad)
        std = q.std(axis=0, ddof=1) if self.members > 1 else np.zeros_like(q[0])
        return GPPrediction(mean=q.mean(axis=0), std=std,
                            grad=None if t is None else t.mean(axis=0))

    # ------------------------------------------------------------ oracle view

    def features(self, g: np.ndarray) -> np.ndarray:
        """Inputs ``g (*ishape, *pts)`` to features ``(npts, D)``."""
        pts = self.check_input(g)
        npts = int(np.prod(pts))
        g = np.asarray(g, dtype=float).reshape(self.input_shape + (npts,))
        if self.measure == "strain":
            iu = np.triu_indices(self.dim)
            return g[iu[0], iu[1]].T
        return g.reshape(-1, npts).T

    def fit_oracle(self, oracle: Any, inputs: np.ndarray, tangents: bool = False,
                   executor: Any = None) -> EnergyEnsemble:
        """Train on ``oracle``'s answers at ``inputs (*ishape, n)`` (e.g. from :func:`sample_box`).

        Refuses oracles of another measure or dimension and history-dependent ones. With
        ``tangents`` the oracle's tangents are fitted too.
        """
        if (getattr(oracle, "measure", None), getattr(oracle, "dim", None)) != \
                (self.measure, self.dim):
            raise ValueError(f"EnergyEnsemble.fit_oracle: model is for measure {self.measure!r}"
                             f", dim {self.dim}; oracle {oracle!r} has measure "
                             f"{getattr(oracle, 'measure', None)!r}, dim "
                             f"{getattr(oracle, 'dim', None)!r}")
        if not history_free(oracle):
            raise ValueError(f"EnergyEnsemble.fit_oracle: oracle {type(oracle).__name__} has "
                             "history (initial_state is not None); an energy of the current "
                             "input covers history-free oracles only")
        g = np.asarray(inputs, dtype=float)
        X = self.features(g)
        r = evaluate(oracle, g, executor=executor)
        n = len(X)
        Y = np.asarray(r.flux).reshape(self.nfull, n).T
        dY = None
        if tangents:
            if r.tangent is None:
                raise OracleError(f"EnergyEnsemble.fit_oracle: {oracle!r} returned no tangent")
            t = np.asarray(r.tangent).reshape(self.nfull, self.nfull, n)
            dY = np.einsum("cjn,jk->nck", t, self.A)
        return self.fit(X, Y, dY=dY)

    def evaluate(self, g: np.ndarray, x: np.ndarray | None = None,
                 state: dict | None = None) -> Response:
        """Ensemble-mean flux ``(*fshape, *pts)`` and tangent ``(*fshape, *ishape, *pts)``.

        ``info["std"]`` ``(*fshape, *pts)`` holds the ensemble's std of the flux. For
        ``strain`` the tangent has the minor symmetries (``d sigma / d eps`` of the
        symmetrised input).
        """
        pts = self.check_input(g)
        p = self.predict(self.features(g), grad=True)
        ishape = self.input_shape
        fshape = ishape
        grad = p.grad  # (n, m, D)
        if self.measure == "strain":  # feature derivative -> d sigma / d eps_kl, minor-symmetric
            grad = np.einsum("nck,jk->ncj", grad, self.A) / np.where(
                np.eye(self.dim).ravel() > 0, 1.0, 2.0)
        tangent = np.moveaxis(grad, 0, -1).reshape(fshape + ishape + pts)
        return Response(flux=p.mean.T.reshape(fshape + pts), tangent=tangent,
                        info={"std": p.std.T.reshape(fshape + pts)})

    # -------------------------------------------------------------- persistence

    def config(self) -> dict:
        """Constructor arguments (for JSON)."""
        return {"measure": self.measure, "dim": self.dim, "members": self.members,
                "hidden": list(self.hidden), "symmetry": self.symmetry,
                "max_iter": self.max_iter, "refit_iter": self.refit_iter,
                "tangent_weight": self.tangent_weight, "seed": self.seed}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Training data, scalings and weights (for ``np.savez``)."""
        if not self.fitted:
            raise ValueError("EnergyEnsemble.to_arrays: nothing trained yet")
        out = {"X": self.X, "Y": self.Y, "i_mean": self.i_mean, "i_std": self.i_std,
               "scales": np.array([self.e_scale, self.q_scale])}
        out.update({f"param{k}": p for k, p in enumerate(self.params)})
        if self.dY is not None:
            out["dY"] = self.dY
        return out

    @classmethod
    def from_arrays(cls, config: dict, arrays: dict) -> EnergyEnsemble:
        """Inverse of :meth:`config` + :meth:`to_arrays` (no retraining)."""
        cfg = dict(config)
        cfg["hidden"] = tuple(cfg["hidden"])
        m = cls(**cfg)
        m.X = np.asarray(arrays["X"], dtype=float)
        m.Y = np.asarray(arrays["Y"], dtype=float)
        m.dY = np.asarray(arrays["dY"], dtype=float) if "dY" in arrays else None
        m.i_mean = np.asarray(arrays["i_mean"], dtype=float)
        m.i_std = np.asarray(arrays["i_std"], dtype=float)
        m.e_scale, m.q_scale = (float(s) for s in arrays["scales"])
        sd = m.X.std(axis=0)
        m.x_std, m.theta = np.where(sd > 0, sd, 1.0), np.zeros(m.nfeat)
        nparam = 2 * (len(m.hidden) + 1) + 1
        m.params = [np.asarray(arrays[f"param{k}"], dtype=float) for k in range(nparam)]
        return m
