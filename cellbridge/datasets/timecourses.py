"""Public single-cell time courses as AnnData, read from local copies or downloaded and verified.

No data file ships with cellbridge. Each loader resolves its file through
``cellbridge.datasets._fetch.fetch``: ``path=`` (an explicit file) wins; otherwise the file is looked
up at its registry path (e.g. ``timecourse/tigon/EMT.npy``) under ``data_dir=`` or
``$CELLBRIDGE_DATA_DIR``, then in the cache (``$CELLBRIDGE_CACHE`` or ``~/.cache/cellbridge``), and
finally downloaded into the cache when ``download=True``. Files are checked against their SHA-256
(``verify=True``); a mismatch raises :class:`ValueError`, a missing file a :class:`FileNotFoundError`
that says where to put it.

Conventions (the same for every loader)
---------------------------------------
``X``
    The data as published: the low-dimensional coordinates for embedded sets (TIGON, embryoid body;
    float32), the expression matrix for expression sets (moscot, HSMM, CITE-seq, Multiome).
``obsm["X_pca"]``
    Present exactly when the published data hold principal components (embryoid body, CITE-seq,
    Multiome). The TIGON coordinates are *not* PCs (an autoencoder latent for EMT), so they are not
    stored under ``"X_pca"``: fit them with ``use_rep="X"``. For moscot and HSMM,
    :func:`cellbridge.pp.prepare` computes PCA.
``uns["dataset"]["use_rep"]``
    The representation to fit in: ``cb.tl.fit(adata, time_key="day", use_rep=adata.uns["dataset"]
    ["use_rep"])``.
``obs["day"]``
    Time as a float, in days where the source gives real days (EMT: 0, 1/3, 1, 3, 7; moscot: 10, 10.5,
    11; HSMM: hours / 24; embryoid body: first day of each collection window; CITE-seq / Multiome: 2, 3,
    4, 7). Where the source gives only an order (TIGON iPSC bifurcation and simulation) it is the index.
``obs["time_index"]``
    The time point's rank, int 0..K-1 (the leave-one-time-point-out protocols of the literature use it
    as time).
``obs["time_label"]``
    Ordered categorical with the source's labels (``"8h"``, ``"Day 06-09"``, ...), or the index / day
    as a string where the source has none.
``uns["dataset"]``
    ``name``, ``file``, ``url``, ``license``, ``citation``, ``description``, ``use_rep`` (strings, so
    the object writes to ``.h5ad``).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger
from ._fetch import fetch
from ._registry import RemoteFile, get

PathLike = str | os.PathLike[str]

_CITE_TIGON = (
    "Sha, Y., Qiu, Y., Zhou, P., Nie, Q. Reconstructing growth and dynamic trajectories from single-cell "
    "transcriptomics data. Nature Machine Intelligence 6, 25-39 (2024)"
)
_CITE_BARGAJE = (
    "Bargaje, R. et al. Cell population structure prior to bifurcation predicts efficiency of directed "
    "differentiation in human induced pluripotent cells. PNAS 114, 2271-2276 (2017)"
)
_CITE_COOK = (
    "Cook, D. P., Vanderhyden, B. C. Context specificity of the EMT transcriptional response. "
    "Nature Communications 11, 2142 (2020)"
)
_CITE_SCHIEBINGER = (
    "Schiebinger, G. et al. Optimal-transport analysis of single-cell gene expression identifies "
    "developmental trajectories in reprogramming. Cell 176, 928-943 (2019)"
)
_CITE_MOSCOT = "Klein, D. et al. Mapping cells through time and space with moscot. Nature (2025)"
_CITE_TRAPNELL = (
    "Trapnell, C. et al. The dynamics and regulators of cell fate decisions are revealed by "
    "pseudotemporal ordering of single cells. Nature Biotechnology 32, 381-386 (2014)"
)
_CITE_MOON = (
    "Moon, K. R. et al. Visualizing structure and transitions in high-dimensional biological data. "
    "Nature Biotechnology 37, 1482-1492 (2019)"
)
_CITE_TRAJECTORYNET = (
    "Tong, A. et al. TrajectoryNet: a dynamic optimal transport network for modeling cellular dynamics. "
    "ICML (2020)"
)
_CITE_OPENPROBLEMS = (
    "Open Problems in Single-Cell Analysis: Multimodal Single-Cell Integration competition (NeurIPS 2022), "
    "https://www.kaggle.com/competitions/open-problems-multimodal; subset as in Tong, A. et al. "
    "Simulation-free Schrodinger bridges via score and flow matching. AISTATS (2024)"
)


# --------------------------------------------------------------------------------------------------
# what every loader does: find the file, read it, add the time columns and the dataset record


@dataclass(frozen=True)
class _Reader:
    """How the files of one format are read: ``read(file, course)`` returns the AnnData with
    ``obs["day"]``, ``obs["time_index"]`` and ``obs["time_label"]``; ``use_rep`` is the representation the
    data are fitted in; ``requires`` says what a file must hold (for the docstring's ``Raises``)."""

    read: Callable[[Path, _TimeCourse], ad.AnnData]
    use_rep: str
    requires: str


@dataclass(frozen=True)
class _TimeCourse:
    """The facts of one public time course: what its loader reads and what its docstring says.

    The loader ``name`` finds the registry file ``registry``, reads it with ``reader`` and records the
    ``citations`` and the reader's representation in ``uns["dataset"]``. ``times`` are the (day, label)
    pairs of the time points where the file has only their order (TIGON, embryoid body), ``dim`` the
    dimension of a TIGON file. The text fields are reStructuredText that ``_docstring`` fills into the
    sections common to all loaders: ``summary``, ``about`` and ``notes`` are paragraphs (rewrapped);
    ``contents``, what the AnnData holds, is a block kept as written, before the common
    ``uns["dataset"]`` item; ``download_note``, ``verify_note`` and ``use_rep_note`` are appended to the
    common lines on ``download``, ``verify`` and the representation.
    """

    name: str
    registry: str
    reader: _Reader
    citations: tuple[str, ...]
    summary: str
    contents: str
    about: str = ""
    notes: str = ""
    times: tuple[tuple[float, str], ...] = ()
    dim: int = 0
    download_note: str = ""
    verify_note: str = ""
    use_rep_note: str = ""

    @property
    def days(self) -> tuple[float, ...]:
        return tuple(day for day, _ in self.times)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for _, label in self.times)


def _indexed(n_times: int) -> tuple[tuple[float, str], ...]:
    """Time points known only by their order: day and label are the index."""
    return tuple((float(k), str(k)) for k in range(n_times))


class _Loader(Protocol):
    """The signature of every loader (for type checkers)."""

    def __call__(
        self,
        path: PathLike | None = None,
        *,
        data_dir: PathLike | None = None,
        download: bool = True,
        verify: bool = True,
    ) -> ad.AnnData: ...


def _fmt(value: float) -> str:
    return f"{value:g}"


def _uns_record(entry: RemoteFile, citation: str, use_rep: str) -> dict[str, str]:
    return {
        "name": entry.name,
        "file": entry.relpath,
        "url": entry.url,
        "license": entry.license,
        "citation": citation,
        "description": entry.description,
        "use_rep": use_rep,
    }


def _time_columns(day: np.ndarray, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """``day`` (float), ``time_index`` (rank of the day) and ``time_label`` (ordered categorical).

    ``labels`` gives one label per distinct day, in increasing order of day; by default ``f"{day:g}"``.
    """
    day = np.asarray(day, dtype=np.float64)
    if not np.all(np.isfinite(day)):
        raise ValueError("the time column holds missing or non-finite values")
    uniq, index = np.unique(day, return_inverse=True)
    if labels is None:
        labels = [_fmt(d) for d in uniq]
    if len(labels) != uniq.size:
        raise ValueError(f"{len(labels)} time labels for {uniq.size} time points")
    cats = list(labels)
    return pd.DataFrame(
        {
            "day": day,
            "time_index": index.astype(np.int64),
            "time_label": pd.Categorical.from_codes(index, categories=cats, ordered=True),
        }
    )


def _log_loaded(fn: str, adata: ad.AnnData, path: os.PathLike[str]) -> None:
    counts = adata.obs["time_label"].value_counts(sort=False)
    per_time = ", ".join(f"{k}: {v}" for k, v in counts.items())
    logger.info(
        f"{fn}: {adata.n_obs} cells x {adata.n_vars} variables from {path} ({per_time}); "
        f"obs['day'], obs['time_index'], obs['time_label'], uns['dataset']; "
        f"fit with use_rep={adata.uns['dataset']['use_rep']!r}"
    )


def _loader(name: str) -> _Loader:
    """The public loader ``name`` of the table ``_TIME_COURSES``, with its docstring."""
    course = next(c for c in _TIME_COURSES if c.name == name)

    def load(
        path: PathLike | None = None, *, data_dir: PathLike | None = None, download: bool = True, verify: bool = True
    ) -> ad.AnnData:
        entry = get(course.registry)
        file = fetch(entry, path, data_dir=data_dir, download=download, verify=verify)
        adata = course.reader.read(file, course)
        adata.uns["dataset"] = _uns_record(entry, "; ".join(course.citations), course.reader.use_rep)
        _log_loaded(course.name, adata, file)
        return adata

    load.__name__ = load.__qualname__ = course.name
    load.__doc__ = _docstring(course, get(course.registry))
    return load


#: width of the docstring paragraphs that ``_docstring`` wraps
_WIDTH = 104
_CONVENTIONS = (
    'The columns ``obs["day"]``, ``obs["time_index"]``, ``obs["time_label"]`` and ``uns["dataset"]`` follow '
    "the conventions of :mod:`cellbridge.datasets.timecourses`, which also says where the file is looked for."
)


def _para(text: str, indent: str = "", first: str | None = None) -> str:
    """``text`` as one paragraph wrapped at ``_WIDTH``, indented by ``indent`` (its first line by ``first``)."""
    return textwrap.fill(
        " ".join(text.split()),
        _WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _docstring(course: _TimeCourse, entry: RemoteFile) -> str:
    """The numpydoc docstring of ``course``'s loader: its own lines in the sections common to all loaders."""
    tab = "    "
    if entry.direct:
        download = "Download the file into the cache when it is not found."
        not_found = "The file is not available locally and could not be downloaded (the message says where to put it)."
    else:
        download = (
            "Unused in practice: the origin is not a direct download (a missing file raises "
            ":class:`FileNotFoundError` that says how to make the file)."
        )
        not_found = "The file is not available locally (the message says where to put it and how to make it)."
    use_rep = f'``use_rep="{course.reader.use_rep}"``{course.use_rep_note}'
    lines = [course.summary, ""]
    if course.about:
        lines += [_para(course.about), ""]
    lines += [
        "Parameters",
        "----------",
        "path",
        _para(f"The ``{entry.filename}`` file; when given, nothing else is searched.", tab),
        "data_dir",
        _para(f"Directory holding ``{entry.relpath}`` (default: ``$CELLBRIDGE_DATA_DIR``, then the cache).", tab),
        "download",
        _para(f"{download} {course.download_note}", tab),
        "verify",
        _para(f"Check the file's SHA-256{course.verify_note}.", tab),
        "",
        "Returns",
        "-------",
        "anndata.AnnData",
        textwrap.indent(textwrap.dedent(course.contents).strip("\n"), tab),
        _para(f'``uns["dataset"]``: origin, license, citation; fit with {use_rep}.', tab + "  ", first=tab + "- "),
        "",
        "Raises",
        "------",
        "FileNotFoundError",
        _para(not_found, tab),
        "ValueError",
        _para(f"Checksum mismatch, or a file without {course.reader.requires}.", tab),
        "",
        "Notes",
        "-----",
        _para(f"Origin: {entry.url}; license: {entry.license}. {course.notes}"),
        "",
        _para(_CONVENTIONS),
        "",
        "References",
        "----------",
        "\n\n".join(_para(f"{citation}.") for citation in course.citations),
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# readers: a resolved file -> AnnData with the time columns


def _read_tigon(file: Path, course: _TimeCourse) -> ad.AnnData:
    """A TIGON ``.npy``: a (1, K) object array of (n_k, dim) arrays, block k at ``course.days[k]``."""
    n_times, dim = len(course.days), course.dim
    # TIGON stores an object array, which needs pickle; the file has been checked against its SHA-256
    # unless the caller turned verification off.
    raw = np.load(file, allow_pickle=True)
    try:
        blocks = [np.asarray(b, dtype=np.float64) for b in raw[0]]
    except (IndexError, TypeError, ValueError) as err:
        raise ValueError(
            f"{course.name}: {file} does not have TIGON's layout (np.load(f, allow_pickle=True)[0] should be a "
            f"sequence of {n_times} arrays of shape (n_cells, {dim}))"
        ) from err
    shapes = [b.shape for b in blocks]
    if len(blocks) != n_times or any(len(s) != 2 or s[1] != dim for s in shapes):
        raise ValueError(
            f"{course.name}: expected {n_times} arrays of shape (n_cells, {dim}) in {file}, got shapes {shapes}"
        )
    x = np.concatenate(blocks, axis=0).astype(np.float32)
    group = np.repeat(np.arange(len(blocks)), [b.shape[0] for b in blocks])
    obs = _time_columns(np.asarray(course.days, dtype=np.float64)[group], course.labels)
    obs.index = pd.Index([f"cell_{i}" for i in range(x.shape[0])])
    adata = ad.AnnData(X=x, obs=obs)
    adata.var_names = [f"dim_{j}" for j in range(x.shape[1])]
    return adata


def _numeric_column(adata: ad.AnnData, key: str, what: str) -> np.ndarray:
    if key not in adata.obs.columns:
        raise ValueError(f"{what}: the file has no obs[{key!r}] (columns: {list(adata.obs.columns)})")
    col = adata.obs[key]
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what}: obs[{key!r}] holds values that are not numbers")
    return values


def _set_time_columns(adata: ad.AnnData, day: np.ndarray, labels: Sequence[str] | None = None) -> None:
    cols = _time_columns(day, labels)
    cols.index = adata.obs_names
    for c in cols.columns:
        adata.obs[c] = cols[c]


def _read_h5ad(file: Path, course: _TimeCourse) -> ad.AnnData:
    """An ``.h5ad`` with the time point in days in ``obs["day"]``."""
    adata = ad.read_h5ad(file)
    _set_time_columns(adata, _numeric_column(adata, "day", course.name))
    return adata


def _read_hsmm(file: Path, course: _TimeCourse) -> ad.AnnData:
    """The HSMM ``.h5ad``: time in hours in ``obs["Hours"]``, labelled ``"<hours>h"``."""
    adata = ad.read_h5ad(file)
    hours = _numeric_column(adata, "Hours", course.name)
    uniq = np.unique(hours)
    _set_time_columns(adata, hours / 24.0, labels=[f"{_fmt(h)}h" for h in uniq])
    return adata


def _read_openproblems(file: Path, course: _TimeCourse) -> ad.AnnData:
    """The literature's Open Problems ``.h5ad``: ``obs["day"]`` and the PCs in ``obsm["X_pca"]``."""
    adata = ad.read_h5ad(file)
    if "X_pca" not in adata.obsm:
        raise ValueError(
            f"{course.name}: {file} has no obsm['X_pca'] (keys: {list(adata.obsm.keys())}); the literature's file "
            "carries its PCs there. Compute them with cellbridge.pp.prepare, or pass the original file."
        )
    _set_time_columns(adata, _numeric_column(adata, "day", course.name))
    return adata


def _read_embryoid_body(file: Path, course: _TimeCourse) -> ad.AnnData:
    """TrajectoryNet's ``.npz``: ``pcs``, ``sample_labels`` (index or label of ``course.labels``) and the
    optional ``phate``, ``pcs_delta``, ``delta_embedding``."""
    labels, days = course.labels, course.days
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError:
        # sample labels stored as Python strings need pickle; the file has been verified unless verify=False
        with np.load(file, allow_pickle=True) as npz:
            arrays = {k: npz[k] for k in npz.files}
    missing = [k for k in ("pcs", "sample_labels") if k not in arrays]
    if missing:
        raise ValueError(f"{course.name}: {file} has no {missing} array(s) (arrays: {sorted(arrays)})")
    pcs = np.asarray(arrays["pcs"], dtype=np.float32)
    raw = np.asarray(arrays["sample_labels"]).ravel()
    if pcs.ndim != 2 or raw.size != pcs.shape[0]:
        raise ValueError(f"{course.name}: pcs of shape {pcs.shape} and {raw.size} sample labels do not match")
    if raw.dtype.kind in "iuf":
        index = raw.astype(np.int64)
        if not np.array_equal(index, raw) or index.min() < 0 or index.max() >= len(labels):
            raise ValueError(f"{course.name}: sample_labels should be 0 .. 4, got {np.unique(raw).tolist()}")
    else:
        lookup = {label: k for k, label in enumerate(labels)}
        try:
            index = np.array([lookup[str(v)] for v in raw], dtype=np.int64)
        except KeyError as err:
            raise ValueError(f"{course.name}: unknown sample label {err.args[0]!r}; expected {labels}") from None
    present = np.unique(index)
    obs = _time_columns(np.asarray(days)[index], [labels[k] for k in present])
    obs.index = pd.Index([f"cell_{i}" for i in range(pcs.shape[0])])
    adata = ad.AnnData(X=pcs, obs=obs)
    adata.var_names = [f"PC{j + 1}" for j in range(pcs.shape[1])]
    adata.obsm["X_pca"] = pcs.copy()
    for key, obsm_key in (("phate", "X_phate"), ("pcs_delta", "velocity_pca"), ("delta_embedding", "velocity_phate")):
        if key in arrays and np.ndim(arrays[key]) == 2 and arrays[key].shape[0] == pcs.shape[0]:
            adata.obsm[obsm_key] = np.asarray(arrays[key], dtype=np.float32)
    return adata


# --------------------------------------------------------------------------------------------------
# the time courses

#: the file formats
_TIGON_NPY = _Reader(_read_tigon, "X", "TIGON's layout")
_DAY_H5AD = _Reader(_read_h5ad, "X_pca", '``obs["day"]``')
_HSMM_H5AD = _Reader(_read_hsmm, "X_pca", '``obs["Hours"]``')
_TRAJECTORYNET_NPZ = _Reader(_read_embryoid_body, "X_pca", "the ``pcs`` and ``sample_labels`` arrays")
_OPENPROBLEMS_H5AD = _Reader(_read_openproblems, "X_pca", '``obs["day"]`` or ``obsm["X_pca"]``')

_TIGON_REPOSITORY = "TIGON's repository: https://github.com/yutongo/TIGON."
#: what the two Open Problems subsets share
_OPENPROBLEMS_SUBSET = (
    "from the NeurIPS 2022 Open Problems multimodal competition at days 2, 3, 4 and 7, as prepared by Tong et al. "
    "([SF]2M) and used by TorchCFM, MIOFlow and Metric Flow Matching"
)
_KAGGLE_DATA = "https://www.kaggle.com/competitions/open-problems-multimodal/data"


def _openproblems(name: str, **text: str) -> _TimeCourse:
    """An Open Problems subset: registered under its loader's name, with the reader, citation and download
    caveats that the two share."""
    return _TimeCourse(
        name=name,
        registry=name,
        reader=_OPENPROBLEMS_H5AD,
        citations=(_CITE_OPENPROBLEMS,),
        download_note=(
            "From Mendeley Data, which may refuse scripted downloads: then download it in a browser and pass "
            "``path=``."
        ),
        verify_note=" (as published by downstream projects; see the registry)",
        **text,
    )


# One entry per public loader: ``_loader`` makes the function and ``_docstring`` its documentation.
_TIME_COURSES = (
    _TimeCourse(
        name="ipsc_bifurcation",
        registry="tigon_bifurcation",
        reader=_TIGON_NPY,
        citations=(_CITE_BARGAJE, _CITE_TIGON),
        times=_indexed(8),
        dim=4,
        summary="iPSC to cardiomyocyte differentiation: a bifurcating time course in 4 dimensions (TIGON).",
        about="""
            Single-cell qPCR of human induced pluripotent stem cells directed towards cardiomyocytes
            (Bargaje et al. 2017), as reduced to 4 dimensions and distributed by TIGON
            (``Input/Bifurcation.npy``). The population splits into two branches part-way through the course.
        """,
        contents="""
            1896 cells x 4 dimensions:

            - ``X``: the coordinates (float32), ``var_names`` ``dim_0`` .. ``dim_3``;
            - ``obs["day"]``: the time point's index 0 .. 7 as a float (the file carries no sampling days),
              ``obs["time_index"]`` the same as int, ``obs["time_label"]`` ``"0"`` .. ``"7"``;
            - cells per time point: 231, 166, 93, 211, 122, 258, 456, 359;
        """,
        notes=f"""
            {_TIGON_REPOSITORY} ``np.load(f, allow_pickle=True)[0]`` is a sequence of 8 arrays of shape
            (n_t, 4). Loading a pickled array runs code from the file, which is why it is verified against its
            SHA-256 first.
        """,
    ),
    _TimeCourse(
        name="emt",
        registry="tigon_emt",
        reader=_TIGON_NPY,
        citations=(_CITE_COOK, _CITE_TIGON),
        times=((0.0, "0d"), (1.0 / 3.0, "8h"), (1.0, "1d"), (3.0, "3d"), (7.0, "7d")),
        dim=3,
        summary="A549 epithelial-mesenchymal transition under TGF-beta in a 3-D latent space (TIGON).",
        about="""
            Single-cell RNA-seq of A549 lung cancer cells treated with TGF-beta1 (Cook & Vanderhyden 2020),
            embedded by TIGON's autoencoder in 3 dimensions and distributed as ``Input/EMT.npy``.
        """,
        contents="""
            3133 cells x 3 dimensions:

            - ``X``: the autoencoder coordinates (float32), ``var_names`` ``dim_0`` .. ``dim_2``;
            - ``obs["day"]``: 0, 1/3, 1, 3, 7 (days), ``obs["time_index"]`` 0 .. 4, ``obs["time_label"]``
              ``"0d"``, ``"8h"``, ``"1d"``, ``"3d"``, ``"7d"``;
            - cells per time point: 577, 885, 788, 754, 129;
        """,
        notes=f"""
            {_TIGON_REPOSITORY} Its ``EMT_data/AE_EMT_time.csv`` (registered as ``tigon_emt_time``) gives the
            time label of each of the 3133 cells by barcode; its counts per label are the ones above, which
            fixes the order of the time points in ``EMT.npy``. It is not needed here.
        """,
    ),
    _TimeCourse(
        name="tigon_simulation",
        registry="tigon_simulation",
        reader=_TIGON_NPY,
        citations=(_CITE_TIGON,),
        times=_indexed(5),
        dim=3,
        summary="TIGON's synthetic 3-D time course with growth (5 time points).",
        contents="""
            2947 cells x 3 dimensions:

            - ``X``: the coordinates (float32), ``var_names`` ``dim_0`` .. ``dim_2``;
            - ``obs["day"]``: the time point's index 0 .. 4 as a float, ``obs["time_index"]`` the same as int,
              ``obs["time_label"]`` ``"0"`` .. ``"4"``;
            - cells per time point: 400, 433, 518, 682, 914 (the population grows);
        """,
        notes=_TIGON_REPOSITORY,
    ),
    _TimeCourse(
        name="moscot_reprogramming",
        registry="moscot_temporal",
        reader=_DAY_H5AD,
        citations=(_CITE_SCHIEBINGER, _CITE_MOSCOT),
        use_rep_note=", computed by :func:`cellbridge.pp.prepare`",
        summary="Subset of the Schiebinger et al. 2019 reprogramming time course (moscot's test data).",
        about="""
            250 mouse embryonic fibroblasts reprogramming towards iPSCs at days 10, 10.5 and 11, 1479 genes. It
            is small: meant for format and integration tests, not for biological conclusions.
        """,
        contents="""
            250 cells x 1479 genes, as in the file (``X`` sparse, normalised and log-transformed; ``obs``
            ``cell_type``, ``batch``; moscot's reference results in ``uns``), plus:

            - ``obs["day"]``: 10.0, 10.5, 11.0 (float; categorical in the file), ``obs["time_index"]``
              0 .. 2, ``obs["time_label"]`` ``"10"``, ``"10.5"``, ``"11"``;
            - cells per time point: 85, 81, 84;
        """,
        notes="""
            The file is ``tests/data/moscot_temporal_tests.h5ad`` of https://github.com/theislab/moscot. It
            has changed over moscot's history; the registered checksum is that of the project's copy.
        """,
    ),
    _TimeCourse(
        name="hsmm",
        registry="hsmm",
        reader=_HSMM_H5AD,
        citations=(_CITE_TRAPNELL,),
        verify_note=" (that of the project's converted file)",
        use_rep_note=(
            ", computed by :func:`cellbridge.pp.prepare` (log-transform FPKM first, e.g. ``scanpy.pp.log1p``)"
        ),
        summary="Human skeletal muscle myoblast differentiation (Trapnell et al. 2014), FPKM at 0, 24, 48, 72 h.",
        about="""
            The HSMM data of Bioconductor's ``HSMMSingleCell`` package (Smart-seq of primary myoblasts switched
            from growth to differentiation medium), converted to ``.h5ad``.
        """,
        contents="""
            271 cells x 21532 genes, as in the file (``X``: FPKM, sparse float32, not log-transformed;
            ``obs`` the sample sheet: ``Hours``, ``Media``, ``Pseudotime``, ``State``, ...; ``var`` the gene
            annotation), plus:

            - ``obs["day"]``: ``Hours / 24`` (0, 1, 2, 3), ``obs["Hours"]`` kept, ``obs["time_index"]``
              0 .. 3, ``obs["time_label"]`` ``"0h"``, ``"24h"``, ``"48h"``, ``"72h"``;
            - cells per time point: 69, 74, 79, 49;
        """,
        notes="""
            The tarball is the R data package ``HSMMSingleCell`` 1.18.0 (Bioconductor 3.16, Debian
            ``r-bioc-hsmmsinglecell``). The ``.h5ad`` was converted from the package's ``.rda`` files, keeping
            the genes detected in at least 3 cells; the registered SHA-256 is that of the converted file.
        """,
    ),
    _TimeCourse(
        name="embryoid_body",
        registry="embryoid_body",
        reader=_TRAJECTORYNET_NPZ,
        citations=(_CITE_MOON, _CITE_TRAJECTORYNET),
        times=((0.0, "Day 00-03"), (6.0, "Day 06-09"), (12.0, "Day 12-15"), (18.0, "Day 18-21"), (24.0, "Day 24-27")),
        verify_note=" (as published by a downstream project; see the registry)",
        summary=(
            "Embryoid body differentiation over 27 days, as preprocessed by TrajectoryNet (``eb_velocity_v5.npz``)."
        ),
        about="""
            Human embryonic stem cells grown as embryoid bodies and sampled in five 3-day windows (Moon et al.
            2019), in the PCA and PHATE embeddings that TrajectoryNet, TorchCFM, [SF]2M and MIOFlow benchmark on.
        """,
        contents="""
            One row per cell of the file:

            - ``X`` and ``obsm["X_pca"]``: the principal components of the ``pcs`` array (float32, 100 in
              TrajectoryNet's file), ``var_names`` ``PC1`` ..;
            - ``obsm["X_phate"]``: the 2-D PHATE embedding (``phate``), when present;
            - ``obsm["velocity_pca"]`` / ``obsm["velocity_phate"]``: RNA-velocity displacements
              (``pcs_delta`` / ``delta_embedding``), when present;
            - ``obs["day"]``: first day of the collection window (0, 6, 12, 18, 24), ``obs["time_index"]``
              0 .. 4 (``sample_labels``), ``obs["time_label"]`` ``"Day 00-03"`` .. ``"Day 24-27"``;
        """,
        notes="""
            The file is ``data/eb_velocity_v5.npz`` of https://github.com/KrishnaswamyLab/TrajectoryNet.
            Format, as read by TrajectoryNet's ``EBData`` and TorchCFM: an ``.npz`` with ``pcs``
            (cells x 100), ``phate`` (cells x 2), ``sample_labels`` (time point 0 .. 4, one per cell),
            ``pcs_delta`` and ``delta_embedding``. The literature standardises the PCs (``StandardScaler``)
            and keeps the first 5 or 100 before fitting; this loader returns them unscaled.
        """,
    ),
    _openproblems(
        "citeseq",
        summary="CITE-seq time course of hematopoietic stem and progenitor cells (Open Problems 2022 subset).",
        about=f"""
            The gene-expression inputs of one donor's CITE-seq cells {_OPENPROBLEMS_SUBSET}
            (``op_cite_inputs_0.h5ad``, about 1.2 GB).
        """,
        contents="""
            The file's AnnData (``X`` expression, ``obsm["X_pca"]`` the PCs the literature fits in, the
            first 5, 50 or 100 of them), plus:

            - ``obs["day"]``: 2, 3, 4, 7 as float, ``obs["time_index"]`` 0 .. 3, ``obs["time_label"]``
              ``"2"``, ``"3"``, ``"4"``, ``"7"``;
        """,
        notes=f"""
            The file is ``op_cite_inputs_0.h5ad`` of that Mendeley Data record; the raw competition data are
            at {_KAGGLE_DATA}. Format, as read by TorchCFM and its successors: ``obs["day"]`` the time point,
            ``obsm["X_pca"]`` the PCs.
        """,
    ),
    _openproblems(
        "multiome",
        summary="Multiome (gene expression) time course of hematopoietic progenitors (Open Problems 2022 subset).",
        about=f"""
            The RNA targets of one donor's Multiome cells {_OPENPROBLEMS_SUBSET}
            (``op_train_multi_targets_0.h5ad``, about 1.1 GB).
        """,
        contents="""
            The file's AnnData (``X`` expression, ``obsm["X_pca"]`` the PCs the literature fits in), plus:

            - ``obs["day"]``: 2, 3, 4, 7 as float, ``obs["time_index"]`` 0 .. 3, ``obs["time_label"]``
              ``"2"``, ``"3"``, ``"4"``, ``"7"``;
        """,
        notes=f"""
            The file is ``op_train_multi_targets_0.h5ad`` of that Mendeley Data record; the raw competition
            data are at {_KAGGLE_DATA}.
        """,
    ),
)

__all__ = [course.name for course in _TIME_COURSES]

ipsc_bifurcation = _loader("ipsc_bifurcation")
emt = _loader("emt")
tigon_simulation = _loader("tigon_simulation")
moscot_reprogramming = _loader("moscot_reprogramming")
hsmm = _loader("hsmm")
embryoid_body = _loader("embryoid_body")
citeseq = _loader("citeseq")
multiome = _loader("multiome")
