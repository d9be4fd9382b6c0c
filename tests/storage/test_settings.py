"""Settings the car keeps: the typed configuration's battery and tail-light entries, and the
operator's saved tail-light colour (checked as it loads, defaults when it is bad)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vehicle.config import ConfigError, load_settings
from vehicle.runtime_state import RuntimeState, load_runtime_state, save_runtime_state


def test_battery_and_light_are_configured_in_the_one_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "car.toml"
    config.write_text(
        '[battery]\nsource = "i2c"\ni2c_bus = 3\npoll_interval_s = 2\n'
        "[pwm]\nled_red_channel = 5\nled_green_channel = 6\nled_blue_channel = 7\n"
    )
    settings = load_settings(config)
    assert (settings.battery.source, settings.battery.i2c_bus) == ("i2c", 3)
    assert settings.battery.poll_interval_s == 2.0
    assert settings.pwm.led_channels == (5, 6, 7)


@pytest.mark.parametrize(
    "text, reason",
    [
        ('[battery]\nsource = "solar"\n', "battery.source"),
        ('[battery]\ni2c_bus = "7"\n', "i2c_bus"),
        ("[battery]\nvoltage = 7.4\n", "unknown setting"),
    ],
)
def test_bad_battery_settings_are_refused(tmp_path: Path, text: str, reason: str) -> None:
    config = tmp_path / "car.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        load_settings(config)


def test_the_light_colour_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_runtime_state(path, RuntimeState(led=(255, 0, 64)))
    assert json.loads(path.read_text())["led"] == [255, 0, 64]
    assert load_runtime_state(path).led == (255, 0, 64)
    assert RuntimeState().led is None  # never set: the light is left alone


@pytest.mark.parametrize("led", [[256, 0, 0], [1, 2], "red", [1.5, 0, 0]])
def test_a_bad_saved_colour_falls_back_to_defaults(tmp_path: Path, led) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"throttle_limit": 0.3, "led": led}))
    assert load_runtime_state(path) == RuntimeState()
