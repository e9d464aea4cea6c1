"""Registry of the public data files that the loaders of :mod:`cellbridge.datasets` read.

Each file is a :class:`RemoteFile`: where it lives relative to a data directory (the layout mirrors the
project's reference data folder, so a user can point ``data_dir=`` or ``CELLBRIDGE_DATA_DIR`` at a
directory with that layout), the public URL it comes from, and its SHA-256.

Checksums
---------
The SHA-256 of the files present in the project's reference data folder were taken from its
``MANIFEST.sha256``. For the three files that are not available offline (embryoid body, CITE-seq,
Multiome) the checksums are the ones published by downstream projects that download and verify them:
``yukinye/MFM`` (``scripts/reproduce_single_cell.py``, all three) and
``junzhez/lagrangian-flow-matching`` (``runner/scripts/download_single_cell.py``, CITE-seq and
Multiome, with sizes 1,245,730,696 and 1,059,236,146 bytes). They were not recomputed here. A file
whose checksum is unknown has ``sha256=None``; the loaders then warn that it cannot be verified.

No data file is part of the package: the files are read from a local copy or downloaded into the cache
(see :mod:`cellbridge.datasets._fetch`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RemoteFile", "REGISTRY", "get"]

_TIGON = "https://raw.githubusercontent.com/yutongo/TIGON/main"
_MOSCOT = "https://raw.githubusercontent.com/theislab/moscot/main/tests/data"
_TRAJECTORYNET = "https://raw.githubusercontent.com/KrishnaswamyLab/TrajectoryNet/master/data"
_MENDELEY = "https://data.mendeley.com/public-files/datasets/hhny5ff7yj/files"


@dataclass(frozen=True)
class RemoteFile:
    """One public data file.

    Attributes
    ----------
    name
        Registry key.
    relpath
        Path of the file inside a data directory (POSIX separators), e.g. ``"timecourse/tigon/EMT.npy"``.
    url
        Public origin. When ``direct`` is true it is a raw download URL that serves exactly this file;
        otherwise it is the upstream source the file was derived from (and cannot be fetched as is).
    sha256
        Hex SHA-256 of the file, or ``None`` when no published checksum is known (the file is then
        used unverified, with a warning).
    license
        License of the data as stated by its source.
    description
        One line on what the file holds.
    direct
        Whether ``url`` serves this exact file, so that it can be downloaded into the cache.
    note
        How to obtain the file when ``direct`` is false, or caveats about the URL.
    """

    name: str
    relpath: str
    url: str
    sha256: str | None
    license: str
    description: str
    direct: bool = True
    note: str = ""

    @property
    def filename(self) -> str:
        """Base name of the file."""
        return self.relpath.rsplit("/", 1)[-1]


_MENDELEY_LICENSE = "not stated here: see the Mendeley Data record https://data.mendeley.com/datasets/hhny5ff7yj/1"


def _mendeley_note(size: str) -> str:
    """The note of a file of the Mendeley Data record, of ``size``."""
    return (
        f"about {size}; checksum as published by yukinye/MFM and junzhez/lagrangian-flow-matching, not "
        "recomputed here. Mendeley's server may refuse scripted downloads; download it in a browser "
        "from https://data.mendeley.com/datasets/hhny5ff7yj/1 if so."
    )


# The registry, one row per file: name, path in a data directory, URL, SHA-256, license, description; then,
# where they apply, ``direct`` and ``note`` (see :class:`RemoteFile`).
_FILES = (
    RemoteFile(
        "tigon_bifurcation", "timecourse/tigon/Bifurcation.npy", f"{_TIGON}/Input/Bifurcation.npy",
        "d663a9e7de455ffbe96ae3cce88dfac6c4d1096157269e3aae161eed36d00a75",
        "MIT", "iPSC to cardiomyocyte differentiation (Bargaje et al. 2017), 8 time points, 4-D coordinates",
    ),
    RemoteFile(
        "tigon_emt", "timecourse/tigon/EMT.npy", f"{_TIGON}/Input/EMT.npy",
        "0dbb720ccfbd6c9cb6f4d7fd214c7a86c8577332bd2b2b163dffdc87ec23364f",
        "MIT", "A549 EMT under TGF-beta (Cook & Vanderhyden 2020), 5 time points, 3-D autoencoder latent",
    ),
    RemoteFile(
        "tigon_emt_time", "timecourse/tigon/AE_EMT_time.csv", f"{_TIGON}/EMT_data/AE_EMT_time.csv",
        "45d9a094e64d8a14c3193e9baae307fe89d5b92f798d659cb731fcc9a431ffbb",
        "MIT", "time label (0d, 8h, 1d, 3d, 7d) of each of the 3133 EMT cells, by cell barcode",
    ),
    RemoteFile(
        "tigon_simulation", "timecourse/tigon/Simulation.npy", f"{_TIGON}/Input/Simulation.npy",
        "70f7bcf47797e6114a43a42b4954692da52493811af17f75df9f9060cce60173",
        "MIT", "TIGON's synthetic 3-D time course, 5 time points",
    ),
    RemoteFile(
        "moscot_temporal", "timecourse/moscot/moscot_temporal_tests.h5ad", f"{_MOSCOT}/moscot_temporal_tests.h5ad",
        "746a098fbf84e941e67e494bb4b61b741eff8945850e0056e6857cccd07f5885",
        "BSD-3-Clause", "250 cells x 1479 genes of the Schiebinger et al. 2019 reprogramming course, days 10-11",
        note=(
            "moscot's test file has changed over its history; the checksum is that of the copy in the "
            "project's reference data. If the file on moscot's main branch has changed since, the download "
            "fails verification: fetch the matching revision from the moscot repository's history."
        ),
    ),
    RemoteFile(
        "hsmm", "timecourse/hsmm/hsmm.h5ad",
        "https://bioconductor.org/packages/3.16/data/experiment/src/contrib/HSMMSingleCell_1.18.0.tar.gz",
        "e9228f686e88057ae77c1d604a5a5598a85c4a5558e1d2b8c2967c0e1f63e9dc",
        "Artistic-2.0", "human skeletal muscle myoblasts (Trapnell et al. 2014), 271 cells, FPKM, 0/24/48/72 h",
        direct=False,
        note=(
            "hsmm.h5ad was converted from the .rda files (HSMM_expr_matrix, HSMM_sample_sheet, "
            "HSMM_gene_annotation) of the Bioconductor data package HSMMSingleCell 1.18.0 (Bioconductor "
            "3.16, also Debian's r-bioc-hsmmsinglecell 1.18.0): cells x genes FPKM for the genes detected "
            "in at least 3 cells, the sample sheet as obs and the gene annotation as var. The tarball "
            "cannot be used directly; convert it (e.g. with R and anndata2ri, or pyreadr) and pass the "
            "resulting .h5ad with path=. The checksum is that of the project's converted file."
        ),
    ),
    RemoteFile(
        "embryoid_body", "timecourse/trajectorynet/eb_velocity_v5.npz", f"{_TRAJECTORYNET}/eb_velocity_v5.npz",
        "17623d16dd4fe7b679aad80916d130cb2863a4cd4ee742f139a3c2eed91ba230",
        "MIT (license of the TrajectoryNet repository that distributes it)",
        "embryoid body differentiation (Moon et al. 2019) as preprocessed by TrajectoryNet, 5 time points",
        note="checksum as published by yukinye/MFM (scripts/reproduce_single_cell.py), not recomputed here",
    ),
    RemoteFile(
        "citeseq", "timecourse/openproblems/op_cite_inputs_0.h5ad",
        f"{_MENDELEY}/1862acf5-6294-4eb1-8644-d1c6d25e4126/file_downloaded",
        "fa1d117df3d6c23e0b80a997a259bcac3a79ad27d581e1a6654e107c39885e4c",
        _MENDELEY_LICENSE, "Open Problems 2022 CITE-seq subset (one donor, days 2, 3, 4, 7) used by [SF]2M/MIOFlow/MFM",
        note=_mendeley_note("1.2 GB"),
    ),
    RemoteFile(
        "multiome", "timecourse/openproblems/op_train_multi_targets_0.h5ad",
        f"{_MENDELEY}/5f4b6e5b-f122-4f5a-8ede-0d188c5cf00c/file_downloaded",
        "a16c28ef861503111bb2f4c6ab6b1d5ed3df07d49eb0baa7378515fc098af4d2",
        _MENDELEY_LICENSE,
        "Open Problems 2022 Multiome (RNA) subset (one donor, days 2, 3, 4, 7) used by [SF]2M/MIOFlow/MFM",
        note=_mendeley_note("1.1 GB"),
    ),
)

#: every registered file, by name
REGISTRY: dict[str, RemoteFile] = {f.name: f for f in _FILES}


def get(name: str) -> RemoteFile:
    """The registry entry ``name``; a :class:`ValueError` lists the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown data file {name!r}; known: {sorted(REGISTRY)}") from None
