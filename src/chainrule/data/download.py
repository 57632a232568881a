"""Downloading datasets into a cache, verified by checksum and written atomically.

A file is fetched into a temporary file next to its final place, hashed while it streams, and
moved into place with ``os.replace`` only when the hash matches the published one: the cache
never holds a partial or corrupted file, even if the process dies mid-download.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

CHUNK = 1 << 20


class DownloadError(DataError):
    """A file that could not be downloaded. ``problem`` says why; the message adds the offline
    remedy in Python's terms (``root=``), so that a command line can name its own flag."""

    def __init__(self, problem: str, files=()):
        self.problem, self.files = problem, tuple(files)
        remedy = (f"; offline, put {', '.join(self.files)} in a folder and pass that folder as "
                  "root=" if self.files else "")
        super().__init__(problem + remedy)


@dataclass(frozen=True)
class RemoteFile:
    """A file to download: its name in the cache, its mirrors (tried in order), its checksum.

    checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"``. of_content: the checksum is of the
    decompressed content of a gzip file, since mirrors re-compress the same bytes differently.
    """
    name: str
    urls: tuple[str, ...]
    checksum: str
    of_content: bool = False


def resolve_cache_dir(folder=None) -> Path:
    """Where downloads go: ``folder`` if given, else $CHAINRULE_CACHE, else ~/.cache/chainrule."""
    if folder is not None:
        return Path(folder).expanduser()
    if os.environ.get("CHAINRULE_CACHE"):
        return Path(os.environ["CHAINRULE_CACHE"]).expanduser()
    return Path.home() / ".cache" / "chainrule"


def existing_folder(root) -> Path:
    """``root``, the folder a user names for a dataset's files, as a Path; a DataError if it is
    not a folder, rather than a typo that quietly reads (or downloads into) the cache instead."""
    root = Path(root).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder: give the folder that holds the dataset's files" \
            if root.exists() else "does not exist: give the folder that holds the dataset's files"
        raise DataError(f"{root}: the data folder {what}")
    return root


def fetch(remote: RemoteFile, folder) -> Path:
    """The path of ``remote`` in ``folder``, downloading and verifying it first if it is absent."""
    folder = Path(folder)
    destination = folder / remote.name
    if destination.is_file():
        return verify_cached(destination, remote)
    try:  # before any mirror: a cache that cannot be written is no network failure
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise DataError(f"{folder}: cannot write the download cache there ({error.strerror}); "
                        "set the environment variable CHAINRULE_CACHE to a writable folder") \
            from None
    failures = []
    for url in remote.urls:
        try:
            download(url, destination, remote.checksum, remote.of_content)
            return destination
        except (DataError, OSError, http.client.HTTPException) as error:  # URLError is an OSError
            failures.append(str(error) if isinstance(error, DataError) else f"{url}: {error}")
    if len(failures) == 1:
        raise DownloadError(failures[0], [remote.name])
    raise DownloadError(f"could not download {remote.name}: " + "; ".join(failures), [remote.name])


def download(url: str, destination, checksum: str, of_content: bool = False) -> Path:
    """Stream ``url`` into ``destination`` if its checksum matches; else leave nothing there."""
    destination = Path(destination)
    algorithm, expected = _parse_checksum(checksum)
    print(f"chainrule: downloading {url}", file=sys.stderr)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.",
                                       suffix=".part")
    try:
        digest = hashlib.new(algorithm)
        with os.fdopen(handle, "wb") as file, open_url(url) as response:
            while chunk := response.read(CHUNK):
                file.write(chunk)
                digest.update(chunk)
            file.flush()
            os.fsync(file.fileno())
        actual = file_checksum(partial, algorithm) if of_content else digest.hexdigest()
        if actual != expected:
            what = "decompressed content" if of_content else "file"
            raise DataError(f"{url}: checksum mismatch for the {what}: expected {algorithm} "
                            f"{expected}, got {actual}; the download was discarded")
        os.chmod(partial, 0o644)  # mkstemp makes it private; a cache is readable like any download
        os.replace(partial, destination)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return destination


def verify_cached(path: Path, remote: RemoteFile) -> Path:
    """``path`` if its checksum is ``remote``'s; else a DataError. A download only lands in the
    cache verified, so a mismatch is a file damaged or replaced since: it is refused, not
    overwritten, since it may be someone's own."""
    algorithm, expected = _parse_checksum(remote.checksum)
    actual = file_checksum(path, algorithm, decompress=remote.of_content)
    if actual != expected:
        what = "decompressed content" if remote.of_content else "file"
        raise DataError(f"{path}: checksum mismatch for the cached {what}: expected {algorithm} "
                        f"{expected}, got {actual}; it is damaged or not the published file: "
                        "delete it to download it again")
    return path


def open_url(url: str):
    """The response for ``url`` (http, https or file); the one place the network is touched."""
    return urllib.request.urlopen(url, timeout=60)


def file_checksum(path, algorithm: str = "sha256", decompress: bool = True) -> str:
    """The hex digest of a file, or with ``decompress`` of its decompressed content when it is
    gzip-compressed."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as probe:
        compressed = decompress and probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: damaged gzip file ({error})") from None
    return digest.hexdigest()


def _parse_checksum(checksum: str) -> tuple[str, str]:
    algorithm, _, value = checksum.partition(":")
    if algorithm not in ("sha256", "md5") or not value:
        raise ValueError(f"checksum {checksum!r} must be 'sha256:<hex>' or 'md5:<hex>'")
    return algorithm, value.lower()
