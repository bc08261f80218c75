"""The share server on loopback: pages and files by token only, every bad request one line of HTTP,
expiry that deletes, 200 downloads at once; and with sharing off, nothing listens."""
from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from edge.booth import share
from edge.booth.share import ShareServer
from edge.booth.shelf import Shelf

SECRET = b"the exhibitor's private file\n"
TIMEOUT_S = 10.0


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def served(tmp_path):
    """A server with one published page: (server, token, clock, card bytes, sticker bytes)."""
    (tmp_path / "secret.png").write_bytes(SECRET)
    clock = Clock()
    shelf = Shelf(tmp_path / "share", 30 * 60.0, clock=clock)
    server = ShareServer(shelf, "127.0.0.1", 0)
    token = shelf.reserve(7, "Maker <Faire>")
    card, gif = b"\x89PNG card" * 100, b"GIF89a" + os.urandom(1 << 20)
    shelf.put(token, "card-0007.png", card, (400, 600))
    shelf.put(token, "sticker-0007-1.gif", gif, (320, 360))
    shelf.publish(token)
    try:
        yield server, token, clock, card, gif
    finally:
        server.close()


def pages(root) -> list[str]:
    """What the share folder holds but its lock file."""
    return [p.name for p in root.iterdir() if p.name != ".emoticon-mirror-share.lock"]


def raw(server: ShareServer, data: bytes, read_all: bool = True) -> bytes:
    """Send bytes as they are (no client tidies the path) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
            if not read_all:
                break
        return out


def get(server: ShareServer, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    answer = raw(server, f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(h.split(": ", 1) for h in lines[1:])
    return int(lines[0].split(" ")[1]), headers, body


def one_line_answer(status: int, headers: dict[str, str], body: bytes, code: int) -> None:
    assert status == code, (status, body)
    assert body.count(b"\n") == 1 and body.endswith(b"\n") and len(body) < 100
    assert headers["Cache-Control"] == "no-store" and SECRET not in body


def test_the_page_and_its_files_by_token_with_no_store_and_a_strict_policy(served):
    server, token, _, card, gif = served
    status, headers, body = get(server, f"/s/{token}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src 'self'" in csp and "script-src" not in csp
    page = body.decode()
    assert f'src="/s/{token}/sticker-0007-1.gif"' in page and "download=" in page
    assert "Maker &lt;Faire&gt;" in page and "<Faire>" not in page  # the title is escaped
    assert get(server, f"/s/{token}/card-0007.png")[2] == card
    status, headers, body = get(server, f"/s/{token}/sticker-0007-1.gif", "HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(gif))
    with urllib.request.urlopen(server.url(token) + "/sticker-0007-1.gif", timeout=TIMEOUT_S) as r:
        assert r.read() == gif


def test_no_listing_and_no_other_path(served, tmp_path):
    server, token, _, _, _ = served
    folder = tmp_path / "share" / token
    (folder / "leak.png").symlink_to(tmp_path / "secret.png")  # put there by someone else
    targets = ["/", "/s/", "/s", "/index.html", f"/s/{token}/", "/etc/passwd", "//etc/passwd",
               f"/s/{token}/../../secret.png", f"/s/{token}/%2e%2e/%2e%2e/secret.png",
               f"/s/{token}/..%2f..%2fsecret.png", f"/s/{token}/card-0007.png/../../../secret.png",
               f"/s/{token}/leak.png", "/s/..%2f..%2fsecret.png/x", "/s/%2e%2e/secret.png",
               f"http://127.0.0.1/s/{token}/../secret.png", f"/s/{token}?x=1", f"/s/{token}/card-0007.png?a",
               f"/s/{token}/{tmp_path}/secret.png", "/s/" + "A" * 22, "/s/" + "A" * 22 + "/card-0007.png"]
    for target in targets:
        status, headers, body = get(server, target)
        assert status in (400, 404), target
        one_line_answer(status, headers, body, status)


def test_a_served_file_swapped_for_a_symlink_is_refused(served, tmp_path):
    server, token, _, _, _ = served
    card = tmp_path / "share" / token / "card-0007.png"
    card.unlink()
    card.symlink_to(tmp_path / "secret.png")
    one_line_answer(*get(server, f"/s/{token}/card-0007.png"), 404)


def test_an_error_to_head_has_no_body(served):
    server, token, _, _, _ = served
    answer = raw(server, f"HEAD /s/{token}/nothing.gif HTTP/1.1\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404 ") and answer.endswith(b"\r\n\r\n") and b"Content-Length: " in answer


def test_a_malformed_token_is_400_an_unknown_one_404(served):
    server, token, _, _, _ = served
    one_line_answer(*get(server, "/s/" + token[:-1]), 400)
    one_line_answer(*get(server, f"/s/{token}x"), 400)
    one_line_answer(*get(server, "/s/" + token[::-1]), 404 if token[::-1] != token else 200)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT"])
def test_only_get_and_head(served, method):
    server, token, _, _, _ = served
    status, headers, body = get(server, f"/s/{token}", method)
    one_line_answer(status, headers, body, 405)
    assert headers["Allow"] == "GET, HEAD"


def test_bad_and_huge_requests_get_one_line(served):
    server, token, _, _, _ = served
    assert raw(server, f"GET /s/{token}\n HTTP/1.1\r\n\r\n".encode()).startswith(b"HTTP/1.1 400 ")
    for junk in (b"\r\n\r\n", b"GET\r\n\r\n", b"GET /s/x\r\n\r\n", b"GET /s/x FTP/1.0\r\n\r\n", b"\x16\x03\x01\x02\r\n\r\n"):
        answer = raw(server, junk)
        assert answer.startswith(b"HTTP/1.1 400 "), junk
    huge = f"GET /s/{token} HTTP/1.1\r\nX-Big: ".encode() + b"a" * (1 << 20) + b"\r\n\r\n"  # a 1 MB header
    assert raw(server, huge).startswith(b"HTTP/1.1 431 ")
    body = f"GET /s/{token} HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".encode()
    assert raw(server, body).startswith(b"HTTP/1.1 413 ")
    assert get(server, f"/s/{token}")[0] == 200  # and it still serves


def test_a_slow_request_is_cut_off(served, monkeypatch):
    server, token, _, _, _ = served
    monkeypatch.setattr(share, "HEAD_S", 0.5)
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as s:
        s.sendall(b"GET /s/")
        t0 = time.monotonic()
        for _ in range(4):  # a byte now and then: each arrives in time, the whole head does not
            time.sleep(0.2)
            try:
                s.sendall(b"a")
            except OSError:
                break
        answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408 ") and time.monotonic() - t0 < TIMEOUT_S


def test_expiry_deletes_the_files_and_the_address_gives_404(served, tmp_path):
    server, token, clock, _, _ = served
    folder = tmp_path / "share" / token
    assert get(server, f"/s/{token}/card-0007.png")[0] == 200 and folder.is_dir()
    clock.t += 30 * 60 - 1
    assert get(server, f"/s/{token}")[0] == 200
    clock.t += 1
    one_line_answer(*get(server, f"/s/{token}"), 404)
    one_line_answer(*get(server, f"/s/{token}/card-0007.png"), 404)
    assert not folder.exists() and pages(tmp_path / "share") == []


def test_expiry_needs_no_visitor(served, tmp_path):
    """The server's own thread deletes expired pages, whether or not anyone asks for them."""
    server, token, clock, _, _ = served
    clock.t += 31 * 60
    deadline = time.monotonic() + TIMEOUT_S
    while (tmp_path / "share" / token).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (tmp_path / "share" / token).exists()


def test_a_page_the_sweep_took_off_is_gone_from_the_disk_before_its_address_says_so(tmp_path, monkeypatch):
    """The server's sweep takes an expired page off the shelf, then deletes its files; a visitor asking
    meanwhile gets no 404 while the files are still there."""
    from edge.booth import shelf as shelf_module

    now = [0.0]
    shelf = Shelf(tmp_path / "share", 60.0, clock=lambda: now[0])
    token = shelf.reserve(1, "")
    shelf.put(token, "card-0001.png", b"png", (1, 1))
    deleting, remove = threading.Event(), shelf_module._remove

    def slow_remove(path):
        deleting.set()
        time.sleep(0.3)  # a slow card or a busy disk
        remove(path)

    monkeypatch.setattr(shelf_module, "_remove", slow_remove)
    now[0] = 61.0
    sweep = threading.Thread(target=shelf.expire)
    sweep.start()
    try:
        assert deleting.wait(TIMEOUT_S)
        assert shelf.get(token) is None and not (tmp_path / "share" / token).exists()
    finally:
        sweep.join()
        shelf.close()


def test_closing_deletes_everything_and_a_restart_clears_leftovers(tmp_path):
    shelf = Shelf(tmp_path / "share", 60.0)
    token = shelf.reserve(1, "")
    shelf.put(token, "card-0001.png", b"png", (1, 1))
    server = ShareServer(shelf, "127.0.0.1", 0)
    server.close()
    assert pages(tmp_path / "share") == []
    (tmp_path / "share" / "AbCdEfGhIjKlMnOpQrStUv").mkdir()  # a crash's leftover
    (tmp_path / "share" / "AbCdEfGhIjKlMnOpQrStUv" / "card-0002.png").write_bytes(b"png")
    Shelf(tmp_path / "share", 60.0).close()
    assert pages(tmp_path / "share") == []


def test_a_second_mirror_leaves_the_first_ones_pages_alone(tmp_path):
    """It deleted them as a crash's leftovers (two mirrors on one machine, one folder)."""
    first = Shelf(tmp_path / "share", 60.0)
    token = first.reserve(1, "")
    first.put(token, "card-0001.png", b"png", (1, 1))
    with pytest.raises(share.ShareError, match="share folder .* is in use by another mirror"):
        Shelf(tmp_path / "share", 60.0)
    assert (tmp_path / "share" / token / "card-0001.png").exists()
    first.close()


def test_200_downloads_at_once_each_get_one_answer(served):
    """Bounded: 200 clients, each with a 10 s socket timeout; every one is served or told 503."""
    server, token, _, _, gif = served
    results: list[int | str] = []
    lock = threading.Lock()
    start = threading.Barrier(200, timeout=TIMEOUT_S)

    def client():
        try:
            start.wait()
            status, _, body = get(server, f"/s/{token}/sticker-0007-1.gif")
            ok = status == 503 or (status == 200 and body == gif)
            result = status if ok else f"bad {status} {len(body)}"
        except (OSError, threading.BrokenBarrierError) as e:
            result = repr(e)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 200 and all(r in (200, 503) for r in results), [r for r in results if r not in (200, 503)]
    assert results.count(200) >= share.WORKERS and results.count(503) == server.refused
    assert get(server, f"/s/{token}/sticker-0007-1.gif")[2] == gif  # and it goes on serving


def test_it_starts_before_the_hotspot_has_its_address(tmp_path):
    """NetworkManager may bring the hotspot up after the service starts: the bind must not fail."""
    server = ShareServer(Shelf(tmp_path / "share", 60.0), "10.255.255.1", 0)  # on no interface here
    try:
        assert server.port > 0 and server.url("x").startswith("http://10.255.255.1:")
    finally:
        server.close()


def test_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(share.ShareError, match=r"cannot listen on 127\.0\.0\.1:\d+ \(Address already in use\)"):
            ShareServer(Shelf(tmp_path / "share", 60.0), "127.0.0.1", busy.getsockname()[1])


def test_urllib_sees_errors_as_errors(served):
    server, token, _, _, _ = served
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/s/{token}/nothing.gif", timeout=TIMEOUT_S)
    assert e.value.code == 404


def test_a_page_still_being_made_says_so_and_reloads(served):
    server, _, _, _, _ = served
    token = server.shelf.reserve(8, "")
    status, headers, body = get(server, f"/s/{token}")
    assert status == 200 and b"on its way" in body and b'http-equiv="refresh"' in body
