"""Kernel PWM through sysfs, against a fake tree that enforces the kernel's rules."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.sysfs import SysfsPwm, find_chip, write_attribute


def open_pwm(fake, **kwargs) -> SysfsPwm:  # type: ignore[no-untyped-def]
    return SysfsPwm(fake.root, write=fake.write, **kwargs)


def test_opening_exports_both_channels_and_sets_the_period_first(sysfs_factory) -> None:
    fake = sysfs_factory()
    pwm = open_pwm(fake)
    assert fake.writes == [
        ("pwmchip0/export", "1"),
        ("pwmchip0/pwm1/period", "20000000"),
        ("pwmchip0/export", "0"),
        ("pwmchip0/pwm0/period", "20000000"),
    ]
    assert pwm.outputs == {"steering": 1, "throttle": 0}
    assert fake.read(0, 0, "enable") == "0"  # nothing is driven before the first pulse


def test_first_pulse_writes_duty_in_ns_then_enables(sysfs_factory) -> None:
    fake = sysfs_factory()
    pwm = open_pwm(fake)
    del fake.writes[:]
    pwm.set_pulse("throttle", 1_500_000)
    pwm.set_pulse("steering", 1_450_000)
    pwm.set_pulse("throttle", 1_446_000)
    assert fake.writes == [
        ("pwmchip0/pwm0/duty_cycle", "1500000"),
        ("pwmchip0/pwm0/enable", "1"),
        ("pwmchip0/pwm1/duty_cycle", "1450000"),
        ("pwmchip0/pwm1/enable", "1"),
        ("pwmchip0/pwm0/duty_cycle", "1446000"),
    ]
    assert [fake.read(0, 0, name) for name in ("period", "duty_cycle", "enable")] == [
        "20000000",
        "1446000",
        "1",
    ]
    assert fake.read(0, 1, "duty_cycle") == "1450000"


def test_channels_exported_by_a_previous_run_are_reused(sysfs_factory) -> None:
    fake = sysfs_factory()
    fake.make_channel(0, 0, period=20_000_000, duty=1_446_000)
    open_pwm(fake)
    assert ("pwmchip0/export", "0") not in fake.writes  # the kernel would say EBUSY
    assert ("pwmchip0/export", "1") in fake.writes


def test_custom_channels_and_period(sysfs_factory) -> None:
    fake = sysfs_factory({0: (4, None)})
    pwm = open_pwm(fake, outputs={"steering": 3, "throttle": 2}, period_ns=10_000_000)
    pwm.set_pulse("steering", 2_000_000)
    assert fake.read(0, 3, "period") == "10000000"
    assert fake.read(0, 3, "duty_cycle") == "2000000"
    assert fake.read(0, 2, "duty_cycle") == "0"


def test_waits_for_udev_to_create_the_exported_channel(sysfs_factory) -> None:
    fake = sysfs_factory(export_lag_s=0.05)
    pwm = open_pwm(fake, export_timeout_s=30.0)
    pwm.set_pulse("throttle", 1_446_000)
    assert fake.read(0, 0, "duty_cycle") == "1446000"


def test_channel_that_never_appears_is_an_error_naming_it(sysfs_factory) -> None:
    fake = sysfs_factory(export_lag_s=None)
    with pytest.raises(PwmError, match=r"pwmchip0/pwm1/duty_cycle did not become writable"):
        open_pwm(fake, export_timeout_s=0.05)


def test_kernel_rejection_names_the_path(sysfs_factory) -> None:
    fake = sysfs_factory()
    # A previous user left a 30 ms pulse in a 50 ms period: a 20 ms period is EINVAL.
    fake.make_channel(0, 1, period=50_000_000, duty=30_000_000)
    with pytest.raises(PwmError, match=r"cannot write 20000000 to .*pwm1/period: Invalid argument"):
        open_pwm(fake)


def test_permission_denied_names_the_path(sysfs_factory) -> None:
    fake = sysfs_factory()
    fake.errors["pwmchip0/export"] = errno.EACCES
    with pytest.raises(PwmError, match=r"cannot write 1 to .*pwmchip0/export: Permission denied"):
        open_pwm(fake)


def test_write_failure_while_driving_is_an_error(sysfs_factory) -> None:
    fake = sysfs_factory()
    pwm = open_pwm(fake)
    fake.errors["pwmchip0/pwm1/duty_cycle"] = errno.EIO
    with pytest.raises(PwmError, match=r"pwm1/duty_cycle: Input/output error"):
        pwm.set_pulse("steering", 1_450_000)
    assert fake.read(0, 1, "enable") == "0"  # not enabled after a failed first duty


def test_channel_beyond_the_chip_is_rejected(sysfs_factory) -> None:
    fake = sysfs_factory({0: (1, None)})
    with pytest.raises(PwmError, match=r"steering output of pwmchip0 must be 0\.\.0, got 1"):
        open_pwm(fake)
    assert fake.writes == []


def test_shared_channel_is_rejected(sysfs_factory) -> None:
    fake = sysfs_factory()
    with pytest.raises(PwmError, match="cannot share"):
        open_pwm(fake, outputs={"steering": 0, "throttle": 0})


def test_only_chip_is_chosen(sysfs_factory) -> None:
    fake = sysfs_factory({3: (2, None)})
    assert find_chip(fake.root) == fake.root / "pwmchip3"


@pytest.mark.parametrize("adapter", ["i2c-0", "i2c-1"])
def test_chip_on_the_i2c_adapter_is_chosen_among_several(sysfs_factory, adapter: str) -> None:
    fake = sysfs_factory({0: (2, None), 2: (16, adapter), 10: (4, None)})
    assert find_chip(fake.root) == fake.root / "pwmchip2"
    pwm = open_pwm(fake)
    assert pwm.chip_dir == fake.root / "pwmchip2"


def test_several_chips_none_on_i2c_is_an_error(sysfs_factory) -> None:
    fake = sysfs_factory({0: (2, None), 1: (2, None)})
    with pytest.raises(PwmError, match=r"pwmchip0, pwmchip1\) and none is on .*--pwm-chip"):
        find_chip(fake.root)


def test_several_chips_on_i2c_is_an_error(sysfs_factory) -> None:
    fake = sysfs_factory({0: (16, "i2c-0"), 1: (16, "i2c-1")})
    with pytest.raises(PwmError, match="several are on"):
        find_chip(fake.root)


def test_explicit_chip_wins_and_must_exist(sysfs_factory) -> None:
    fake = sysfs_factory({0: (2, None), 1: (16, "i2c-1")})
    assert find_chip(fake.root, 0) == fake.root / "pwmchip0"
    with pytest.raises(PwmError, match=r"no PWM chip at .*pwmchip7"):
        find_chip(fake.root, 7)


def test_missing_root_or_no_chips(tmp_path: Path) -> None:
    with pytest.raises(PwmError, match="does not exist"):
        find_chip(tmp_path / "nothing")
    with pytest.raises(PwmError, match=r"no pwmchip\* under"):
        find_chip(tmp_path)


def test_unreadable_channel_count_is_an_error(sysfs_factory) -> None:
    fake = sysfs_factory()
    (fake.root / "pwmchip0" / "npwm").write_text("garbage")
    with pytest.raises(PwmError, match=r"channel count .*npwm"):
        open_pwm(fake)


def test_default_writer_writes_the_value_once(tmp_path: Path) -> None:
    attribute = tmp_path / "duty_cycle"
    attribute.write_text("0\n")
    write_attribute(attribute, "1500000")
    assert attribute.read_text() == "1500000"
    with pytest.raises(FileNotFoundError):
        write_attribute(tmp_path / "absent", "1")  # sysfs attributes are never created
