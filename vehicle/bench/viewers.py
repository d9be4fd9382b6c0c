"""Console viewers for the bench: the real console, real HTTP, real MJPEG streams.

The console is served as the car serves it: by the service process, plain HTTP on loopback.
The viewers are in a child process, as a browser would be on a phone: their CPU is not
counted as the car's, but they share the machine's cores with it, at the lowest priority (a
phone's browser takes no CPU from the car at all).
They log in as DeepRacer's tools do (``GET /`` for the session and its CSRF token, then
``POST /login``) and then read ``/route?topic=/camera_pkg/display_mjpeg`` and discard it.
"""

from __future__ import annotations

import contextlib
import http.client
import multiprocessing
import os
import queue
import re
import threading
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING

from vehicle.bench.stats import BenchError

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event as EventType

    Events = Queue[tuple[str, int, object]]  # ("ready" | "frames" | "error", viewer, value)

STREAM_PATH = "/route?topic=/camera_pkg/display_mjpeg&width=640&height=480"
BOUNDARY = b"--frame"
READY_TIMEOUT_S = 20.0
_CSRF = re.compile(rb'name="csrf-token"\s+content="([^"]+)"')


def _cookie(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


def login(host: str, port: int, password: str) -> str:
    """Log in as DeepRacer's tools do; returns the ``Cookie`` header for later requests."""
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/")
        page = conn.getresponse()
        body = page.read()
        _cookie(page, jar)
        token = _CSRF.search(body)
        if token is None:
            raise BenchError(f"console GET / gave no csrf-token meta tag (HTTP {page.status})")
        form = urllib.parse.urlencode({"password": password})
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRFToken": token[1].decode(),
            "Cookie": cookie,
        }
        conn.request("POST", "/login", body=form, headers=headers)
        answer = conn.getresponse()
        answer_body = answer.read()
        if answer.status != 200 or answer_body == b"failure":
            raise BenchError(f"console login failed with HTTP {answer.status}")
        _cookie(answer, jar)
    finally:
        conn.close()
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _watch_one(
    host: str, port: int, cookie: str, index: int, stop: EventType, events: Events
) -> None:
    """One viewer: read the stream until told to stop; report readiness and frame count."""
    frames = 0
    tail = b""
    try:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", STREAM_PATH, headers={"Cookie": cookie})
        response = conn.getresponse()
        if response.status != 200:
            raise BenchError(f"stream answered HTTP {response.status}")
        while not stop.is_set():
            chunk = response.read1(65536)
            if not chunk:
                raise BenchError("stream ended")
            data = tail + chunk
            found = data.count(BOUNDARY)
            if found and not frames:
                events.put(("ready", index, 0))
            frames += found
            tail = data[-(len(BOUNDARY) - 1) :]
        conn.close()
        events.put(("frames", index, frames))
    except Exception as exc:  # the parent must hear why a viewer died
        events.put(("error", index, f"{type(exc).__name__}: {exc}"))


def watch(host: str, port: int, password: str, count: int, stop: EventType, events: Events) -> None:
    """Child process entry: log in once, then ``count`` viewers on the stream."""
    os.nice(19)
    try:
        cookie = login(host, port, password)
    except Exception as exc:
        events.put(("error", -1, f"{type(exc).__name__}: {exc}"))
        return
    threads = [
        threading.Thread(target=_watch_one, args=(host, port, cookie, i, stop, events))
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Viewers:
    """``count`` viewers attached to a console; ``frames`` holds what each received."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.frames: list[int] = []


@contextlib.contextmanager
def console_viewers(host: str, port: int, password: str, count: int) -> Iterator[Viewers]:
    """Attach ``count`` watching viewers to the console at ``host:port``.

    Returns once every viewer has received a frame; on exit the viewers disconnect.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise BenchError(f"viewer count must be a whole number >= 1, got {count!r}")
    ctx = multiprocessing.get_context("spawn")
    stop, events = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=watch, args=(host, port, password, count, stop, events), daemon=True)
    viewers = Viewers(count)
    try:
        child.start()
        ready = 0
        while ready < count:
            try:
                kind, index, value = events.get(timeout=READY_TIMEOUT_S)
            except queue.Empty as exc:
                raise BenchError(f"only {ready} of {count} viewers got a frame") from exc
            if kind == "error":
                raise BenchError(f"console viewer {index} failed: {value}")
            ready += kind == "ready"
        yield viewers
        stop.set()
        for _ in range(count):
            kind, index, value = events.get(timeout=READY_TIMEOUT_S)
            if kind == "error":
                raise BenchError(f"console viewer {index} failed: {value}")
            viewers.frames.append(int(value))
    finally:
        stop.set()
        if child.pid is not None:  # started
            child.join(timeout=5.0)
            if child.is_alive():
                child.terminate()
