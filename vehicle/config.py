"""Typed configuration, in one place.

Settings come from defaults, then an optional TOML file (``--config``), then the environment
(``VEHICLE_DATA_DIR``), then command-line options. Everything that tunes the car is here so
the drive loop, the governor and the console read the same numbers.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_args, get_type_hints

PWM_PERIOD_NS = 20_000_000  # 50 Hz, as every hobby servo and ESC expects
PWM_BACKENDS = ("mock", "sysfs", "rpi-gpio", "pca9685", "sim")
BATTERY_SOURCES = ("auto", "none", "power_supply", "i2c", "sim")
PRECISIONS = ("auto", "fp32")  # auto: int8 dense layers where they agree with fp32
ENGINE_CHOICES = ("auto", "onnxruntime", "openvino", "litert")  # auto: the fastest, measured


class ConfigError(ValueError):
    """A configuration file or value that cannot be used."""


def _env_data_dir() -> Path | None:
    env = os.environ.get("VEHICLE_DATA_DIR")
    return Path(env) if env else None


def default_data_dir() -> Path:
    """``/var/lib/vehicle`` on the car (when writable), a user directory on a desktop."""
    env = _env_data_dir()
    if env is not None:
        return env
    system = Path("/var/lib/vehicle")
    if system.is_dir() and os.access(system, os.W_OK):
        return system
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "vehicle"


@dataclass(frozen=True)
class PwmSettings:
    """Where the two channels go on each back-end. Defaults are DeepRacer's wiring."""

    backend: str = "mock"
    period_ns: int = PWM_PERIOD_NS
    sysfs_root: Path = Path("/sys/class/pwm")
    sysfs_chip: int | None = None
    throttle_channel: int = 0
    steering_channel: int = 1
    gpio_steering_pin: int = 12  # BCM numbering
    gpio_throttle_pin: int = 13
    i2c_bus: int = 1
    i2c_address: int = 0x40
    mock_state_file: Path | None = None  # the mock's "hardware": outlives the process, like PWM
    # DeepRacer's tail light: red, green and blue on outputs 2, 3 and 4 of the same chip.
    led_red_channel: int = 2
    led_green_channel: int = 3
    led_blue_channel: int = 4

    @property
    def led_channels(self) -> tuple[int, int, int]:
        return (self.led_red_channel, self.led_green_channel, self.led_blue_channel)


@dataclass(frozen=True)
class BatterySettings:
    """Where the battery level comes from, read by the drive process (it has the devices).

    ``auto``: a Linux power_supply of type Battery; else DeepRacer's fuel gauge when its I2C
    adapter is present; else none (the console then shows "not connected", as DeepRacer
    does). The simulator simulates one. ``i2c_bus`` unset: the adapter on DeepRacer's PCI
    device, else bus 7 (DeepRacer's numbering).
    """

    source: str = "auto"
    power_supply_root: Path = Path("/sys/class/power_supply")
    power_supply_name: str = ""  # "": the first supply of type Battery
    i2c_dev_root: Path = Path("/sys/class/i2c-dev")
    i2c_bus: int | None = None
    i2c_address: int = 0x3F  # DeepRacer's gauge, level byte in register 3
    i2c_register: int = 0x03
    poll_interval_s: float = 5.0
    sim_minutes_at_full_throttle: float = 30.0  # a simulated pack empties in this much driving


@dataclass(frozen=True)
class LoopSettings:
    """Timing of the drive loop and the deadlines the safety governor enforces."""

    rate_cap_hz: float | None = None  # None: run on every new frame
    nominal_rate_hz: float = 15.0  # the camera rate the deadlines are derived from
    manual_deadline_s: float = 0.5  # a console drive command expires after this
    calibration_preview_s: float = 0.8  # a throttle preview returns to neutral by itself
    throttle_ramp_per_s: float = 4.0  # normalised throttle per second, ramp-up only
    inference_bound_s: float | None = None  # None: two loop periods

    @property
    def period_s(self) -> float:
        return 1.0 / (self.rate_cap_hz or self.nominal_rate_hz)

    @property
    def stale_after_s(self) -> float:
        """An autonomous command older than this (from frame capture) means neutral."""
        return 1.5 * self.period_s

    @property
    def inference_fault_s(self) -> float:
        """Inference slower than this latches a fault (its command is already stale)."""
        return self.inference_bound_s or 2.0 * self.period_s

    @property
    def overrun_fault_s(self) -> float:
        """Frame capture to command slower than this latches a fault."""
        return 3.0 * self.period_s

    @property
    def camera_stall_s(self) -> float:
        """No frame for this long while driving latches a fault.

        Staleness already cut the throttle at ``stale_after_s`` and recovers by itself when
        frames return; the latch waits for a real stall (at least half a second) so one late
        USB frame or a busy CPU does not stop the car until an operator re-arms it.
        """
        return max(3.0 * self.period_s, 0.5)

    @property
    def watchdog_interval_s(self) -> float:
        """The governor's own check runs this often, independent of the drive loop."""
        return self.period_s / 4.0


@dataclass(frozen=True)
class ServerLimits:
    """What the console's front (webconsole/front) grants one client, and all of them.

    Sized for a car on a Wi-Fi it does not control: a stranger can hold a few idle
    connections, never a worker thread, and an operator's Stop is always served.
    """

    max_header_bytes: int = 16 * 1024  # the request line and all headers together
    max_body_bytes: int = 64 * 1024  # any request body but a model upload
    header_timeout_s: float = 10.0  # the whole request head, from its first byte
    idle_timeout_s: float = 15.0  # a kept-alive connection waiting for its next request
    body_timeout_s: float = 10.0  # a body's grace period, then it must keep min_body_rate
    min_body_rate: int = 32 * 1024  # bytes per second
    write_timeout_s: float = 15.0  # a client that reads nothing for this long is dropped
    tls_handshake_timeout_s: float = 10.0
    max_connections: int = 512
    max_connections_per_client: int = 32  # per IPv4 address or IPv6 /64
    api_workers: int = 8  # threads for everything but uploads and camera viewers
    max_viewers: int = 4  # camera streams at once, each on its own thread
    max_uploads: int = 1  # model uploads at once (each may expand to 512 MiB on disk)


@dataclass(frozen=True)
class LinkSettings:
    """The drive link between the drive process and the service process (DESIGN.md 1)."""

    service_silence_s: float = 1.0  # a service silent this long while driving stops the car
    ping_interval_s: float = 0.25  # the service's heartbeat to the drive
    status_interval_s: float = 0.1  # the drive's status pushes to the service
    socket: Path | None = None  # where a separately started service connects (systemd);
    # None: ``drive.sock`` in the data directory
    restart_delay_s: float = 1.0  # a crashed console process is restarted after this (doubling)
    service_nice: int = 5  # the service process yields the CPU to the drive process


@dataclass(frozen=True)
class ConsoleSettings:
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool | None = None  # None: TLS unless bound to localhost
    max_upload_bytes: int = 200 * 1024 * 1024
    viewer_max_fps: float = 15.0
    login_attempts_per_minute: int = 10  # per client address
    login_attempts_per_minute_total: int = 60  # from all addresses together
    session_max_age_s: float = 12 * 3600.0  # a login ends after this however it is used
    limits: ServerLimits = field(default_factory=ServerLimits)


@dataclass(frozen=True)
class ModelSettings:
    """Limits on what a model upload may cost, and where prepared models are cached.

    Preparation (validation and conversion) runs in a worker process with these limits, so
    a hostile or broken model costs at most this much time and memory, and never the drive.
    """

    max_archive_bytes: int = 512 * 1024 * 1024  # an upload or a model file as received
    max_extracted_bytes: int = 512 * 1024 * 1024  # what an archive may expand to
    max_archive_members: int = 1000
    max_model_bytes: int = 256 * 1024 * 1024  # one network file (a DEEP graph is ~110 MB)
    max_graph_nodes: int = 20_000  # rl_coach's frozen graphs have 50 to 300
    prepare_timeout_s: float = 300.0  # wall time of one preparation (the worker is killed)
    prepare_memory_mb: int = 3072  # the worker's address space (RLIMIT_AS; 110 MB graph: 1.5 GB)
    cache_entries: int = 8  # prepared models kept for the CLI and re-uploads
    precision: str = "auto"  # "fp32" never drives the reduced-precision form
    engine: str = "auto"  # or one engine for fp32, where it can run the model
    agreement_frames: int = 10_000  # simulator frames the reduced-precision gate compares
    agreement_budget_s: float = 150.0  # a gate not done by then refuses (too few frames)
    engine_timing_s: float = 2.0  # measuring the candidate engines at install, in all


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    pwm: PwmSettings = field(default_factory=PwmSettings)
    loop: LoopSettings = field(default_factory=LoopSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    link: LinkSettings = field(default_factory=LinkSettings)
    battery: BatterySettings = field(default_factory=BatterySettings)
    model: ModelSettings = field(default_factory=ModelSettings)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def calibration_path(self) -> Path:
        return self.data_dir / "calibration.json"

    @property
    def runtime_state_path(self) -> Path:
        return self.data_dir / "settings.json"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def secret_path(self) -> Path:
        return self.data_dir / "secret"

    @property
    def password_path(self) -> Path:
        return self.data_dir / "password"

    @property
    def drive_socket_path(self) -> Path:
        return Path(self.link.socket) if self.link.socket else self.data_dir / "drive.sock"

    @property
    def prepared_models_dir(self) -> Path:
        """Models named on the command line, prepared (vehicle.model.prepare), keyed by the
        checksum of the original."""
        return self.data_dir / "prepared"

    @property
    def uploads_dir(self) -> Path:
        """Uploads land here (on the data disk, beside the models), never in /tmp."""
        return self.data_dir / "uploads"


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` as a field declared ``hint`` wants it: an int widens to float, a string
    becomes a Path. TOML has no null: a key whose default is None is set or left out."""
    options = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is bool and isinstance(value, bool):
            return value
        if isinstance(value, bool):
            continue  # true/false is no number
        if option is int and isinstance(value, int):
            return value
        if option is float and isinstance(value, int | float):
            return float(value)
        if option in (str, Path) and isinstance(value, str):
            return option(value)
    wanted = " or ".join(o.__name__ for o in options if o is not type(None))
    raise ConfigError(f"{where}: expected {wanted}, got {value!r}")


def _merge(obj: Any, values: dict[str, Any], where: str) -> Any:
    """Return ``obj`` with the fields named in ``values`` replaced, type-checked."""
    hints = get_type_hints(type(obj))
    known = {f.name for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        current = getattr(obj, key)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a table")
            changes[key] = _merge(current, value, f"{where}.{key}")
        else:
            changes[key] = _typed(hints[key], value, f"{where}.{key}")
    return replace(obj, **changes)


def load_settings(config_file: Path | None = None, data_dir: Path | None = None) -> Settings:
    """Defaults, then the TOML file, then ``VEHICLE_DATA_DIR``, then an explicit directory."""
    settings = Settings()
    if config_file is not None:
        import tomllib  # only with --config: every command starts without it

        try:
            values = tomllib.loads(Path(config_file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {config_file}: {exc}") from exc
        settings = _merge(settings, values, "config")
    data_dir = data_dir if data_dir is not None else _env_data_dir()
    if data_dir is not None:
        settings = replace(settings, data_dir=Path(data_dir))
    if settings.pwm.backend not in PWM_BACKENDS:
        raise ConfigError(f"pwm.backend must be one of {', '.join(PWM_BACKENDS)}")
    if settings.model.engine not in ENGINE_CHOICES:
        raise ConfigError(f"model.engine must be one of {', '.join(ENGINE_CHOICES)}")
    if settings.model.precision not in PRECISIONS:
        raise ConfigError(f"model.precision must be one of {', '.join(PRECISIONS)}")
    if settings.battery.source not in BATTERY_SOURCES:
        raise ConfigError(f"battery.source must be one of {', '.join(BATTERY_SOURCES)}")
    return settings
