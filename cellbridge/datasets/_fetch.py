"""Find, download and verify the public data files of :mod:`cellbridge.datasets._registry`.

Resolution order for a registered file (:func:`fetch`):

1. ``path=``: an explicit file, used as it is (after verification);
2. ``data_dir=`` or, when it is not given, the environment variable ``CELLBRIDGE_DATA_DIR``: a directory
   with the registry's layout (e.g. ``<data_dir>/timecourse/tigon/EMT.npy``);
3. the cache, ``CELLBRIDGE_CACHE`` or ``~/.cache/cellbridge``, with the same layout;
4. a download of the registry's URL into the cache (``download=True``): streamed to a temporary file in
   the cache folder, verified, then renamed into place, so an interrupted or corrupt download never
   leaves a file under the final name.

A file is verified against the registry's SHA-256 (``verify=True``): a mismatch raises
:class:`ValueError` naming the file and both hashes; a file without a known checksum is used with a
:class:`UserWarning`. Hashes of local files are remembered for the session, keyed by path, size and
modification time, so loading the same file twice hashes it once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import BinaryIO

from .._logging import logger
from ._registry import RemoteFile, get

__all__ = ["ENV_CACHE", "ENV_DATA_DIR", "cache_dir", "fetch", "sha256sum"]

#: environment variable naming a directory with the registry's layout
ENV_DATA_DIR = "CELLBRIDGE_DATA_DIR"
#: environment variable overriding the cache directory
ENV_CACHE = "CELLBRIDGE_CACHE"

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0
# (resolved path, size, mtime_ns) -> sha256 of files hashed in this session
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    """The download cache: ``$CELLBRIDGE_CACHE`` when set, else ``~/.cache/cellbridge``."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cellbridge"


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (remembered for the session per path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    cached = _HASH_CACHE.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    digest = h.hexdigest()
    _HASH_CACHE[key] = digest
    return digest


def _verify(path: Path, entry: RemoteFile) -> None:
    if entry.sha256 is None:
        warnings.warn(
            f"{entry.filename}: no published SHA-256 is known for this file, so {path} cannot be verified; "
            "it is used as it is",
            UserWarning,
            stacklevel=3,
        )
        return
    actual = sha256sum(path)
    if actual != entry.sha256.lower():
        raise ValueError(
            f"checksum mismatch for {entry.filename} at {path}:\n"
            f"  expected SHA-256 {entry.sha256}\n"
            f"  actual   SHA-256 {actual}\n"
            f"The file is corrupt, incomplete or a different version. Replace it with the file from "
            f"{entry.url}, or pass verify=False to use it anyway."
        )


def _data_dirs(data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """Directories searched for a registered file, in order (the cache last)."""
    dirs: list[Path] = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    elif os.environ.get(ENV_DATA_DIR):
        dirs.append(Path(os.environ[ENV_DATA_DIR]).expanduser())
    dirs.append(cache_dir())
    return dirs


def _open_url(url: str, timeout: float) -> BinaryIO:
    """Open ``url`` for reading (the one place that touches the network; tests replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": "cellbridge (python urllib)"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - https URLs from the registry


def _download(entry: RemoteFile, dest: Path, *, verify: bool) -> None:
    """Stream ``entry.url`` into ``dest`` via a temporary file in the same folder, hashing on the way."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _open_url(entry.url, _TIMEOUT_S) as response:
            length = getattr(response, "headers", {}).get("Content-Length")
            total = int(length) if length and str(length).isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, desc=entry.filename, leave=False) as bar:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
        actual = h.hexdigest()
        if verify and entry.sha256 is not None and actual != entry.sha256.lower():
            raise ValueError(
                f"checksum mismatch for {entry.filename} downloaded from {entry.url}:\n"
                f"  expected SHA-256 {entry.sha256}\n"
                f"  actual   SHA-256 {actual}\n"
                f"The download was discarded. {entry.note or 'The file at the URL may have changed.'}"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _missing_message(entry: RemoteFile, searched: list[Path], reason: str) -> str:
    where = "\n".join(f"    {p}" for p in searched)
    note = f"\nNote: {entry.note}" if entry.note else ""
    return (
        f"{entry.filename} ({entry.description}) was not found, and {reason}.\n"
        f"Origin: {entry.url}\n"
        f"Put the file at one of:\n{where}\n"
        f"or pass path='/path/to/{entry.filename}' to the loader, or set {ENV_DATA_DIR} (or pass "
        f"data_dir=) to a directory holding {entry.relpath}.{note}"
    )


def fetch(
    name: str | RemoteFile,
    path: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = True,
) -> Path:
    """Local path of a registered data file: found, or downloaded into the cache, and verified.

    Parameters
    ----------
    name
        Registry key (see :data:`cellbridge.datasets._registry.REGISTRY`) or a
        :class:`~cellbridge.datasets._registry.RemoteFile`.
    path
        An explicit file; when given, nothing else is searched.
    data_dir
        Directory with the registry's layout, searched before the cache. Defaults to the environment
        variable ``CELLBRIDGE_DATA_DIR`` when set.
    download
        Whether to download a missing file into the cache.
    verify
        Whether to check the file's SHA-256 against the registry.

    Returns
    -------
    pathlib.Path
        The file.

    Raises
    ------
    FileNotFoundError
        The file is neither at ``path`` nor in the searched directories and could not be downloaded
        (``download=False``, no network, or a source that is not a direct download); the message names
        the URL and where to put the file.
    ValueError
        The file's SHA-256 differs from the registry's (message names both hashes), or ``path`` is a
        directory.
    """
    entry = name if isinstance(name, RemoteFile) else get(name)

    if path is not None:
        p = Path(path).expanduser()
        if p.is_dir():
            raise ValueError(
                f"path={str(p)!r} is a directory; pass the file itself, or data_dir= for a directory "
                f"holding {entry.relpath}"
            )
        if not p.is_file():
            raise FileNotFoundError(
                f"path={str(p)!r} does not exist. {entry.filename} can be downloaded from {entry.url}"
                + (f" ({entry.note})" if entry.note else "")
            )
        if verify:
            _verify(p, entry)
        return p

    searched = [d / entry.relpath for d in _data_dirs(data_dir)]
    for candidate in searched:
        if candidate.is_file():
            if verify:
                _verify(candidate, entry)
            logger.debug(f"{entry.name}: using {candidate}")
            return candidate

    if not entry.direct:
        raise FileNotFoundError(_missing_message(entry, searched, "its origin is not a direct download"))
    if not download:
        raise FileNotFoundError(_missing_message(entry, searched, "download=False"))

    dest = searched[-1]  # the cache
    logger.info(f"downloading {entry.filename} from {entry.url} to {dest}")
    try:
        _download(entry, dest, verify=verify)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise FileNotFoundError(
            _missing_message(entry, searched, f"downloading it failed ({type(err).__name__}: {err})")
        ) from err
    if verify and entry.sha256 is None:
        _verify(dest, entry)  # warns that it cannot be verified
    return dest
