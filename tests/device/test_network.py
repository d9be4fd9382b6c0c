"""Network details from a fake /sys/class/net and /proc/net/if_inet6, with the ioctls and
``iw`` replaced: what DeepRacer's console shows (Wi-Fi name, addresses, the USB link)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vehicle.device.network import (
    NetworkReader,
    interfaces,
    ioctl_essid,
    ioctl_ipv4,
    ipv6_addresses,
    iw_essid,
)

IF_INET6 = """\
20010db8000000000000000000000001 03 40 00 80    wlan0
fe80000000000000020c29fffe123456 03 40 20 80    wlan0
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 02 40 00 80     eth0
"""


def iface(root: Path, name: str, up: bool, wireless: bool = False) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "operstate").write_text("up\n" if up else "down\n")
    (folder / "carrier").write_text("1\n" if up else "0\n")
    if wireless:
        (folder / "wireless").mkdir()


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    net = tmp_path / "sys" / "class" / "net"
    iface(net, "lo", up=False)
    iface(net, "eth0", up=True)
    iface(net, "wlan0", up=True, wireless=True)
    iface(net, "usb0", up=False)
    inet6 = tmp_path / "if_inet6"
    inet6.write_text(IF_INET6)
    return net, inet6


ADDRESSES = {"eth0": "192.168.1.20", "wlan0": "10.1.2.3", "usb0": "10.0.0.1", "lo": "127.0.0.1"}


def reader(tree, essids=(lambda name: "RaceTrack" if name == "wlan0" else "",)) -> NetworkReader:
    net, inet6 = tree
    return NetworkReader(net, inet6, ipv4=ADDRESSES.get, essids=essids)


def test_details_in_the_cars_shape(tree) -> None:
    assert reader(tree).details() == {
        "SSID": "RaceTrack",
        "ip_address": "192.168.1.20, fd00::2, 10.1.2.3, 2001:db8::1",
        "is_usb_connected": False,
    }


def test_the_cars_own_usb_address_and_loopback_are_left_out(tree) -> None:
    net, _ = tree
    (net / "usb0" / "operstate").write_text("up\n")
    (net / "usb0" / "carrier").write_text("1\n")
    network = reader(tree)
    assert network.usb_connected()
    assert "10.0.0.1" not in network.addresses() and "127.0.0.1" not in network.addresses()


def test_only_global_ipv6_addresses(tree) -> None:
    assert ipv6_addresses(tree[1]) == {"wlan0": ["2001:db8::1"], "eth0": ["fd00::2"]}


def test_the_wifi_name_falls_back_to_iw_and_only_for_an_up_wireless_link(tree) -> None:
    asked: list[str] = []

    def nothing(name: str) -> str:
        asked.append(name)
        return ""

    network = reader(tree, essids=(nothing, lambda name: f"via iw {name}"))
    assert network.ssid() == "via iw wlan0"
    assert asked == ["wlan0"]  # eth0 is not wireless; nobody asks about it
    net, _ = tree
    (net / "wlan0" / "operstate").write_text("dormant\n")
    assert reader(tree).ssid() == ""


def test_iw_runs_only_when_installed_and_only_with_names_from_sys(monkeypatch) -> None:
    calls: list[list[str]] = []

    def run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "Connected to aa:bb\n\tSSID: Pit Lane\n", "")

    monkeypatch.setattr(subprocess, "run", run)
    assert iw_essid("wlan0", which=lambda _: None) == ""
    assert iw_essid("wlan0", which=lambda _: "/usr/sbin/iw") == "Pit Lane"
    assert iw_essid("wlan0; reboot", which=lambda _: "/usr/sbin/iw") == ""
    assert calls == [["/usr/sbin/iw", "dev", "wlan0", "link"]]


def test_interfaces_come_only_from_sys(tree, tmp_path: Path) -> None:
    net, _ = tree
    (net / "bad name;").mkdir()
    names = [i.name for i in interfaces(net)]
    assert names == ["eth0", "lo", "usb0", "wlan0"]
    assert interfaces(tmp_path / "nowhere") == []


def test_the_real_ioctls_answer_on_this_machine() -> None:
    """Loopback has 127.0.0.1 everywhere; no Wi-Fi name for an interface that is not Wi-Fi."""
    assert ioctl_ipv4("lo") == "127.0.0.1"
    assert ioctl_ipv4("no-such-if") is None
    assert ioctl_essid("lo") == ""
