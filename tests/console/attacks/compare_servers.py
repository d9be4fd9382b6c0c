"""Candidate servers for the console, measured on the same attacks (a manual experiment).

    pip install cheroot uvicorn hypercorn a2wsgi   # the candidates we did not choose
    python -m tests.console.attacks.compare_servers [candidate ...] [--json out.json]

Each candidate serves the same Flask app and VehicleService (mock outputs, synthetic
camera) in a child process on loopback; each attack runs for a bounded time while an
operator presses Stop every 0.25 s on a fresh connection. Reported per attack: the peak
resident memory above the server's idle level, the server's CPU seconds, and the Stop
presses answered (with their worst latency). Figures are from this machine (2 shared
cores), so compare candidates with each other, not with the car.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .wire import (
    Session,
    Target,
    head_bytes,
    log_in,
    read_response,
    request,
    send_streamed,
    still_open,
    zeros,
)

PASSWORD = "correct horse battery"
CANDIDATES = ("cheroot", "cheroot-hardened", "uvicorn", "hypercorn", "front")
MB = 1000 * 1000
MiB = 1024 * 1024
OPEN_BUDGET_S = 5.0  # for opening an attack's connections

# -- the child: one candidate serving the console ------------------------------------------


def serve(candidate: str, data_dir: Path, tls: bool, port_file: Path) -> None:
    """The drive core and the service linked in this process (as the console tests hold
    them), then the candidate serving the console. The soft descriptor limit is systemd's
    default (1024), as on the car."""
    import resource

    from vehicle.config import ConsoleSettings, Settings
    from vehicle.core.camera import SyntheticSource
    from vehicle.core.car import DriveCore
    from vehicle.core.ipc import Channel
    from vehicle.core.link import DriveLink
    from vehicle.core.pwm.mock import MockPwm
    from vehicle.service.client import DriveClient
    from vehicle.service.facade import VehicleService

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    os.environ["VEHICLE_CONSOLE_PASSWORD"] = PASSWORD
    settings = Settings(data_dir=data_dir, console=ConsoleSettings(viewer_max_fps=15.0))
    car = DriveCore(settings, MockPwm(), source=SyntheticSource(fps=15.0))
    link = DriveLink(car, settings.link, model_roots=(data_dir,))
    drive_end, service_end = Channel.pair()
    link.start()
    link.attach(drive_end)
    client = DriveClient(service_end, settings.link)
    client.start()
    service = VehicleService(settings, client)
    car.start_background()
    car.run_in_thread()
    port = SERVERS[candidate](service, settings, tls)
    port_file.write_text(str(port))
    threading.Event().wait()


def _app(service, settings, tls: bool):
    from webconsole.server import console_app
    from webconsole.tls import ensure_certificate

    cert = ensure_certificate(settings.tls_dir, "127.0.0.1") if tls else None
    return console_app(service, settings, tls), cert


def _cheroot(hardened: bool):
    def start(service, settings, tls: bool) -> int:
        from cheroot import wsgi
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        app, cert = _app(service, settings, tls)
        server = wsgi.Server(("127.0.0.1", 0), app, numthreads=32 if hardened else 16)
        if hardened:
            server.max_request_header_size = 16 * 1024
            server.max_request_body_size = settings.console.max_upload_bytes
            server.timeout = 10
        if cert:
            server.ssl_adapter = BuiltinSSLAdapter(str(cert.cert), str(cert.key))
        server.prepare()
        threading.Thread(target=server.serve, daemon=True).start()
        return server.bind_addr[1]

    return start


_LISTENING: list[socket.socket] = []


def _asgi(kind: str):
    def start(service, settings, tls: bool) -> int:
        import asyncio

        from a2wsgi import WSGIMiddleware

        app, cert = _app(service, settings, tls)
        asgi = WSGIMiddleware(app, workers=16)
        sock = socket.create_server(("127.0.0.1", 0))
        _LISTENING.append(sock)  # hypercorn takes the descriptor: the object must live
        if kind == "uvicorn":
            import uvicorn

            config = uvicorn.Config(
                asgi,
                log_level="warning",
                timeout_keep_alive=5,
                h11_max_incomplete_event_size=16 * 1024,
                http="h11",
                ssl_certfile=str(cert.cert) if cert else None,
                ssl_keyfile=str(cert.key) if cert else None,
            )
            server = uvicorn.Server(config)
            run = lambda: asyncio.run(server.serve(sockets=[sock]))  # noqa: E731
        else:
            from hypercorn.asyncio import serve as hypercorn_serve
            from hypercorn.config import Config

            config = Config()
            config.keep_alive_timeout = 5
            config.h11_max_incomplete_size = 16 * 1024
            config.ssl_handshake_timeout = 10
            config.bind = [f"fd://{sock.fileno()}"]
            if cert:
                config.certfile, config.keyfile = str(cert.cert), str(cert.key)
            forever = lambda: asyncio.Event().wait()  # noqa: E731 - no signal handlers
            run = lambda: asyncio.run(  # noqa: E731
                hypercorn_serve(asgi, config, mode="asgi", shutdown_trigger=forever)
            )
        threading.Thread(target=run, daemon=True).start()
        return sock.getsockname()[1]

    return start


def _front(service, settings, tls: bool) -> int:
    from webconsole.server import start_console

    handle = start_console(service, settings, host="127.0.0.1", port=0, tls=tls)
    return int(handle.url.rsplit(":", 1)[1].strip("/"))


SERVERS: dict[str, Callable[..., int]] = {
    "cheroot": _cheroot(False),
    "cheroot-hardened": _cheroot(True),
    "uvicorn": _asgi("uvicorn"),
    "hypercorn": _asgi("hypercorn"),
    "front": _front,
}

# -- the parent: attacks and measurements ---------------------------------------------------


@dataclass
class Server:
    pid: int
    target: Target

    def status_kib(self, name: str) -> int:
        text = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE).group(1))

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")


@contextlib.contextmanager
def running(candidate: str, tls: bool) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        child = subprocess.Popen(
            [sys.executable, "-m", __spec__.name, "--child", candidate, tmp, str(int(tls))],
            cwd=Path(__file__).resolve().parents[3],
        )
        try:
            deadline = time.monotonic() + 60
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError(f"{candidate} did not start")
                time.sleep(0.1)
            port = int(port_file.read_text())
            cafile = Path(tmp) / "data" / "tls" / "console.crt" if tls else None
            scheme = "https" if tls else "http"
            yield Server(child.pid, Target.of(f"{scheme}://127.0.0.1:{port}/", cafile))
        finally:
            child.kill()
            child.wait()


@dataclass
class Probe:
    """An operator pressing Stop every ``period_s`` on a new connection."""

    target: Target
    session: Session
    period_s: float = 0.25
    timeout_s: float = 10.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                with self.target.connect(timeout=self.timeout_s) as sock:
                    sock.sendall(
                        head_bytes(
                            "POST",
                            "/api/v1/stop",
                            {
                                **self.session.headers(),
                                "Content-Length": "0",
                                "Connection": "close",
                            },
                        )
                    )
                    answer = read_response(sock)
                if answer.status != 200:
                    raise ConnectionError(answer.status)
                self.latencies.append(time.monotonic() - start)
            except Exception:
                self.failures += 1
            self._stop.wait(max(0.0, self.period_s - (time.monotonic() - start)))

    @contextlib.contextmanager
    def during(self) -> Iterator[Probe]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(self.timeout_s + 1)

    def summary(self) -> dict:
        served = len(self.latencies)
        return {
            "stops_served": f"{served}/{served + self.failures}",
            "stop_worst_s": round(max(self.latencies), 3) if self.latencies else None,
        }


def _quiet(action: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        action()


def _hold(
    target: Target,
    sources: list[str],
    count: int,
    send: Callable[[socket.socket, int], None],
    seconds: float,
) -> dict:
    """Open up to ``count`` connections over ``sources`` (for at most OPEN_BUDGET_S), call
    ``send(sock, tick)`` once a second for ``seconds``; how many opened, and how many of
    those the server has closed by the end."""
    socks: list[socket.socket] = []
    opening_until = time.monotonic() + OPEN_BUDGET_S
    for i in range(count):
        if time.monotonic() > opening_until:
            break
        with contextlib.suppress(OSError):
            socks.append(target.connect(sources[i % len(sources)], timeout=0.5))
    for tick in range(int(seconds)):
        for sock in socks:
            with contextlib.suppress(OSError):
                send(sock, tick)
        time.sleep(1)
    closed = sum(not still_open(sock) for sock in socks)
    for sock in socks:
        sock.close()
    return {"opened": len(socks), "closed_by_server": closed}


def attack_body(chunked: bool) -> Callable[[Server], dict]:
    """600 MB to the upload route without a session (the issue's item 1), declared with a
    Content-Length or chunked (no length to refuse it by)."""

    def frames():
        for block in zeros(600 * MB):
            yield f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block

    def run(server: Server) -> dict:
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(600 * MB)}
        head = head_bytes("POST", "/api/uploadModels", {**framing, "Content-Type": "a/b"})
        answers: list = []
        with server.target.connect() as sock:
            sock.settimeout(30)
            reader = threading.Thread(
                target=lambda: _quiet(lambda: answers.append(read_response(sock)))
            )
            reader.start()
            start = time.monotonic()
            sent = send_streamed(sock, head, frames())
            reader.join(30)
            return {
                "answer": answers[0].status if answers else None,
                "sent_MB": round(sent / MB),
                "seconds": round(time.monotonic() - start, 1),
            }

    return run


def attack_big_head(kind: str) -> Callable[[Server], dict]:
    """A 64 MiB request line or a 32 MiB header (item 2)."""

    def run(server: Server) -> dict:
        size = 64 * MiB if kind == "line" else 32 * MiB
        with server.target.connect() as sock:
            sock.settimeout(30)
            if kind == "line":
                head = iter([b"GET /" + b"a" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n"])
            else:
                head = iter([b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"])
            sent = send_streamed(sock, b"", head)
            answer = None
            with contextlib.suppress(Exception):
                answer = read_response(sock).status
        return {"answer": answer, "sent_MB": round(sent / MB)}

    return run


def attack_tls_silent(server: Server) -> dict:
    """Two TCP connections that never start the TLS handshake, held 12 s (item 3)."""
    plain = Target(server.target.host, server.target.port)
    return _hold(plain, ["127.0.0.2"], 2, lambda sock, tick: None, 12)


def attack_slowloris(count: int, sources: int) -> Callable[[Server], dict]:
    """``count`` connections sending one header line every 4 s for 20 s (item 4)."""

    def send(sock: socket.socket, tick: int) -> None:
        if tick == 0:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        elif tick % 4 == 0:
            sock.sendall(f"X-{tick}: y\r\n".encode())

    def run(server: Server) -> dict:
        ips = [f"127.0.0.{10 + i}" for i in range(sources)]
        return _hold(server.target, ips, count, send, 20)

    return run


def attack_viewers(server: Server, session: Session) -> dict:
    """16 logged-in camera viewers, held 10 s (the odd list's last item)."""
    socks = []
    for _ in range(16):
        with contextlib.suppress(OSError):
            sock = server.target.connect(timeout=5)
            sock.sendall(
                head_bytes(
                    "GET", "/route?topic=/camera_pkg/display_mjpeg", session.headers(csrf=False)
                )
            )
            socks.append(sock)
    time.sleep(10)
    streaming = 0
    for sock in socks:
        with contextlib.suppress(Exception):
            sock.settimeout(0.5)
            if sock.recv(100).startswith(b"HTTP/1.1 200"):
                streaming += 1
        sock.close()
    return {"viewers_served": streaming}


def attack_flood(server: Server) -> dict:
    """1500 idle connections from 50 addresses, held 12 s: more than systemd's default
    1024 descriptors."""
    ips = [f"127.0.1.{i}" for i in range(1, 51)]
    return _hold(server.target, ips, 1500, lambda sock, tick: None, 12)


def no_attack(server: Server) -> dict:
    """The baseline: 5 s of Stop presses and nothing else."""
    time.sleep(5)
    return {}


ATTACKS: dict[str, tuple[bool, Callable]] = {
    # name: (over TLS, attack)
    "no attack": (False, no_attack),
    "body 600 MB, no session": (False, attack_body(chunked=False)),
    "chunked 600 MB, no session": (False, attack_body(chunked=True)),
    "request line 64 MiB": (False, attack_big_head("line")),
    "header 32 MiB": (False, attack_big_head("header")),
    "2 silent TLS connections": (True, attack_tls_silent),
    "slowloris 50 conns": (False, attack_slowloris(50, 1)),
    "200 slow conns, 10 addrs": (False, attack_slowloris(200, 10)),
    "16 camera viewers": (False, attack_viewers),
    "1500 idle conns, 50 addrs": (False, attack_flood),
}


def measure(candidate: str, attack: str) -> dict:
    tls, action = ATTACKS[attack]
    with running(candidate, tls) as server:
        session = log_in(server.target, PASSWORD)
        probe = Probe(server.target, session)
        for _ in range(5):  # warm up: pages, the API, the session
            _quiet(lambda: request(server.target, "GET", "/api/v1/status", session.headers()))
        time.sleep(1)
        idle_kib = server.status_kib("VmRSS")
        server.reset_peak()
        cpu = server.cpu_s()
        with probe.during():
            args = (server, session) if action is attack_viewers else (server,)
            result = action(*args)
        return {
            **result,
            **probe.summary(),
            "peak_rss_growth_MiB": round((server.status_kib("VmHWM") - idle_kib) / 1024, 1),
            "cpu_s": round(server.cpu_s() - cpu, 2),
        }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        serve(argv[1], Path(argv[2]) / "data", bool(int(argv[3])), Path(argv[2]) / "port")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--attack", action="append", choices=list(ATTACKS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict]] = {}
    for candidate in args.candidates:
        for attack in args.attack or ATTACKS:
            try:
                figures = measure(candidate, attack)
            except Exception as exc:
                figures = {"error": f"{type(exc).__name__}: {exc}"}
            results.setdefault(candidate, {})[attack] = figures
            print(f"{candidate:17} {attack:27} {json.dumps(figures)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
