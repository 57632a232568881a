import gzip
import hashlib
import io
from pathlib import Path

import pytest

from chainrule.data import download
from chainrule.data.download import RemoteFile, download as download_file, fetch
from chainrule.data.download import resolve_cache_dir
from chainrule.errors import DataError

PAYLOAD = b"first line\nsecond line\n" * 50


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def served(tmp_path, data=PAYLOAD, name="remote.txt") -> str:
    """A file:// URL serving ``data``: urllib treats it like any other URL."""
    source = tmp_path / "server" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    return source.as_uri()


def test_download_writes_the_verified_file_and_nothing_else(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    path = download_file(served(tmp_path), cache / "data.txt", sha256(PAYLOAD))
    assert path.read_bytes() == PAYLOAD
    assert [p.name for p in cache.iterdir()] == ["data.txt"]


def test_checksum_mismatch_names_url_and_both_hashes_and_leaves_nothing(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    url = served(tmp_path)
    wrong = "0" * 64
    with pytest.raises(DataError) as caught:
        download_file(url, cache / "data.txt", "sha256:" + wrong)
    message = str(caught.value)
    assert url in message and wrong in message and hashlib.sha256(PAYLOAD).hexdigest() in message
    assert list(cache.iterdir()) == []


def test_an_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection lost")
            return super().read(10)

    monkeypatch.setattr(download, "open_url", lambda url: Broken(PAYLOAD))
    cache = tmp_path / "cache"
    remote = RemoteFile("data.txt", ("https://example.org/data.txt",), sha256(PAYLOAD))
    with pytest.raises(DataError, match="https://example.org/data.txt: connection lost"):
        fetch(remote, cache)
    assert list(cache.iterdir()) == []


def test_fetch_returns_a_cached_file_without_downloading(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "data.txt").write_bytes(PAYLOAD)
    monkeypatch.setattr(download, "open_url", lambda url: pytest.fail("downloaded again"))
    remote = RemoteFile("data.txt", ("https://example.org/data.txt",), sha256(PAYLOAD))
    assert fetch(remote, cache).read_bytes() == PAYLOAD


def test_fetch_falls_back_to_the_next_mirror(tmp_path):
    remote = RemoteFile("data.txt", ((tmp_path / "missing.txt").as_uri(), served(tmp_path)),
                        sha256(PAYLOAD))
    assert fetch(remote, tmp_path / "cache").read_bytes() == PAYLOAD


def test_every_mirror_failing_reports_each(tmp_path):
    first, second = (tmp_path / "a.txt").as_uri(), (tmp_path / "b.txt").as_uri()
    remote = RemoteFile("data.txt", (first, second), sha256(PAYLOAD))
    with pytest.raises(DataError, match=f"could not download data.txt: {first}: .*; {second}: "):
        fetch(remote, tmp_path / "cache")


def test_content_checksum_ignores_how_a_mirror_compressed_the_file(tmp_path):
    compressed = gzip.compress(PAYLOAD, compresslevel=1, mtime=123)
    remote = RemoteFile("data.gz", (served(tmp_path, compressed, "data.gz"),),
                        "md5:" + hashlib.md5(PAYLOAD).hexdigest(), of_content=True)
    path = fetch(remote, tmp_path / "cache")
    assert gzip.decompress(path.read_bytes()) == PAYLOAD


def test_cache_dir_comes_from_argument_then_environment_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "given") == tmp_path / "given"
    assert resolve_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("CHAINRULE_CACHE")
    assert resolve_cache_dir() == Path.home() / ".cache" / "chainrule"


def test_a_cached_file_whose_checksum_differs_is_refused_not_used_nor_overwritten(tmp_path,
                                                                                  monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    damaged = PAYLOAD[:-5] + b"XXXXX"
    (cache / "data.txt").write_bytes(damaged)
    monkeypatch.setattr(download, "open_url", lambda url: pytest.fail("downloaded again"))
    remote = RemoteFile("data.txt", ("https://example.org/data.txt",), sha256(PAYLOAD))
    with pytest.raises(DataError) as caught:
        fetch(remote, cache)
    message = str(caught.value)
    assert str(cache / "data.txt") in message and "checksum mismatch for the cached file" in message
    assert hashlib.sha256(damaged).hexdigest() in message and "delete it" in message
    assert (cache / "data.txt").read_bytes() == damaged


def test_a_cache_folder_that_cannot_be_written_is_named_before_any_download(tmp_path,
                                                                            monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr(download, "open_url", lambda url: pytest.fail("tried to download"))
    remote = RemoteFile("data.txt", ("https://example.org/data.txt",), sha256(PAYLOAD))
    with pytest.raises(DataError, match=r"a-file/cache: cannot write the download cache there "
                                        r"\(.*\); set the environment variable CHAINRULE_CACHE"):
        fetch(remote, tmp_path / "a-file" / "cache")
