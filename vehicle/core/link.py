"""The drive process's end of the drive link: requests in; replies, status and logs out.

One thread serves the link: it answers each request at once (a model opens in the car's
own loader thread) and watches the service. Another pushes the car's status ten times a
second, each just after a drive step: building it holds the GIL for about 150 us, and
in the loop's idle time that delays no pulse (pushed at random moments, about one in 13
landed between a frame and its pulse at 30 Hz, delaying that pulse). About the service:
once a service has said hello (it may take a while to start), a service that closes its
end, or stays silent longer than ``service_silence_s`` while the car drives or calibrates,
has taken the operator's Stop button with it, so the car stops. Sends never block: a full
service drops the message and the link counts it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from calibration.store import parse_calibration
from vehicle.config import LinkSettings
from vehicle.core.car import DriveCore
from vehicle.core.ipc import (
    BadMessage,
    CalibrationMode,
    Channel,
    Hello,
    IpcError,
    LoadModel,
    ManualDrive,
    PeerClosed,
    Ping,
    PreviewPulse,
    Request,
    SetCalibration,
    SetLed,
    SetMode,
    SetThrottleLimit,
    Start,
    Stop,
    WantFrames,
    decode_request,
    push,
    reply,
)
from vehicle.core.safety import GovernorState

log = logging.getLogger(__name__)


class DriveLink:
    def __init__(
        self, car: DriveCore, settings: LinkSettings, *, model_roots: tuple[Path, ...] = ()
    ) -> None:
        self.car = car
        self.settings = settings
        self.model_roots = tuple(Path(root).resolve() for root in model_roots)
        self._channel: Channel | None = None
        self._channel_changed = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drive-link", daemon=True)
        self._status_thread = threading.Thread(
            target=self._push_status, name="drive-status", daemon=True
        )
        self._greeted = False  # the current service has said hello: its silence counts
        self._last_heard = time.monotonic()
        self.dropped = 0  # messages a full service could not take
        self.service_pid: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._status_thread.start()

    def attach(self, channel: Channel) -> None:
        """A (new) service connection; an older one is closed."""
        with self._lock:
            old, self._channel = self._channel, channel
            greeted, self._greeted = self._greeted, False
        if old is not None:
            old.close()
            if greeted:
                self._lost("a new console process replaced the old one")
        self._channel_changed.set()

    @property
    def attached(self) -> bool:
        return self._channel is not None

    def close(self) -> None:
        self._stop.set()
        self._channel_changed.set()
        for thread in (self._thread, self._status_thread):
            if thread.is_alive():
                thread.join(timeout=2.0)
        with self._lock:
            channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    # -- sending -----------------------------------------------------------------------

    def send(self, message: dict[str, Any], fds: list[int] = ()) -> bool:
        """Non-blocking; False (and counted) when there is no service or it is full."""
        channel = self._channel
        if channel is None:
            return False
        try:
            sent = channel.send(message, fds=fds)
        except (IpcError, OSError):  # OSError: the link thread closed it a moment ago
            sent = False
        if not sent:
            self.dropped += 1
        return sent

    # -- the threads -------------------------------------------------------------------

    def _run(self) -> None:
        interval = self.settings.status_interval_s  # how often the service's health is checked
        while not self._stop.is_set():
            self._watch_service(time.monotonic())
            channel = self._channel
            if channel is None:
                self._channel_changed.wait(interval)
                self._channel_changed.clear()
                continue
            try:
                received = channel.recv(interval)
            except PeerClosed:
                self._drop_dead(channel, "the console process ended")
                continue
            except BadMessage as exc:
                log.warning("drive link: ignored a malformed message: %s", exc)
                continue
            except OSError as exc:
                self._drop_dead(channel, f"the link failed: {exc}")
                continue
            if received is not None:
                self._last_heard = time.monotonic()
                self._serve(*received)

    def _push_status(self) -> None:
        """Every ``status_interval_s``: wait for the end of the next drive step (up to half
        an interval: a loop that is not stepping gets its status on time), then push."""
        interval = self.settings.status_interval_s
        stepped = self.car.stepped
        due = time.monotonic()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            stepped.clear()
            stepped.wait(interval / 2)
            if self._channel is not None:
                self.send(push("status", status=self._status()))
            due = max(due + interval, time.monotonic())

    def _serve(self, message: dict[str, Any], fds: list[int]) -> None:
        for fd in fds:  # the service never hands the drive descriptors
            os.close(fd)
        try:
            request_id, request = decode_request(message)
        except BadMessage as exc:
            request_id = message.get("id")
            if isinstance(request_id, int) and not isinstance(request_id, bool):
                self.send(reply(request_id, self._status(), str(exc)))
            log.warning("drive link: refused a request: %s", exc)
            return
        error = None
        try:
            if isinstance(request, Hello):
                self._hello(request_id, request)
                return
            self._handle(request)
        except ValueError as exc:  # the car's refusals carry their reason
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # never let the link thread die
            log.exception("drive link: %s failed", request.op)
            error = f"{request.op} failed: {type(exc).__name__}: {exc}"
        if not isinstance(request, Ping):
            self.send(reply(request_id, self._status(), error))

    def _hello(self, request_id: int, hello: Hello) -> None:
        """The rings go to the service as read-only descriptors with the first reply."""
        self.service_pid = hello.pid
        self._greeted = True
        car = self.car
        fds = [ring.reader_fd() for ring in (car.frames, car.steps) if ring is not None]
        try:
            self.send({**reply(request_id, self._status()), "rings": len(fds)}, fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        log.info("console process %d attached", hello.pid)

    def _handle(self, request: Request) -> None:
        car = self.car
        match request:
            case Ping():
                pass
            case SetMode(mode=mode):
                car.set_mode(mode)
            case Start():
                car.start()
            case Stop():
                car.stop()
            case ManualDrive(steer=steer, throttle=throttle):
                car.manual_drive(steer, throttle)
            case SetThrottleLimit(fraction=fraction):
                car.set_throttle_limit(fraction)
            case SetCalibration(calibration=data):
                car.set_calibration(parse_calibration(data))
            case CalibrationMode(on=on):
                car.enter_calibration() if on else car.exit_calibration()
            case PreviewPulse(channel=channel, ns=ns):
                car.preview_pulse(channel, ns)  # type: ignore[arg-type]
            case LoadModel(path=path, name=name):
                car.load_model(self._model_path(path), name)
            case WantFrames(seconds=seconds, fps=fps):
                car.want_frames(seconds, fps)
            case SetLed(red=red, green=green, blue=blue):
                car.set_led(red, green, blue)
            case _:
                raise ValueError(f"unsupported request {request.op}")

    def _model_path(self, path: str) -> Path:
        """Only bundles under the model roots (the store, the bundled models) may open."""
        resolved = Path(path).resolve()
        if not any(resolved.is_relative_to(root) for root in self.model_roots):
            raise ValueError(f"{path} is not in a model store this car drives from")
        return resolved

    # -- the service's health ----------------------------------------------------------

    def _watch_service(self, now: float) -> None:
        silent_s = now - self._last_heard
        if self._greeted and silent_s > self.settings.service_silence_s:
            self._lost(f"the console process has been silent for {silent_s:.1f} s")

    def _drop_dead(self, channel: Channel, why: str) -> None:
        with self._lock:
            current = self._channel is channel
            if current:
                self._channel = None
            greeted = current and self._greeted
            if current:
                self._greeted = False
        channel.close()
        if greeted:
            self._lost(why)

    def _lost(self, why: str) -> None:
        """The operator may have lost the Stop button: stop driving, leave calibration."""
        state = self.car.governor.status().state
        if state.armed:
            self.car.stop(reason=f"{why}: the operator lost the Stop button")
        elif state is GovernorState.CALIBRATING:
            self.car.exit_calibration()
            log.warning("left calibration mode: %s", why)

    def _status(self) -> dict[str, Any]:
        return {**self.car.status(), "link_dropped": self.dropped}


class LinkLogHandler(logging.Handler):
    """The drive's log lines, forwarded to the service's log view (dropped when full)."""

    def __init__(self, link: DriveLink, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._link = link

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._link.send(
                push("log", level=record.levelname, name=record.name, message=record.getMessage())
            )
        except Exception:  # a log line must never take the drive down
            self.handleError(record)
