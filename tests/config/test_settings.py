"""The TOML settings file: typed keys, clear refusals, and which source wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from vehicle.cli import main
from vehicle.config import ConfigError, load_settings


def settings_from(tmp_path: Path, text: str, **kwargs):
    path = tmp_path / "car.toml"
    path.write_text(text)
    return load_settings(path, **kwargs)


def test_values_take_the_declared_types(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("VEHICLE_DATA_DIR", raising=False)
    settings = settings_from(
        tmp_path,
        'data_dir = "state"\n'
        '[pwm]\nsysfs_chip = 2\nmock_state_file = "pwm.json"\ni2c_address = 0x41\n'
        "[loop]\nrate_cap_hz = 10\ninference_bound_s = 0.2\n"
        "[console]\ntls = false\nport = 8444\n",
    )
    assert settings.data_dir == Path("state")
    assert settings.pwm.sysfs_chip == 2 and settings.pwm.i2c_address == 0x41
    assert settings.pwm.mock_state_file == Path("pwm.json")
    assert settings.loop.rate_cap_hz == 10.0 and isinstance(settings.loop.rate_cap_hz, float)
    assert settings.loop.period_s == pytest.approx(0.1)
    assert settings.console.tls is False and settings.console.port == 8444


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[loop]\nrate_cap_hz = 'fast'\n", "config.loop.rate_cap_hz: expected float, got 'fast'"),
        ("[console]\ntls = 'yes'\n", "config.console.tls: expected bool, got 'yes'"),
        ("[console]\nport = true\n", "config.console.port: expected int, got True"),
        ("[pwm]\nsysfs_chip = 1.5\n", "config.pwm.sysfs_chip: expected int, got 1.5"),
        ("[pwm]\nmock_state_file = 3\n", "config.pwm.mock_state_file: expected Path, got 3"),
        ("[pwm]\nchip = 2\n", "config.pwm: unknown setting 'chip'"),
        ("pwm = 'sysfs'\n", "config.pwm: expected a table"),
        ("[pwm]\nbackend = 'servo'\n", "pwm.backend must be one of"),
    ],
)
def test_bad_values_are_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from(tmp_path, text)
    assert message in str(info.value)


def test_a_bad_file_is_one_line_and_exit_1(tmp_path: Path, capsys) -> None:
    config = tmp_path / "car.toml"
    config.write_text("[loop]\nrate_cap_hz = 'fast'\n")
    assert main(["--config", str(config), "--data-dir", str(tmp_path), "calibration", "show"]) == 1
    assert capsys.readouterr().err == (
        "vehicle: config.loop.rate_cap_hz: expected float, got 'fast'\n"
    )


def test_environment_beats_the_file_and_the_option_beats_both(tmp_path, monkeypatch) -> None:
    text = f'data_dir = "{tmp_path / "from-file"}"\n'
    monkeypatch.delenv("VEHICLE_DATA_DIR", raising=False)
    assert settings_from(tmp_path, text).data_dir == tmp_path / "from-file"
    monkeypatch.setenv("VEHICLE_DATA_DIR", str(tmp_path / "from-env"))
    assert settings_from(tmp_path, text).data_dir == tmp_path / "from-env"
    chosen = settings_from(tmp_path, text, data_dir=tmp_path / "from-option").data_dir
    assert chosen == tmp_path / "from-option"
