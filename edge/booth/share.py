"""The share server: a small read-only web server on the booth's own network, one page per snapshot.

Standard library only, and less than http.server: a request is one line and a few headers read
within HEAD_S, answered, and the connection closed. Only `GET`/`HEAD` of `/s/TOKEN` (the page) and
`/s/TOKEN/NAME` (one of its files, by a name the shelf wrote) exist; nothing is decoded or joined
into a path, so `..`, `%2e%2e`, absolute paths and symlinks lead nowhere. Every answer carries
`Cache-Control: no-store` and a content security policy that allows the page's own images and its
one style block, nothing else. WORKERS threads, started once, answer (files go out with sendfile,
which leaves the GIL to the frame loop); up to WAITING more connections wait their turn; more are
told 503 at once.
"""
from __future__ import annotations

import base64
import collections
import hashlib
import html
import logging
import os
import queue
import socket
import socketserver
import threading
import time

from edge.booth.shelf import NAME, TOKEN, TYPES, Shelf, ShareError

log = logging.getLogger(__name__)

WORKERS = 16
WAITING = 48  # connections accepted beyond the busy workers, answered in turn (a page asks for ~5 files at once)
HEAD_MAX = 8192  # bytes of request line and headers
HEAD_S = 5.0  # the whole request head must arrive within this (a slow client holds no worker longer)
SEND_S = 30.0  # a phone on a weak signal; per send
DRAIN_S, DRAIN_MAX = 1.0, 2 << 20  # what an over-long request still sends is read and dropped, bounded
IP_FREEBIND = 15  # Linux: bind to the hotspot's address before NetworkManager has brought it up

STYLE = ("body{margin:0;padding:16px;font:18px/1.4 system-ui,sans-serif;background:#1a1c38;color:#f6f4ff;"
         "text-align:center}h1{font-size:22px;margin:8px 0 16px}figure{margin:0 0 24px}"
         "img{max-width:100%;height:auto;border-radius:12px}a.dl{display:inline-block;margin-top:8px;"
         "padding:12px 22px;border-radius:24px;background:#f6f4ff;color:#1a1c38;font-weight:600;"
         "text-decoration:none}p{color:#c8c4e4;font-size:15px}")
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (f"default-src 'none'; img-src 'self'; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Server": "emoticon-mirror", "Connection": "close"}
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           413: "Content Too Large", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}
LINES = {400: "Malformed address.", 404: "Nothing here: the page has expired or never existed.",
         405: "Only GET and HEAD.", 408: "The request was too slow.", 413: "No request body is accepted.",
         431: "The request head is too large.", 503: "Busy: try again in a moment."}


def response_head(code: int, ctype: str, length: int, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {code} {REASONS[code]}", f"Content-Type: {ctype}", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in {**HEADERS, **(extra or {})}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def one_line(code: int, extra: dict[str, str] | None = None) -> bytes:
    body = (LINES[code] + "\n").encode()
    return response_head(code, "text/plain; charset=utf-8", len(body), extra) + body


class Handler(socketserver.BaseRequestHandler):
    server: "ShareServer"

    method = ""

    def handle(self) -> None:
        sock: socket.socket = self.request
        head, problem = self._read_head(sock)
        if head is None and problem is None:
            return  # the client went away
        if problem is None:
            problem = self._answer(sock, head)
        if problem is not None:
            answer = one_line(problem, {"Allow": "GET, HEAD"} if problem == 405 else None)
            self._send(sock, answer.split(b"\r\n\r\n")[0] + b"\r\n\r\n" if self.method == "HEAD" else answer)
            self._drain(sock)

    def _read_head(self, sock: socket.socket) -> tuple[bytes | None, int | None]:
        deadline = time.monotonic() + HEAD_S
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > HEAD_MAX:
                return None, 431
            left = deadline - time.monotonic()
            if left <= 0:
                return None, 408
            sock.settimeout(left)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                return None, 408
            except OSError:
                return None, None
            if not chunk:
                return None, None
            data += chunk
        return data, None

    def _answer(self, sock: socket.socket, head: bytes) -> int | None:
        """Sends the answer to a whole request head; returns an error code to send instead."""
        text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        line, *headers = text.split("\r\n")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return 400
        method, target = parts[0], parts[1]
        self.method = method
        if method not in ("GET", "HEAD"):
            return 405
        for h in headers:
            name, _, value = h.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "transfer-encoding" or (name == "content-length" and value != "0"):
                return 413
        if not target.startswith("/s/"):
            return 404
        token, slash, name = target[3:].partition("/")
        if not TOKEN.fullmatch(token):
            return 400
        item = self.server.shelf.get(token)
        if item is None:
            return 404
        if not slash:
            page = (render_page(item, self.server.shelf.left_s(item)) if item.ready else PENDING).encode()
            self._send(sock, response_head(200, "text/html; charset=utf-8", len(page)))
            if method == "GET":
                self._send(sock, page)
            self.server.served(target, 200)
            return None
        if not NAME.fullmatch(name) or name not in item.files:
            return 404
        return self._send_file(sock, item.folder / name, TYPES[name.rsplit(".", 1)[1]], method, target, item.number)

    def _send_file(self, sock: socket.socket, path, ctype: str, method: str, target: str, number: int) -> int | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)  # a symlink put there is refused
        except OSError:
            return 404
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fd).st_size
            ext = path.name.rsplit(".", 1)[1]
            disposition = {"Content-Disposition": f'inline; filename="emoticon-{number:04d}-{path.stem}.{ext}"'}
            self._send(sock, response_head(200, ctype, size, disposition))
            if method == "GET":
                sock.settimeout(SEND_S)
                try:
                    sock.sendfile(fh)  # os.sendfile: the kernel copies, the GIL is free
                except OSError:
                    return None
        self.server.served(target, 200)
        return None

    @staticmethod
    def _send(sock: socket.socket, data: bytes) -> None:
        sock.settimeout(SEND_S)
        try:
            sock.sendall(data)
        except OSError:
            pass

    @staticmethod
    def _drain(sock: socket.socket) -> None:
        """Read (and drop) what the client is still sending before closing, so that our answer is not
        lost to a connection reset; bounded in time and bytes."""
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline, got = time.monotonic() + DRAIN_S, 0
            while got < DRAIN_MAX and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    return
                got += len(chunk)
        except OSError:
            pass


PENDING = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">'
           '<meta name="viewport" content="width=device-width,initial-scale=1"><title>On its way</title>'
           f'<style>{STYLE}</style></head><body><h1>Your sticker is on its way...</h1></body></html>')


def render_page(item, left_s: float) -> str:
    title = html.escape(item.title or "Your emoticon")
    figures = []
    for name, (w, h) in item.files.items():
        what = "card" if name.startswith("card") else "sticker"
        src = f"/s/{item.token}/{name}"
        figures.append(f'<figure><img src="{src}" width="{w}" height="{h}" alt="Your emoticon {what}">'
                       f'<br><a class="dl" href="{src}" download="emoticon-{item.number:04d}-{name}">'
                       f'Download the {what}</a></figure>')
    minutes = max(1, round(left_s / 60))
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{title} - No. {item.number}</title><style>{STYLE}</style></head><body>'
            f'<h1>{title} - No. {item.number}</h1>{"".join(figures)}'
            f'<p>This page and its pictures are deleted in {minutes} minute{"s" if minutes != 1 else ""}: '
            'save what you want to keep.</p></body></html>')


class ShareServer(socketserver.TCPServer):
    """Serves the shelf on (address, port): one thread accepts, `workers` threads answer (started
    once: a thread per request would cost the frame loop more of the GIL); `close` stops it and
    deletes everything shared."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, shelf: Shelf, address: str, port: int, workers: int = WORKERS):
        self.shelf = shelf
        self.log: collections.deque[tuple[str, int]] = collections.deque(maxlen=512)  # (path, status) served
        self.refused = 0
        self._lingering: collections.deque = collections.deque()  # refused sockets, closed a little later
        self._waiting: queue.Queue = queue.Queue()  # accepted, for the next free worker
        self._room = threading.Semaphore(workers + WAITING)  # connections accepted and not yet closed
        try:
            super().__init__((address, port), Handler)
        except OSError as e:
            raise ShareError(f"cannot listen on {address}:{port} ({e.strerror or e})") from None
        self.port = self.server_address[1]
        self.address = address
        self._workers = [threading.Thread(target=self._work, name=f"share-{i}", daemon=True) for i in range(workers)]
        for w in self._workers:
            w.start()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="share", daemon=True)
        self._thread.start()

    def server_bind(self) -> None:
        if hasattr(socket, "SO_REUSEADDR"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        except OSError:
            pass
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()

    def url(self, token: str) -> str:
        return f"http://{self.address}{'' if self.port == 80 else f':{self.port}'}/s/{token}"

    def served(self, target: str, status: int) -> None:
        self.log.append((target, status))

    def process_request(self, request, client_address) -> None:
        if self._room.acquire(blocking=False):
            self._waiting.put(request)
            return
        self.refused += 1
        request.settimeout(0.2)
        try:  # a short answer fits the socket's buffer: the accepting thread never waits long
            request.sendall(one_line(503, {"Retry-After": "2"}))
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._lingering.append((time.monotonic(), request))

    def _work(self) -> None:
        while (request := self._waiting.get()) is not None:
            try:
                self.finish_request(request, None)
            except Exception as e:  # one bad exchange must not end a worker
                log.warning("share server: %s", e)
            finally:
                self.shutdown_request(request)
                self._room.release()

    def service_actions(self) -> None:
        """Every half second on the server's thread: expired pages deleted, refused sockets closed."""
        self.shelf.expire()
        now = time.monotonic()
        while self._lingering and (now - self._lingering[0][0] > DRAIN_S or len(self._lingering) > 256):
            self.shutdown_request(self._lingering.popleft()[1])

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        for _ in self._workers:
            self._waiting.put(None)
        for w in self._workers:
            w.join(SEND_S)
        while self._lingering:
            self.shutdown_request(self._lingering.popleft()[1])
        self.shelf.close()
