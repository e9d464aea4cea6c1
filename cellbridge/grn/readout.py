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
    "NetworkReadout",
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
        ``{group: kind}``: ``"group_norm"``, ``"abs_mean_jacobian"`` or ``"mean_abs_jacobian"``.
    n_cells
        ``{group: number of states averaged}``.
    """

    scores: dict
    signs: dict
    mean_jacobian: dict
    score_kind: dict
    n_cells: dict = field(default_factory=dict)


SCORE_KINDS = ("auto", "group_norm", "abs_mean_jacobian", "mean_abs_jacobian")


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
    batch_size: int = 2048,
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
        opposite signs in different cells do not cancel), or ``"auto"``: :math:`\overline{|J|}` with an NGM in
        its own coordinates, else :math:`|\bar J|`. For an NGM, :math:`\overline{|J|}` is exactly 0 where the
        group lasso removed a column, like the group norm, but it measures the effect the regulator has
        where the cells are: a first-layer column can keep a sizeable norm whose hidden units cancel or
        saturate on the data. It ranked edges better than the group norms on the BEELINE benchmark and on
        the linear test system (``benchmarks/results/grn.md``); ``"group_norm"`` is Bellot et al.'s score.
    group_score
        Score of each group (group norms are global, so not among the choices): ``"auto"`` is
        :math:`\overline{|J|}` with an NGM and :math:`|\bar J|` otherwise.
    input_scale
        Passed to :func:`ngm_scores`.
    jacobian_scale
        Factor applied to every Jacobian (e.g. to convert normalised coordinates to user units); it changes
        neither rankings nor signs.
    batch_size
        States per Jacobian pass.

    Returns
    -------
    NetworkReadout
    """
    if score not in SCORE_KINDS:
        raise ValueError(f"score must be one of {SCORE_KINDS}, not {score!r}")
    if group_score not in SCORE_KINDS[:1] + SCORE_KINDS[2:]:
        raise ValueError(f"group_score must be one of {SCORE_KINDS[:1] + SCORE_KINDS[2:]}, not {group_score!r}")
    if loadings is not None:
        # Q J Q^T is linear in J: map the means only; a mean of |Q J Q^T| would need every cell's gene Jacobian
        if "mean_abs_jacobian" in (score, group_score):
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
        group_score = "mean_abs_jacobian" if structured else "abs_mean_jacobian"

    jac = drift_jacobian(drift, x, t, batch_size=batch_size) * float(jacobian_scale)
    labels = np.asarray(groups) if groups is not None else None
    means = mean_jacobian(jac, labels)
    if loadings is not None:
        means = {g: pca_to_genes(m, loadings) for g, m in means.items()}
    scores, signs, counts, kinds = {}, {}, {}, {}
    for g, jm in means.items():
        sel = jac if g == "all" else jac[labels == g]
        counts[g] = int(len(sel))
        signs[g] = jacobian_signs(jm)
        kind = score if g == "all" else group_score
        if kind == "group_norm":
            scores[g] = ngm_scores(ngm, input_scale=input_scale)
        elif kind == "abs_mean_jacobian":
            scores[g] = jacobian_scores(jm)
        else:
            scores[g] = _zero_diagonal(np.abs(sel).mean(0).T)
        kinds[g] = kind
    return NetworkReadout(scores=scores, signs=signs, mean_jacobian=means, score_kind=kinds, n_cells=counts)
