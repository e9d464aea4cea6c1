r"""Reading a gene regulatory network from a learned drift (AnnData-free).

A drift :math:`f(t, x)` fitted in gene space defines a network through its Jacobian
:math:`J_{ij} = \partial f_i / \partial x_j`: gene :math:`j` regulates gene :math:`i` where the velocity of
:math:`i` depends on the level of :math:`j`, activating where :math:`J_{ij} > 0`, repressing where
:math:`J_{ij} < 0`. The package's score matrices are oriented :math:`S[\text{regulator}, \text{target}]`
(:mod:`cellbridge.grn.edges`), hence :math:`S = |\bar J|^T` and signs :math:`\operatorname{sign}(\bar J)^T`.

Edge scores, by model:

- **Neural graphical model** (:class:`cellbridge.nn.NGMDrift`): the first-layer column norms
  :math:`\lVert W^{(i)}_{:, j} \rVert` (:func:`ngm_scores`), which the group lasso made sparse, or (the
  default of :func:`read_network`) the mean absolute Jacobian over the observed cells, zero on the same
  pruned columns; the Jacobian, averaged over the observed cells and their times, gives the signs.
  Networks of a group of cells (a branch, a time bin) weigh each cell's Jacobian by the regulator's level
  above its lowest, :math:`\overline{|J_{ij} (x_j - x_j^0)|}` (``"mean_abs_contribution"``; see
  :func:`read_network` for why).
- **Any other drift** (a :class:`cellbridge.nn.TimeMLP` flow, say): :math:`|\bar J|`, the absolute value of
  the averaged Jacobian (:func:`jacobian_scores`). *Caveat*: the drift of a Schrodinger bridge or of exact
  OT with a Brownian reference is a gradient field, whose Jacobian is symmetric: it ranks the pair
  :math:`\{i, j\}` but cannot say whether :math:`j \to i` or :math:`i \to j`, and an unstructured network
  trained on it inherits that ambiguity. Use an NGM drift for directed networks.
- **PCA-space models**: with loadings :math:`Q` (genes x PCs, orthonormal columns), the gene-space drift
  :math:`Q f(Q^T (x - \mu))` has Jacobian :math:`Q J Q^T` (:func:`pca_to_genes`). *Caveat*: its rank is at
  most the number of PCs and it is never sparse: every gene pair gets a score, and the network is
  confined to the directions the PCA kept.

Self-loops (the diagonal: mostly degradation) are no edges and are set to 0 in every score matrix.

The Jacobians assume a drift whose rows are independent (no batch statistics): then the Jacobian of every
cell comes from one reverse-mode pass per output dimension over a whole batch (:func:`drift_jacobian`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "drift_jacobian",
    "mean_jacobian",
    "jacobian_scores",
    "jacobian_signs",
    "ngm_scores",
    "pca_to_genes",
    "scale_per_target",
    "scale_targets",
    "NetworkReadout",
    "ngm_jacobian",
    "read_network",
]

Drift = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def drift_jacobian(
    drift: Drift,
    x: np.ndarray | torch.Tensor,
    t: np.ndarray | torch.Tensor | float,
    *,
    batch_size: int = 2048,
    device: torch.device | str | None = None,
) -> np.ndarray:
    r"""Jacobians :math:`J_{ij}(t_n, x_n) = \partial f_i / \partial x_j` of a drift at every state.

    Parameters
    ----------
    drift
        ``drift(t, x) -> (n, d_out)`` with ``t`` ``(n, 1)`` and ``x`` ``(n, d_in)``; rows must be independent.
    x
        States ``(n, d_in)``.
    t
        Times: one number or one per state.
    batch_size
        States per reverse-mode pass.
    device
        Where to evaluate (default: the device of ``x`` if a tensor, else the CPU).

    Returns
    -------
    numpy.ndarray
        ``(n, d_out, d_in)`` float64.
    """
    if device is None:
        device = x.device if isinstance(x, torch.Tensor) else torch.device("cpu")
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    if x.ndim != 2:
        raise ValueError(f"x must be (n_cells, n_dims), got shape {tuple(x.shape)}")
    t = torch.as_tensor(t, dtype=torch.float32, device=device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(x.shape[0])
    if t.numel() != x.shape[0]:
        raise ValueError(f"t must be one number or one per state ({x.shape[0]}), got {t.numel()}")
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size].detach()
        tb = t[start : start + batch_size].reshape(-1, 1)
        # rows are independent, so d(sum over rows of f_i)/dx = the per-row gradients of f_i
        jac = torch.func.jacrev(lambda xx: drift(tb, xx).sum(0))(xb)  # (d_out, n, d_in)
        out.append(jac.permute(1, 0, 2).detach().cpu().double())
    return torch.cat(out).numpy()


def mean_jacobian(
    jacobians: np.ndarray,
    groups: np.ndarray | None = None,
) -> dict[object, np.ndarray]:
    """Average Jacobians ``(n, d_out, d_in)`` overall (key ``"all"``) and per group label (sorted; label None:
    in no group)."""
    res: dict[object, np.ndarray] = {"all": jacobians.mean(0)}
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(jacobians):
            raise ValueError(f"groups has {len(groups)} labels for {len(jacobians)} Jacobians")
        for g in _unique(groups[np.array([v is not None for v in groups], dtype=bool)]):
            res[g] = jacobians[groups == g].mean(0)
    return res


def _unique(values: np.ndarray) -> list:
    try:
        return list(np.unique(values))
    except TypeError:  # mixed types: keep first-seen order
        return list(dict.fromkeys(values.tolist()))


def _zero_diagonal(s: np.ndarray) -> np.ndarray:
    s = np.array(s, dtype=np.float64)
    k = min(s.shape)
    s[np.arange(k), np.arange(k)] = 0.0
    return s


def jacobian_scores(jacobian: np.ndarray, *, absolute_mean: bool = True) -> np.ndarray:
    r"""Edge scores ``S[regulator, target]`` from a Jacobian.

    Parameters
    ----------
    jacobian
        A mean Jacobian ``(d_out, d_in)`` (``absolute_mean=True``) or per-cell Jacobians ``(n, d_out, d_in)``.
    absolute_mean
        ``True``: :math:`|\bar J|^T` of the mean Jacobian. With per-cell Jacobians, ``False`` gives the mean
        absolute Jacobian :math:`\overline{|J|}^T` instead (effects of changing sign do not cancel).

    Returns
    -------
    numpy.ndarray
        ``(d_in, d_out)`` with a zero diagonal (self-loops are no edges).
    """
    j = np.asarray(jacobian, dtype=np.float64)
    if j.ndim == 3:
        j = np.abs(j.mean(0)) if absolute_mean else np.abs(j).mean(0)
    return _zero_diagonal(np.abs(j).T)


def jacobian_signs(jacobian: np.ndarray) -> np.ndarray:
    r"""Edge signs ``(d_in, d_out)`` in the ``[regulator, target]`` orientation: :math:`\operatorname{sign}(\bar J)^T`."""
    j = np.asarray(jacobian, dtype=np.float64)
    if j.ndim == 3:
        j = j.mean(0)
    return _zero_diagonal(np.sign(j).T).astype(np.int8)


def ngm_scores(ngm: torch.nn.Module, *, input_scale: np.ndarray | None = None) -> np.ndarray:
    r"""Edge scores ``S[regulator, target]`` of a neural graphical model: its first-layer column norms.

    Parameters
    ----------
    ngm
        An :class:`cellbridge.nn.NGMDrift`.
    input_scale
        Optional spread of each input gene (``(d_in,)``, in the units the network sees): the scores become
        :math:`\lVert W^{(i)}_{:, j} \rVert s_j`, the effect of a typical change of the regulator, which
        compares regulators of very different spreads fairly. None: the plain norms.

    Returns
    -------
    numpy.ndarray
        ``(d_in, d_out)``, zero diagonal.
    """
    with torch.no_grad():
        s = ngm.group_norms().detach().cpu().double().numpy()
    if input_scale is not None:
        s = s * np.asarray(input_scale, dtype=np.float64).reshape(-1, 1)
    return _zero_diagonal(s)


def pca_to_genes(jacobian: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    r"""Gene-space Jacobian :math:`Q J Q^T` of a drift fitted in PCA space.

    Parameters
    ----------
    jacobian
        ``(..., k, k)`` in PCA coordinates.
    loadings
        :math:`Q`, genes x PCs (scanpy's ``adata.varm["PCs"]``).

    Returns
    -------
    numpy.ndarray
        ``(..., n_genes, n_genes)``. Caveat: rank at most ``k`` and not sparse.
    """
    q = np.asarray(loadings, dtype=np.float64)
    j = np.asarray(jacobian, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != j.shape[-1] or j.shape[-1] != j.shape[-2]:
        raise ValueError(f"loadings must be genes x {j.shape[-1]} PCs, got {q.shape}")
    return q @ j @ q.T


#: how :func:`scale_targets` puts the targets' scores on a common scale
TARGET_SCALES = ("sqrt", "max", None)


def scale_per_target(scores: np.ndarray) -> np.ndarray:
    r"""Scores ``S[regulator, target]`` with each target's column divided by its largest entry.

    Targets differ in how fast they move and how well their dynamics are fitted, so raw magnitudes do not
    rank edges across targets; on a common scale every target's strongest regulator scores 1 (columns of
    zeros stay 0). That is a prior that every target has a regulator, true of the networks this is meant for.

    Parameters
    ----------
    scores
        ``(d_in, d_out)``, non-negative.

    Returns
    -------
    numpy.ndarray
        ``(d_in, d_out)`` in [0, 1], float64.
    """
    s = np.asarray(scores, dtype=np.float64)
    top = s.max(axis=0, keepdims=True)
    return np.divide(s, top, out=np.zeros_like(s), where=top > 0)


def scale_targets(scores: np.ndarray, how: str | None = "sqrt") -> np.ndarray:
    r"""Scores ``S[regulator, target]`` on a common scale across targets.

    Parameters
    ----------
    scores
        ``(d_in, d_out)``, non-negative.
    how
        ``"max"``: :func:`scale_per_target`, :math:`S_{ij} / \max_k S_{kj}` (every target's strongest
        regulator scores 1: a prior that every target has a regulator). ``"sqrt"``: the geometric mean of
        that and the score relative to the strongest edge of the network,
        :math:`S_{ij} / \sqrt{\max_k S_{kj} \, \max_{kl} S_{kl}}`: an edge ranks high when it is strong both
        for its target and in absolute terms, so fast targets do not crowd out the others, and a target
        without a regulator (whose strongest score is small) is not lifted to the top. None: unchanged.

    Returns
    -------
    numpy.ndarray
        ``(d_in, d_out)`` in [0, 1] (``"max"``, ``"sqrt"``), float64; columns of zeros stay 0.
    """
    if how not in TARGET_SCALES:
        raise ValueError(f"target_scale must be one of {TARGET_SCALES}, not {how!r}")
    s = np.asarray(scores, dtype=np.float64)
    if how is None:
        return s.copy()
    if how == "max":
        return scale_per_target(s)
    top = s.max(axis=0, keepdims=True) * (s.max() if s.size else 0.0)
    return np.divide(s, np.sqrt(top), out=np.zeros_like(s), where=top > 0)


@dataclass
class NetworkReadout:
    r"""What :func:`read_network` found, every score and sign matrix in the ``[regulator, target]`` orientation.

    Attributes
    ----------
    scores
        ``{group: (d_in, d_out)}`` edge scores; key ``"all"`` for every state together.
    signs
        ``{group: (d_in, d_out)}`` signs of the averaged Jacobian (int8).
    mean_jacobian
        ``{group: (d_out, d_in)}`` averaged Jacobians :math:`\bar J_{ij} = \partial f_i / \partial x_j`
        (in gene space when ``loadings`` were given).
    score_kind
        ``{group: kind}``: ``"group_norm"``, ``"abs_mean_jacobian"``, ``"mean_abs_jacobian"`` or
        ``"mean_abs_contribution"``.
    n_cells
        ``{group: number of states averaged}``.
    raw_scores
        ``{group: (d_in, d_out)}`` scores before any per-target scaling, which break ties of ``scores``
        (:func:`cellbridge.tl.grn`'s ``raw_score`` column); empty when the scores are not scaled (a model's
        readout): the scores themselves then.
    """

    scores: dict
    signs: dict
    mean_jacobian: dict
    score_kind: dict
    n_cells: dict = field(default_factory=dict)
    raw_scores: dict = field(default_factory=dict)

    def unscaled(self, group) -> np.ndarray:
        """The scores of ``group`` before any per-target scaling (``raw_scores``, else ``scores``)."""
        return self.raw_scores.get(group, self.scores[group])


SCORE_KINDS = ("auto", "group_norm", "abs_mean_jacobian", "mean_abs_jacobian", "mean_abs_contribution")
#: the score kinds that need every cell's Jacobian in the drift's own coordinates (not through PCA loadings)
_PER_CELL_KINDS = ("mean_abs_jacobian", "mean_abs_contribution")


def read_network(
    drift: Drift,
    x: np.ndarray | torch.Tensor,
    t: np.ndarray | float,
    *,
    groups: np.ndarray | None = None,
    ngm: torch.nn.Module | None = None,
    loadings: np.ndarray | None = None,
    score: str = "auto",
    group_score: str = "auto",
    input_scale: np.ndarray | None = None,
    jacobian_scale: float = 1.0,
    state_scale: float = 1.0,
    batch_size: int = 2048,
    regulators: np.ndarray | None = None,
    targets: np.ndarray | None = None,
) -> NetworkReadout:
    r"""Edge scores and signs of a drift, over all states and per group of states.

    Parameters
    ----------
    drift
        ``drift(t, x)``, rows independent, in the coordinates of ``x``.
    x, t
        States ``(n, d)`` and their times (typically the observed cells).
    groups
        Optional label per state (a cell cluster, a time bin): each label gets its own scores and signs.
    ngm
        The :class:`~cellbridge.nn.NGMDrift` inside ``drift``, if any: enables ``score="group_norm"``.
    loadings
        PCA loadings :math:`Q` (genes x PCs) when the drift lives in PCA space: the averaged Jacobians are
        mapped to genes by :func:`pca_to_genes` (scores are then :math:`|Q \bar J Q^T|`).
    score
        Overall score: ``"group_norm"`` (the NGM's first-layer column norms, :func:`ngm_scores`),
        ``"abs_mean_jacobian"`` (:math:`|\bar J|`), ``"mean_abs_jacobian"`` (:math:`\overline{|J|}`, effects of
        opposite signs in different cells do not cancel), ``"mean_abs_contribution"`` (see ``group_score``),
        or ``"auto"``: :math:`\overline{|J|}` with an NGM in its own coordinates, else :math:`|\bar J|`. For an NGM, :math:`\overline{|J|}` is exactly 0 where the
        group lasso removed a column, like the group norm, but it measures the effect the regulator has
        where the cells are: a first-layer column can keep a sizeable norm whose hidden units cancel or
        saturate on the data. It ranked edges better than the group norms on the BEELINE benchmark and on
        the linear test system (``benchmarks/results/grn.md``); ``"group_norm"`` is Bellot et al.'s score.
    group_score
        Score of each group (group norms are global, so not among the choices): ``"abs_mean_jacobian"``,
        ``"mean_abs_jacobian"``, ``"mean_abs_contribution"``, or ``"auto"``: ``"mean_abs_contribution"``
        with an NGM in its own coordinates, :math:`|\bar J|` otherwise. The contribution score is
        :math:`\overline{|J_{ij}(x)\,(x_j - x_j^0)|}` over the group's states, :math:`x_j^0` the lowest
        level of regulator :math:`j` among all the states read: to first order (gradient times input), the
        part of target :math:`i`'s velocity that regulator :math:`j` accounts for by being above its lowest
        level, in units of ``x`` per time unit. Why it, for groups: a group's network should hold the edges
        that act in the group, and a regulator that is off there (at its lowest level) acts on nothing, as
        in a Hill-type rule. The Jacobian alone does not say so: it is the sensitivity of a smooth function
        fitted to every cell, and where a regulator is off in the whole group the group's cells carry no
        information on it, so the fit's sensitivity there is the one it learned from the other groups (for
        a nearly linear fitted dependence, the same number): on a branching network whose branches use
        different regulators, :math:`\overline{|J|}` per branch ranked the other branch's edges as high
        as the branch's own (AUROC 0.19-0.81 between them, ``tests/tl/test_grn_branches.py``); the
        contribution separates them. The baseline is shared by every group, so their scores compare. It
        assumes the regulators' levels mean expression (``x^0`` about 0 for log counts: off); PCA
        coordinates have no such level, hence :math:`|\bar J|` there.
    input_scale
        Passed to :func:`ngm_scores`.
    jacobian_scale
        Factor applied to every Jacobian (e.g. to convert normalised coordinates to user units); it changes
        neither rankings nor signs.
    state_scale
        Factor converting the coordinates of ``x`` to user units (the contribution scores are
        :math:`J (x - x^0)` in user units: ``jacobian_scale * state_scale`` times those of ``x``).
    batch_size
        States per Jacobian pass.
    regulators, targets
        Candidate regulators (inputs) and targets (outputs): boolean masks or positions (None: all). Only
        those entries of the Jacobian are averaged; the others are 0 in every matrix. Ignored with
        ``loadings`` (the PCA-space Jacobian is needed whole).

    Returns
    -------
    NetworkReadout

    Notes
    -----
    The Jacobians are averaged batch by batch (in the order of the states, as one mean over all of them
    would), so that memory stays at one batch of Jacobians plus the averages, not ``n`` of them. For an
    NGM in its own coordinates (``ngm`` is ``drift``) with more than :data:`STRUCTURED_NGM_MIN_ENTRIES`
    Jacobian entries, they come from its structure (:func:`ngm_jacobian`): one backward pass per batch and
    one product per regulator, instead of a reverse pass per target through every target's network.
    """
    if score not in SCORE_KINDS:
        raise ValueError(f"score must be one of {SCORE_KINDS}, not {score!r}")
    if group_score not in SCORE_KINDS[:1] + SCORE_KINDS[2:]:
        raise ValueError(f"group_score must be one of {SCORE_KINDS[:1] + SCORE_KINDS[2:]}, not {group_score!r}")
    if loadings is not None:
        # Q J Q^T is linear in J: map the means only; a mean of |Q J Q^T| would need every cell's gene Jacobian
        if score in _PER_CELL_KINDS or group_score in _PER_CELL_KINDS:
            raise ValueError("with PCA loadings the scores are |Q mean(J) Q^T|: use 'abs_mean_jacobian' or 'auto'")
        if score == "group_norm":
            raise ValueError("an NGM's group norms score the model's own coordinates, not genes: a PCA-space "
                             "model has no gene-space group norms")
    if score == "group_norm" and ngm is None:
        raise ValueError("score='group_norm' needs the NGM (pass ngm=)")
    structured = ngm is not None and loadings is None
    if score == "auto":
        score = "mean_abs_jacobian" if structured else "abs_mean_jacobian"
    if group_score == "auto":
        group_score = "mean_abs_contribution" if structured else "abs_mean_jacobian"

    labels = np.asarray(groups) if groups is not None else None
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"groups has {len(labels)} labels for {len(x)} Jacobians")
    group_names = [] if labels is None else _unique(labels[np.array([v is not None for v in labels], dtype=bool)])
    kind_of = {"all": score, **{g: group_score for g in group_names}}
    means, per_cell, counts = _average_jacobians(
        drift, x, t, labels, group_names, {g: k for g, k in kind_of.items() if k in _PER_CELL_KINDS},
        ngm=ngm if structured else None, loadings=loadings,
        regulators=None if loadings is not None else regulators,
        targets=None if loadings is not None else targets, scale=float(jacobian_scale),
        state_scale=float(state_scale), batch_size=batch_size)
    if loadings is not None:
        means = {g: pca_to_genes(m, loadings) for g, m in means.items()}
    scores, signs, kinds = {}, {}, {}
    for g, jm in means.items():
        signs[g] = jacobian_signs(jm)
        kind = score if g == "all" else group_score
        if kind == "group_norm":
            scores[g] = ngm_scores(ngm, input_scale=input_scale)
        elif kind == "abs_mean_jacobian":
            scores[g] = jacobian_scores(jm)
        else:  # mean_abs_jacobian, mean_abs_contribution
            scores[g] = _zero_diagonal(per_cell[g].T)
        kinds[g] = kind
    return NetworkReadout(scores=scores, signs=signs, mean_jacobian=means, score_kind=kinds, n_cells=counts)


#: an NGM whose Jacobian has more entries than this (out_dim x dim) is read through its structure
STRUCTURED_NGM_MIN_ENTRIES = 256 * 256
#: Jacobian entries (states x targets x regulators) per batch of the structured readout
_STRUCTURED_BATCH_ENTRIES = 2**22


def _positions(chosen, d: int) -> np.ndarray | None:
    if chosen is None:
        return None
    chosen = np.asarray(chosen)
    idx = np.flatnonzero(chosen) if chosen.dtype == bool else np.sort(chosen.astype(np.int64).reshape(-1))
    return None if len(idx) == d and np.array_equal(idx, np.arange(d)) else idx


def ngm_jacobian(ngm: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, *, regulators: np.ndarray | None = None,
                 targets: np.ndarray | None = None) -> torch.Tensor:
    r"""Jacobians of an :class:`~cellbridge.nn.NGMDrift` from its structure, for chosen targets and regulators.

    Target :math:`i`'s network sees the genes only through its first layer,
    :math:`u_i = W^{(i)} x + \ldots`, so :math:`\partial f_i / \partial x = (\partial f_i / \partial u_i)^T
    W^{(i)}`: one backward pass gives :math:`\partial f_i / \partial u_i` for every target at once (each
    output depends on its own :math:`u_i` only), and the Jacobian is a product with the first-layer
    weights of the chosen regulators' columns. Equal to the reverse-mode Jacobian up to float32 rounding.

    Parameters
    ----------
    ngm
        The NGM.
    x
        States ``(n, dim)`` (float32, the coordinates the NGM sees).
    t
        Times ``(n, 1)``.
    regulators, targets
        Positions of the input and output genes to keep (None: all).

    Returns
    -------
    torch.Tensor
        ``(n, n_targets, n_regulators)`` float32.
    """
    grad = _ngm_input_grad(ngm, x, t, targets)
    return _ngm_product(ngm, grad, regulators, targets)


def _rows(targets) -> slice | torch.Tensor:
    return slice(None) if targets is None else torch.as_tensor(np.asarray(targets), dtype=torch.long)


def _ngm_input_grad(ngm: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, targets) -> torch.Tensor:
    r""":math:`\partial f_i / \partial u_i` ``(n, n_targets, h0)``, :math:`u_i` target i's first-layer
    pre-activation (the one place where the genes enter its network; see NGMDrift.forward)."""
    rows = _rows(targets)
    w_in = ngm.w_in[rows]  # (T, h0, d)
    n_t, h0, d = w_in.shape
    with torch.no_grad():
        z = x @ w_in.reshape(n_t * h0, d).T
        if ngm.n_time:
            tt = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1, 1).expand(x.shape[0], 1)
            angles = tt * ngm.freqs.to(x.dtype)
            feats = torch.cat([tt, torch.sin(angles), torch.cos(angles)], dim=1)
            z = z + feats @ ngm.w_time[rows].reshape(n_t * h0, ngm.n_time).T
        z = z + ngm.b_in[rows].reshape(-1)
    u = z.detach().requires_grad_(True)
    with torch.enable_grad():
        h = ngm.act(u).reshape(x.shape[0], n_t, h0)
        for w, b in zip(ngm.w_hidden, ngm.b_hidden):
            h = ngm.act(torch.einsum("nta,tba->ntb", h, w[rows]) + b[rows])
        out = (h * ngm.w_out[rows]).sum(-1) + ngm.b_out[rows]
        (grad,) = torch.autograd.grad(out.sum(), u)  # each output depends on its own u_i only
    return grad.reshape(x.shape[0], n_t, h0)


def _ngm_product(ngm: torch.nn.Module, grad: torch.Tensor, regulators, targets) -> torch.Tensor:
    """Jacobians ``(n, n_targets, n_regulators)`` from :func:`_ngm_input_grad`: ``grad_i^T W^{(i)}[:, regulators]``."""
    w_in = ngm.w_in[_rows(targets)]
    if regulators is not None:
        w_in = w_in[:, :, torch.as_tensor(np.asarray(regulators), dtype=torch.long)]
    with torch.no_grad():
        return torch.einsum("nth,thr->ntr", grad, w_in.detach())


def _average_jacobians(drift, x, t, labels, group_names, per_cell_kind, *, ngm, loadings, regulators, targets,
                       scale: float, batch_size: int, state_scale: float = 1.0) -> tuple[dict, dict, dict]:
    """Mean Jacobian of every state and of each group, ``(d_out, d_in)``, and, for the groups that
    ``per_cell_kind`` names, the mean of ``|J|`` (``"mean_abs_jacobian"``) or of ``|J_ij (x_j - x_j^0)|``
    (``"mean_abs_contribution"``, ``x^0`` the lowest level of each input over every state), accumulated batch
    by batch in the order of the states."""
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be (n_cells, n_dims), got shape {tuple(x.shape)}")
    n, d_in = x.shape
    tt = torch.as_tensor(t, dtype=torch.float32).reshape(-1)
    if tt.numel() == 1:
        tt = tt.expand(n)
    if tt.numel() != n:
        raise ValueError(f"t must be one number or one per state ({n}), got {tt.numel()}")
    structured = ngm is not None and drift is ngm and ngm.out_dim * ngm.dim > STRUCTURED_NGM_MIN_ENTRIES
    d_out = ngm.out_dim if ngm is not None else None
    reg = _positions(regulators, d_in)
    tgt = None if targets is None else _positions(targets, d_out if d_out is not None else d_in)
    sums: dict = {}
    abs_sums: dict = {}
    counts = {"all": 0, **{g: 0 for g in group_names}}
    member = None if labels is None else {g: labels == g for g in group_names}
    levels = None
    if "mean_abs_contribution" in per_cell_kind.values():
        # each input's level above its lowest over every state (the same baseline for every group), user units
        levels = (x - x.min(dim=0).values).double().numpy() * state_scale
        if reg is not None:
            levels = levels[:, reg]

    def add(block: np.ndarray, start: int) -> None:
        # cell by cell, in order: the same sums (bit for bit) as a mean over a stack of every Jacobian
        rows_of = {"all": range(len(block))}
        if member is not None:
            for g in group_names:
                rows_of[g] = np.flatnonzero(member[g][start:start + len(block)])
        for g, rows in rows_of.items():
            kind = per_cell_kind.get(g)
            if g not in sums:
                sums[g] = np.zeros(block.shape[1:], dtype=np.float64)
                if kind is not None:
                    abs_sums[g] = np.zeros(block.shape[1:], dtype=np.float64)
            acc, acc_abs = sums[g], abs_sums.get(g)
            for k in rows:
                acc += block[k]
                if kind == "mean_abs_jacobian":
                    acc_abs += np.abs(block[k])
                elif kind == "mean_abs_contribution":
                    acc_abs += np.abs(block[k] * levels[start + k][None, :])
            counts[g] += len(rows)

    if structured:
        n_rows = ngm.out_dim if tgt is None else len(tgt)
        n_cols = d_in if reg is None else len(reg)
        h0 = ngm.w_in.shape[1]
        # the first-layer pre-activations of a batch (states x targets x h0), then the products in chunks
        step = max(1, min(batch_size, _STRUCTURED_BATCH_ENTRIES // max(1, n_rows * h0)))
        chunk = max(1, _STRUCTURED_BATCH_ENTRIES // max(1, n_rows * n_cols))
        for start in range(0, n, step):
            grad = _ngm_input_grad(ngm, x[start:start + step], tt[start:start + step].reshape(-1, 1), tgt)
            for k in range(0, len(grad), chunk):
                jac = _ngm_product(ngm, grad[k:k + chunk], reg, tgt)
                add(jac.double().numpy() * scale, start + k)
    else:
        for start in range(0, n, batch_size):
            jac = drift_jacobian(drift, x[start:start + batch_size], tt[start:start + batch_size],
                                 batch_size=batch_size) * scale
            if tgt is not None:
                jac = jac[:, tgt]
            if reg is not None:
                jac = jac[:, :, reg]
            add(jac, start)
    if counts["all"] == 0:
        raise ValueError("no states to read a network from")
    shape = None
    if tgt is not None or reg is not None:
        shape = (d_out if d_out is not None else _output_dim(drift, x, tt), d_in)
    means, abs_means = {}, {}
    for g in sums:
        means[g] = _full(sums[g] / counts[g], tgt, reg, shape)
        if g in abs_sums:
            abs_means[g] = _full(abs_sums[g] / counts[g], tgt, reg, shape)
    return means, abs_means, {g: counts[g] for g in sums}


def _output_dim(drift, x: torch.Tensor, t: torch.Tensor) -> int:
    with torch.no_grad():
        return int(drift(t[:1].reshape(-1, 1), x[:1]).shape[1])


def _full(block: np.ndarray, rows, cols, shape) -> np.ndarray:
    """The (targets x regulators) block in a ``shape`` matrix of zeros (the block itself when it is all of it)."""
    if shape is None:
        return block
    out = np.zeros(shape, dtype=np.float64)
    out[np.ix_(np.arange(shape[0]) if rows is None else rows, np.arange(shape[1]) if cols is None else cols)] = block
    return out
