"""The car's network as DeepRacer's console shows it: Wi-Fi name, addresses, USB link.

Read only, and without netlink (the console's sandbox allows AF_INET, AF_INET6 and AF_UNIX):
interfaces from /sys/class/net, IPv4 addresses by the SIOCGIFADDR ioctl, IPv6 from
/proc/net/if_inet6, the Wi-Fi name by the wireless-extensions ioctl, or from ``iw`` when the
ioctl gives nothing and ``iw`` is installed. Interface names come from /sys, never from a
request.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import re
import shutil
import socket
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SYS_NET = Path("/sys/class/net")
PROC_INET6 = Path("/proc/net/if_inet6")
USB_INTERFACES = ("usb0",)  # DeepRacer's USB gadget link to a laptop
HIDDEN_ADDRESSES = ("10.0.0.1", "10.0.1.1")  # the car's own end of the USB link (as DeepRacer)
SIOCGIFADDR = 0x8915
SIOCGIWESSID = 0x8B1B
IFNAMSIZ = 16
ESSID_MAX = 32
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
IW_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Interface:
    name: str
    wireless: bool
    up: bool  # operstate up and carrier present


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def interfaces(sys_net: Path = SYS_NET) -> list[Interface]:
    found = []
    try:
        entries = sorted(sys_net.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not NAME_PATTERN.fullmatch(entry.name):
            continue
        wireless = (entry / "wireless").is_dir() or (entry / "phy80211").exists()
        up = _read(entry / "operstate") == "up" and _read(entry / "carrier") == "1"
        found.append(Interface(entry.name, wireless, up))
    return found


def ioctl_ipv4(name: str) -> str | None:
    """The interface's IPv4 address (SIOCGIFADDR), None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", name.encode()[: IFNAMSIZ - 1])
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def ipv6_addresses(proc_inet6: Path = PROC_INET6) -> dict[str, list[str]]:
    """Global-scope IPv6 addresses per interface."""
    found: dict[str, list[str]] = {}
    for line in _read(proc_inet6).splitlines():
        fields = line.split()
        if len(fields) != 6 or fields[3] != "00":
            continue
        with contextlib.suppress(ValueError):
            address = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
            found.setdefault(fields[5], []).append(str(address))
    return found


def ioctl_essid(name: str) -> str:
    """The Wi-Fi network name through wireless extensions; "" when not associated."""
    buffer = ctypes.create_string_buffer(ESSID_MAX + 1)
    request = struct.pack(
        f"{IFNAMSIZ}sPHH", name.encode()[: IFNAMSIZ - 1], ctypes.addressof(buffer), ESSID_MAX, 0
    ).ljust(32, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIWESSID, request)
        except OSError:
            return ""
    offset = IFNAMSIZ + struct.calcsize("P")
    length = struct.unpack_from("H", answer, offset)[0]
    return buffer.raw[: min(length, ESSID_MAX)].rstrip(b"\0").decode("utf-8", "replace")


def iw_essid(name: str, which: Callable[[str], str | None] = shutil.which) -> str:
    """``iw dev NAME link``'s SSID line, when ``iw`` is installed; "" otherwise."""
    iw = which("iw")
    if iw is None or not NAME_PATTERN.fullmatch(name):
        return ""
    try:
        done = subprocess.run(
            [iw, "dev", name, "link"], capture_output=True, text=True, timeout=IW_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r"^\s*SSID:\s*(.+?)\s*$", done.stdout, re.MULTILINE)
    return match.group(1) if match else ""


@dataclass
class NetworkReader:
    """Everything read through replaceable functions, so a test can fake each source."""

    sys_net: Path = SYS_NET
    proc_inet6: Path = PROC_INET6
    ipv4: Callable[[str], str | None] = ioctl_ipv4
    essids: tuple[Callable[[str], str], ...] = (ioctl_essid, iw_essid)

    def ssid(self) -> str:
        for interface in interfaces(self.sys_net):
            if interface.wireless and interface.up:
                for essid in self.essids:
                    name = essid(interface.name)
                    if name:
                        return name
        return ""

    def addresses(self) -> list[str]:
        """Addresses a laptop could reach the car on (as ``hostname -I``, less the USB end)."""
        v6 = ipv6_addresses(self.proc_inet6)
        found: list[str] = []
        for interface in interfaces(self.sys_net):
            if interface.name == "lo":
                continue
            v4 = self.ipv4(interface.name)
            found += [v4] if v4 else []
            found += v6.get(interface.name, [])
        return [a for a in found if a not in HIDDEN_ADDRESSES]

    def usb_connected(self) -> bool:
        return any(i.up for i in interfaces(self.sys_net) if i.name in USB_INTERFACES)

    def details(self) -> dict[str, object]:
        """DeepRacer's ``get_network_details`` fields."""
        return {
            "SSID": self.ssid(),
            "ip_address": ", ".join(self.addresses()),
            "is_usb_connected": self.usb_connected(),
        }
