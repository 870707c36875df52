"""Tests of fetch: locating `path` sources inside the allowed roots, the raw zone, and HTTP against a local server."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import os
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.common.errors import SourceError
from warehouse.extract import durable, fetch, file_state
from warehouse.extract import prefetch as prefetch_module
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.extract.fetch import fetch_source, fetch_url, locate

CSV_BODY = b"Country Name,Country Code,Year,Value\nChina,CHN,2011,743301698\n"


def path_source(location: str, kind: str = "path") -> Source:
    """A catalogue entry whose location is a `path` (or `seed`) glob."""
    return Source(
        id="test_source",
        dataset="wdi",
        publisher="Test publisher",
        title="Test title",
        licence="CC BY 4.0",
        attribution="Test attribution",
        location_kind=kind,
        location=location,
        vintage="2026-02-24",
        measures=(MeasureSpec("bop_value", "USD", "USD", (1.0,)),),
    )


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """A project folder (the allowed root) holding one CSV, and an outside folder holding a 'secret' CSV."""
    project = tmp_path / "project"
    outside = tmp_path / "outside"
    (project / "data").mkdir(parents=True)
    outside.mkdir()
    (project / "data" / "figures.csv").write_bytes(CSV_BODY)
    (outside / "secret.csv").write_bytes(b"secret,1\n")
    return {"project": project, "outside": outside, "seeds": tmp_path / "seeds", "raw": tmp_path / "raw"}


def do_locate(tree: dict[str, Path], location: str, roots: tuple[Path, ...] | None = None) -> list:
    return locate(
        path_source(location),
        seeds_dir=tree["seeds"],
        project_root=tree["project"],
        roots=roots if roots is not None else (tree["project"],),
    )


def do_fetch(tree: dict[str, Path], location: str, roots: tuple[Path, ...] | None = None) -> list[fetch.Payload]:
    return fetch_source(
        path_source(location),
        seeds_dir=tree["seeds"],
        project_root=tree["project"],
        roots=roots if roots is not None else (tree["project"],),
        raw_dir=tree["raw"],
    )


# --- locate: confinement -------------------------------------------------------------------------------------


def test_relative_pattern_with_dotdot_is_refused(tree: dict[str, Path]) -> None:
    with pytest.raises(SourceError) as info:
        do_locate(tree, "data/../../outside/*.csv")
    assert (info.value.rule, info.value.file) == ("path_outside_roots", "data/../../outside/*.csv")


def test_absolute_pattern_with_dotdot_is_refused_even_inside_a_root(tree: dict[str, Path]) -> None:
    location = str(tree["project"] / "data" / ".." / "data" / "figures.csv")
    with pytest.raises(SourceError) as info:
        do_locate(tree, location)
    assert info.value.rule == "path_outside_roots"


def test_symlink_inside_root_pointing_outside_is_refused(tree: dict[str, Path]) -> None:
    (tree["project"] / "data" / "link.csv").symlink_to(tree["outside"] / "secret.csv")
    with pytest.raises(SourceError) as info:
        do_fetch(tree, "data/link.csv")
    assert info.value.rule == "path_outside_roots"
    assert not tree["raw"].exists()  # nothing of the outside file reached the raw zone


def test_symlinked_folder_inside_root_pointing_outside_is_refused(tree: dict[str, Path]) -> None:
    (tree["project"] / "linked").symlink_to(tree["outside"], target_is_directory=True)
    with pytest.raises(SourceError) as info:
        do_locate(tree, "linked/*.csv")
    assert info.value.rule == "path_outside_roots"


def test_absolute_path_outside_the_roots_is_refused(tree: dict[str, Path]) -> None:
    with pytest.raises(SourceError) as info:
        do_locate(tree, str(tree["outside"] / "secret.csv"))
    assert info.value.rule == "path_outside_roots"


def test_glob_matching_nothing_is_file_missing(tree: dict[str, Path]) -> None:
    with pytest.raises(SourceError) as info:
        do_locate(tree, "data/*.parquet")
    assert (info.value.rule, info.value.file, info.value.source_id) == (
        "file_missing",
        "data/*.parquet",
        "test_source",
    )


def test_absolute_path_inside_tmp_path_works_when_tmp_path_is_a_root(tmp_path: Path, tree: dict[str, Path]) -> None:
    target = tree["project"] / "data" / "figures.csv"
    assert do_locate(tree, str(target), roots=(tmp_path,)) == [target.resolve()]


def test_relative_glob_matches_sorted(tree: dict[str, Path]) -> None:
    (tree["project"] / "data" / "a.csv").write_bytes(b"a\n1\n")
    found = do_locate(tree, "data/*.csv")
    assert [p.name for p in found] == ["a.csv", "figures.csv"]


# --- the raw zone ----------------------------------------------------------------------------------------------


def test_payload_bytes_kept_under_source_sha_name(tree: dict[str, Path]) -> None:
    (payload,) = do_fetch(tree, "data/figures.csv")
    digest = hashlib.sha256(CSV_BODY).hexdigest()
    assert payload.raw_path == tree["raw"] / "test_source" / digest / "figures.csv"
    assert payload.raw_path.read_bytes() == CSV_BODY
    assert (payload.sha256, payload.size, payload.name) == (digest, len(CSV_BODY), "figures.csv")
    assert payload.origin == str((tree["project"] / "data" / "figures.csv").resolve())


def test_raw_zone_holds_only_the_payload_and_the_file_state(tree: dict[str, Path]) -> None:
    (payload,) = do_fetch(tree, "data/figures.csv")
    state = file_state.state_path(tree["raw"], "test_source")
    assert sorted(p for p in tree["raw"].rglob("*") if p.is_file()) == sorted([payload.raw_path, state])  # no .part-


def test_fetching_the_same_content_twice_does_not_rewrite(tree: dict[str, Path]) -> None:
    (first,) = do_fetch(tree, "data/figures.csv")
    old = 1_000_000_000_000_000_000  # 2001-09-09, in ns: a rewrite would set a current mtime
    os.utime(first.raw_path, ns=(old, old))
    (second,) = do_fetch(tree, "data/figures.csv")
    assert second == first
    assert first.raw_path.stat().st_mtime_ns == old


def test_changed_content_is_kept_beside_the_old(tree: dict[str, Path]) -> None:
    (first,) = do_fetch(tree, "data/figures.csv")
    (tree["project"] / "data" / "figures.csv").write_bytes(CSV_BODY + b"Japan,JPN,2011,5\n")
    (second,) = do_fetch(tree, "data/figures.csv")
    assert second.sha256 != first.sha256
    assert first.raw_path.read_bytes() == CSV_BODY


# --- copying in chunks, and not reading an unchanged local file again -----------------------------------------

OLD_NS = 1_000_000_000_000_000_000  # 2001-09-09: an mtime long before any fetch (not "racy")


class ChunksOnly(io.RawIOBase):
    """A file that can only be read into a caller's buffer (no read-it-all), recording the largest request and
    how many bytes were read in all."""

    def __init__(self, data: bytes) -> None:
        self.inner, self.largest, self.read_bytes = io.BytesIO(data), 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.inner.seek(offset, whence)

    def readinto(self, buffer: memoryview) -> int:
        self.largest = max(self.largest, len(buffer))
        n = self.inner.readinto(buffer)
        self.read_bytes += n
        return n

    def readall(self) -> bytes:
        raise AssertionError("the payload was read whole")


@pytest.mark.parametrize("hash_first", [True, False])
def test_store_copies_and_hashes_in_bounded_chunks(tmp_path: Path, hash_first):
    data = bytes(range(256)) * 4
    source = ChunksOnly(data)
    payload = fetch.store_payload(
        source, "big.bin", tmp_path, "test_source", "test:big", hash_first=hash_first, chunk_bytes=10
    )
    assert payload.raw_path.read_bytes() == data
    assert (payload.sha256, payload.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert source.largest <= 10
    assert [p.name for p in (tmp_path / "test_source").rglob("*")] == [payload.sha256, "big.bin"]  # no .part- left


def test_failpoint_fires_with_half_the_payload_in_a_part_file(tmp_path: Path):
    """A process killed at the failpoint (TRADEWH_FAILPOINT=fetch) leaves half the payload under a temporary name
    and nothing under a final one; the next store keeps it whole."""
    store = (
        "import sys; from pathlib import Path; from warehouse.extract.fetch import store_payload; "
        "store_payload(b'x' * 105, 'figures.csv', Path(sys.argv[1]), 'test_source', 'test:figures', chunk_bytes=10)"
    )
    env = {**os.environ, "TRADEWH_FAILPOINT": "fetch"}
    killed = subprocess.run([sys.executable, "-c", store, str(tmp_path)], env=env, cwd=PROJECT_ROOT, check=False)
    assert killed.returncode == -signal.SIGKILL
    (part,) = (tmp_path / "test_source").iterdir()
    assert part.name.startswith(".part-") and part.stat().st_size == 52  # the first half, in 10-byte pieces
    payload = fetch.store_payload(b"x" * 105, "figures.csv", tmp_path, "test_source", "test:figures", chunk_bytes=10)
    assert payload.raw_path.read_bytes() == b"x" * 105


def test_store_of_bytes_already_kept_writes_nothing(tmp_path: Path):
    first = fetch.store_payload(CSV_BODY, "figures.csv", tmp_path, "test_source", "test:figures")
    folder = tmp_path / "test_source"
    before = folder.stat().st_mtime_ns, first.raw_path.stat().st_ino
    again = ChunksOnly(CSV_BODY)
    assert fetch.store_payload(again, "figures.csv", tmp_path, "test_source", "test:figures") == first
    assert again.read_bytes == len(CSV_BODY)  # read once, to hash it: not a second time to copy it
    assert (folder.stat().st_mtime_ns, first.raw_path.stat().st_ino) == before  # no temporary file made, no rename


def age(path: Path) -> None:
    os.utime(path, ns=(OLD_NS, OLD_NS))


# Python's audit events ("open", "tempfile.mkstemp": PEP 578) show from outside which files a fetch opens and
# whether it starts a copy, in the calling thread, as it happens. A hook cannot be removed, so one is added once and
# does nothing while no test listens.
_LISTENERS: list[Callable[[str, tuple], None]] = []


def _audit(event: str, args: tuple) -> None:
    if _LISTENERS and event in ("open", "tempfile.mkstemp"):
        for listener in list(_LISTENERS):
            listener(event, args)


@contextlib.contextmanager
def audited(listener: Callable[[str, tuple], None] | None = None) -> Iterator[list[tuple[str, str]]]:
    """The (event, path) of every file opened and temporary file made inside the block; each also goes to
    ``listener`` as it happens (before the file is opened or made)."""
    if not getattr(sys, "_tradewh_fetch_audit", False):
        sys.addaudithook(_audit)
        sys._tradewh_fetch_audit = True  # type: ignore[attr-defined]
    seen: list[tuple[str, str]] = []

    def record(event: str, args: tuple) -> None:
        if isinstance(args[0], str | bytes | os.PathLike):
            seen.append((event, os.fsdecode(args[0])))
            if listener is not None:
                listener(event, args)

    _LISTENERS.append(record)
    try:
        yield seen
    finally:
        _LISTENERS.remove(record)


def opened(seen: list[tuple[str, str]], path: Path) -> bool:
    return ("open", str(path.resolve())) in seen


def copies_started(seen: list[tuple[str, str]], raw: Path) -> list[str]:
    """The temporary files made in the raw zone for a payload: it is copied into one (``.part-``), then renamed
    (the file state, written the same way, is not a copy of the payload)."""
    state = file_state.state_path(raw, "test_source").name
    return [p for event, p in seen if event == "tempfile.mkstemp" and Path(p).is_relative_to(raw) and state not in p]


def test_the_audit_sees_a_first_fetch_open_and_copy_the_file(tree: dict[str, Path]) -> None:
    """What the tests below look for does show when it happens (else their 'not opened' could not fail)."""
    path = tree["project"] / "data" / "figures.csv"
    with audited() as seen:
        do_fetch(tree, "data/figures.csv")
    assert opened(seen, path) and len(copies_started(seen, tree["raw"])) == 1


def test_unchanged_local_file_is_not_read_again(tree: dict[str, Path]) -> None:
    path = tree["project"] / "data" / "figures.csv"
    age(path)
    (first,) = do_fetch(tree, "data/figures.csv")
    state = file_state.state_path(tree["raw"], "test_source")
    written = state.stat().st_mtime_ns
    with audited() as seen:
        (second,) = do_fetch(tree, "data/figures.csv")
    assert not opened(seen, path), "an unchanged file was read again"
    assert second == first
    assert state.stat().st_mtime_ns == written  # nothing new to remember, nothing rewritten


def test_a_racy_file_is_read_again(tree: dict[str, Path]) -> None:
    """Modified within RACY_SLACK_NS of the moment it was hashed: its stat cannot vouch for its bytes."""
    path = tree["project"] / "data" / "figures.csv"
    do_fetch(tree, "data/figures.csv")  # written a moment ago
    (entry,) = file_state.load_state(tree["raw"], "test_source").values()
    assert entry.racy
    with audited() as seen:
        (again,) = do_fetch(tree, "data/figures.csv")
    assert opened(seen, path) and again.sha256 == entry.sha256


def test_same_size_rewrite_with_its_old_mtime_put_back_is_read_again(tree: dict[str, Path]) -> None:
    path = tree["project"] / "data" / "figures.csv"
    age(path)
    (first,) = do_fetch(tree, "data/figures.csv")
    changed = CSV_BODY.replace(b"743301698", b"743301699")
    path.write_bytes(changed)
    age(path)  # same size, same mtime as recorded; the ctime moved
    (second,) = do_fetch(tree, "data/figures.csv")
    assert second.sha256 == hashlib.sha256(changed).hexdigest() != first.sha256


def test_a_file_replaced_by_a_rename_is_read_again(tree: dict[str, Path]) -> None:
    path = tree["project"] / "data" / "figures.csv"
    age(path)
    (first,) = do_fetch(tree, "data/figures.csv")
    other = path.with_name("new.tmp")
    other.write_bytes(CSV_BODY.replace(b"China", b"Chine"))
    age(other)
    os.replace(other, path)  # a new inode
    (second,) = do_fetch(tree, "data/figures.csv")
    assert second.raw_path.read_bytes() == CSV_BODY.replace(b"China", b"Chine")


def test_touched_but_unchanged_file_is_hashed_and_nothing_is_written(tree: dict[str, Path]) -> None:
    path = tree["project"] / "data" / "figures.csv"
    age(path)
    (first,) = do_fetch(tree, "data/figures.csv")
    os.utime(path, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    with audited() as seen:
        (second,) = do_fetch(tree, "data/figures.csv")
    assert opened(seen, path)  # hashed
    assert copies_started(seen, tree["raw"]) == [], "bytes already kept were copied again"
    assert second == first
    (entry,) = file_state.load_state(tree["raw"], "test_source").values()
    assert entry.mtime_ns == OLD_NS + 10**9  # remembered: the next fetch does not read it


def test_a_kept_copy_deleted_is_copied_again(tree: dict[str, Path]) -> None:
    age(tree["project"] / "data" / "figures.csv")
    (first,) = do_fetch(tree, "data/figures.csv")
    first.raw_path.unlink()
    (second,) = do_fetch(tree, "data/figures.csv")
    assert second == first and first.raw_path.read_bytes() == CSV_BODY


@pytest.mark.parametrize("then", ["file touched", "file state lost"])
def test_a_kept_copy_cut_short_is_copied_again_not_trusted(tree: dict[str, Path], then: str) -> None:
    """A crash before a local copy's background fsync can leave it shorter under its final name: never served."""
    path = tree["project"] / "data" / "figures.csv"
    age(path)
    (first,) = do_fetch(tree, "data/figures.csv")
    durable.wait_durable([first.raw_path])
    with first.raw_path.open("r+b") as kept:
        kept.truncate(len(CSV_BODY) // 2)
    if then == "file touched":  # stat changed, same size: hashed first, then the copy under that hash is looked at
        os.utime(path, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    else:  # no memory of the file: copied, and the copy replaces the short one
        file_state.state_path(tree["raw"], "test_source").unlink()
    (second,) = do_fetch(tree, "data/figures.csv")
    assert second == first and second.raw_path.read_bytes() == CSV_BODY


def test_a_local_copy_is_synced_in_the_background_and_the_lake_commit_waits_for_it(tree, monkeypatch) -> None:
    from warehouse.stage.commit import Staged, commit_lake

    release, synced = threading.Event(), []
    real = durable._fsync_file_and_folder

    def held_back(path: Path) -> None:  # the real fsync, once the test lets it run
        assert release.wait(30)
        real(path)
        synced.append(path)

    monkeypatch.setattr(durable, "_fsync_file_and_folder", held_back)
    (payload,) = do_fetch(tree, "data/figures.csv")  # returns with the copy kept but not yet synced
    assert payload.raw_path.read_bytes() == CSV_BODY and synced == []
    source = path_source("data/figures.csv")
    committer = threading.Thread(
        target=commit_lake, args=(source, Staged(source), [payload], tree["raw"].parent / "lake", "r1")
    )
    committer.start()
    committer.join(0.5)
    assert committer.is_alive() and synced == [], "the lake commit went on before the raw copy was on disk"
    release.set()
    committer.join(30)
    assert not committer.is_alive() and synced == [payload.raw_path]
    durable.wait_durable([payload.raw_path])  # done: returns at once


def test_a_file_written_while_it_is_read_is_refused(tree: dict[str, Path]) -> None:
    path = tree["project"] / "data" / "figures.csv"

    def publisher_still_writing(event: str, args: tuple) -> None:
        if event == "tempfile.mkstemp":  # the file is open and its copy starts: the publisher appends a line
            with open(path, "ab", buffering=0) as fh:
                fh.write(b"Japan,JPN,2011,5\n")

    with audited(publisher_still_writing) as seen, pytest.raises(SourceError) as info:
        do_fetch(tree, "data/figures.csv")
    assert len(copies_started(seen, tree["raw"])) == 1  # the line was appended while the file was read
    assert (info.value.rule, info.value.file) == ("file_changed_while_read", str(path.resolve()))
    assert [p.name for p in tree["raw"].rglob("*") if p.is_file()] == []  # nothing kept, no .part- left


def test_an_unreadable_file_state_only_costs_a_read(tree: dict[str, Path]) -> None:
    age(tree["project"] / "data" / "figures.csv")
    (first,) = do_fetch(tree, "data/figures.csv")
    file_state.state_path(tree["raw"], "test_source").write_text("{not json")
    assert do_fetch(tree, "data/figures.csv") == [first]
    assert list(file_state.load_state(tree["raw"], "test_source").values())[0].sha256 == first.sha256


# --- fetch_url against a local HTTP server ---------------------------------------------------------------------


def _ok_csv(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/csv; charset=utf-8")
    h.send_header("Content-Length", str(len(CSV_BODY)))
    h.end_headers()
    h.wfile.write(CSV_BODY)


def _status(code: int) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    def reply(h: http.server.BaseHTTPRequestHandler) -> None:
        body = f"status {code}".encode()
        h.send_response(code)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return reply


def _html(h: http.server.BaseHTTPRequestHandler) -> None:
    body = b"<!DOCTYPE html><html><body>Please log in</body></html>"
    h.send_response(200)
    h.send_header("Content-Type", "text/html; charset=utf-8")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _short(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/csv")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(CSV_BODY)  # fewer bytes than announced, then the connection closes
    h.close_connection = True


def _chunked_short(h: http.server.BaseHTTPRequestHandler) -> None:
    h.protocol_version = "HTTP/1.1"
    h.send_response(200)
    h.send_header("Content-Type", "text/csv")
    h.send_header("Transfer-Encoding", "chunked")
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(b"3e8\r\n" + CSV_BODY)  # a chunk of 1000 bytes announced, fewer sent, then close
    h.close_connection = True


def _unannounced(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/csv")
    h.end_headers()  # no Content-Length: the body ends when the connection closes
    h.wfile.write(CSV_BODY)
    h.close_connection = True


ROUTES: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = {
    "/data/figures.csv": _ok_csv,
    "/error.csv": _status(500),
    "/busy.csv": _status(429),
    "/missing.csv": _status(404),
    "/login.csv": _html,
    "/short.csv": _short,
    "/chunked_short.csv": _chunked_short,
    "/unannounced.csv": _unannounced,
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        path = urllib.parse.urlsplit(self.path).path
        ROUTES.get(path, _ok_csv if path.startswith("/any/") else _status(404))(self)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the http.server signature)
        pass


@pytest.fixture
def server(request: pytest.FixtureRequest) -> str:
    """A local HTTP server on 127.0.0.1 (an ephemeral port); returns its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    request.addfinalizer(stop)
    host, port = httpd.server_address[:2]
    return f"http://{host}:{port}"


def get(url: str, raw_dir: Path) -> fetch.Payload:
    return fetch_url(url, source_id="test_source", raw_dir=raw_dir, timeout=5)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_url_200_csv_is_stored(server: str, tmp_path: Path) -> None:
    payload = get(f"{server}/data/figures.csv?format=csv", tmp_path)
    digest = hashlib.sha256(CSV_BODY).hexdigest()
    assert payload.raw_path == tmp_path / "test_source" / digest / "figures.csv"
    assert payload.raw_path.read_bytes() == CSV_BODY
    assert (payload.origin, payload.size) == (f"{server}/data/figures.csv?format=csv", len(CSV_BODY))


def test_url_500_is_a_connection_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectionError, match="HTTP 500"):
        get(f"{server}/error.csv", tmp_path)


def test_url_429_is_a_connection_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectionError, match="HTTP 429"):
        get(f"{server}/busy.csv", tmp_path)


def test_url_404_is_a_final_source_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        get(f"{server}/missing.csv", tmp_path)
    assert (info.value.rule, info.value.file) == ("http_status", f"{server}/missing.csv")
    assert not isinstance(info.value, ConnectionError)


def test_url_serving_html_is_refused_naming_the_url(server: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        get(f"{server}/login.csv", tmp_path)
    assert info.value.rule == "html_not_csv"
    assert f"{server}/login.csv" in str(info.value)
    assert files_under(tmp_path) == []  # nothing kept, no temporary file left


def test_url_body_shorter_than_content_length_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        get(f"{server}/short.csv", tmp_path)
    assert (info.value.rule, info.value.file) == ("truncated_body", f"{server}/short.csv")
    assert files_under(tmp_path) == []  # nothing kept, no temporary file left


def test_url_refused_connection_is_a_connection_error(tmp_path: Path) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    httpd.server_close()  # the port was free a moment ago and nothing listens on it now
    with pytest.raises(ConnectionError):
        get(f"http://127.0.0.1:{port}/data/figures.csv", tmp_path)


def test_url_body_without_content_length_is_stored(server: str, tmp_path: Path) -> None:
    assert get(f"{server}/unannounced.csv", tmp_path).raw_path.read_bytes() == CSV_BODY


def test_url_chunked_body_cut_short_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        get(f"{server}/chunked_short.csv", tmp_path)
    assert info.value.rule == "truncated_body"
    assert files_under(tmp_path) == []  # nothing kept, no temporary file left


@pytest.mark.parametrize(("route", "limit"), [("/unannounced.csv", 10), ("/data/figures.csv", len(CSV_BODY) - 1)])
def test_url_body_over_the_sources_limit_is_not_stored_cut(server: str, tmp_path: Path, route: str, limit: int) -> None:
    source = replace(path_source(f"{server}{route}", kind="url"), http_max_bytes=limit)
    with pytest.raises(SourceError) as info:
        fetch_source(source, seeds_dir=tmp_path, project_root=tmp_path, roots=(tmp_path,), raw_dir=tmp_path / "raw")
    assert (info.value.rule, info.value.file, info.value.source_id) == ("payload_too_large", source.location, source.id)
    assert f"{limit:,} bytes allowed" in str(info.value)
    assert files_under(tmp_path / "raw") == []
    source = replace(source, http_max_bytes=len(CSV_BODY))  # exactly the body: kept
    (payload,) = fetch_source(
        source, seeds_dir=tmp_path, project_root=tmp_path, roots=(tmp_path,), raw_dir=tmp_path / "raw"
    )
    assert payload.raw_path.read_bytes() == CSV_BODY


def test_url_name_ignores_a_slash_in_the_query(server: str, tmp_path: Path) -> None:
    assert get(f"{server}/data/figures.csv?next=/x/y.csv", tmp_path).name == "figures.csv"


@pytest.mark.parametrize("last", [".", ".."])
def test_url_ending_in_a_dot_segment_is_kept_as_a_file(server: str, tmp_path: Path, last: str) -> None:
    try:
        payload = get(f"{server}/any/{last}", tmp_path)
    except SourceError:
        return  # refusing such a URL is as good as keeping it under a safe name
    assert payload.raw_path.parent == tmp_path / "test_source" / payload.sha256
    assert payload.raw_path.read_bytes() == CSV_BODY


# --- prefetch: local files kept while Prefect starts (tradewh load) -------------------------------------------


def prefetch(tree: dict[str, Path], *sources: Source) -> threading.Thread | None:
    return prefetch_module.prefetch_local(
        sources, seeds_dir=tree["seeds"], project_root=tree["project"], roots=(tree["project"],), raw_dir=tree["raw"]
    )


def test_a_prefetched_file_is_kept_and_the_task_fetch_does_not_read_it_again(tree) -> None:
    path = tree["project"] / "data" / "figures.csv"
    age(path)
    thread = prefetch(tree, path_source("data/figures.csv"))
    assert thread is not None and thread.name == "tradewh-prefetch"
    prefetch_module.wait_prefetched()
    assert not thread.is_alive()
    with audited() as seen:
        (payload,) = do_fetch(tree, "data/figures.csv")  # what the flow's fetch_source task does next
    assert not opened(seen, path), "an unchanged file was read again"
    assert payload.raw_path.read_bytes() == CSV_BODY
    assert payload.sha256 == hashlib.sha256(CSV_BODY).hexdigest()


def test_a_prefetch_that_fails_raises_nothing_and_leaves_the_error_to_the_task(tree) -> None:
    missing, url = path_source("data/none-*.csv"), path_source("http://127.0.0.1:9/x.csv", kind="url")
    assert prefetch(tree, url) is None  # URL locations are fetched by the task only
    prefetch(tree, missing, path_source("data/figures.csv"))
    prefetch_module.wait_prefetched()  # the missing file did not stop the next source, nor raise here
    assert [p.name for p in (tree["raw"] / "test_source").glob("*/*")] == ["figures.csv"]
    with pytest.raises(SourceError) as info:
        do_fetch(tree, "data/none-*.csv")
    assert info.value.rule == "file_missing"
