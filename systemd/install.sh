#!/usr/bin/env bash
# Install the vehicle services: system user and groups, the two units (vehicle.service, the
# drive process; vehicle-console.service, the web console), the udev rules for PWM/GPIO/I2C
# access, the site defaults file; then enable both. Idempotent: run it again after
# an upgrade. It does not start the service (a reboot or `systemctl start vehicle` does).
#
#   systemd/install.sh [--bin PATH] [--prefix DIR] [--no-enable] [--dry-run]
#
# --bin PATH    the installed `vehicle` command (default: the one on PATH)
# --prefix DIR  install the files under DIR instead of / (an image being built, tests); the
#               running system is left alone: no accounts, no udev or systemd reload, and the
#               service is enabled offline (systemctl --root)
# --no-enable   install only
# --dry-run     print what would be done and change nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UNITS="vehicle.service vehicle-console.service"
prefix=""
bin=""
enable=1
dry_run=0

usage() {
    sed -n '7,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --bin) [ $# -ge 2 ] || usage; bin="$2"; shift 2 ;;
        --prefix) [ $# -ge 2 ] || usage; prefix="${2%/}"; shift 2 ;;
        --no-enable) enable=0; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage ;;
        *) echo "install.sh: unknown option $1" >&2; usage ;;
    esac
done

fail() {
    echo "install.sh: $*" >&2
    exit 1
}

if [ -z "$bin" ]; then
    bin="$(command -v vehicle || true)"
    [ -n "$bin" ] || fail "no vehicle command on PATH; install the package first or pass --bin"
fi
case "$bin" in
    /*) ;;
    *) fail "--bin must be an absolute path, got $bin" ;;
esac
[ -x "$prefix$bin" ] || [ -x "$bin" ] || fail "$bin is not an executable file"
[ -z "$prefix" ] || [ -d "$prefix" ] || fail "--prefix $prefix is not a directory"
if [ -z "$prefix" ] && [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
    fail "must run as root (or use --prefix DIR / --dry-run)"
fi

run() {
    echo "+ $*"
    if [ "$dry_run" = 0 ]; then "$@"; fi
}

# A file from this folder to its place, only when the content differs (idempotent, quiet).
place() {
    local source="$1" target="$prefix$2" mode="$3"
    if [ -f "$target" ] && cmp -s "$source" "$target"; then
        echo "= $2 (unchanged)"
        return
    fi
    run install -D -m "$mode" "$source" "$target"
}

units="$(mktemp -d)"
trap 'rm -rf "$units"' EXIT
for name in $UNITS; do
    sed "s#/usr/local/bin/vehicle#$bin#g" "$here/$name" > "$units/$name"
done

if [ -z "$prefix" ]; then
    for group in vehicle video gpio i2c; do
        getent group "$group" > /dev/null || run groupadd --system "$group"
    done
    if ! id -u vehicle > /dev/null 2>&1; then
        run useradd --system --gid vehicle --home-dir /var/lib/vehicle --no-create-home \
            --shell /usr/sbin/nologin --comment "vehicle service" vehicle
    fi
else
    echo "- accounts: left alone under --prefix (the unit needs user vehicle, groups video gpio i2c)"
fi

for name in $UNITS; do
    place "$units/$name" "/etc/systemd/system/$name" 0644
done
place "$here/99-vehicle-pwm.rules" /etc/udev/rules.d/99-vehicle-pwm.rules 0644
if [ -e "$prefix/etc/default/vehicle" ]; then
    echo "= /etc/default/vehicle (kept: site settings are never overwritten)"
else
    run install -D -m 0644 "$here/vehicle.default" "$prefix/etc/default/vehicle"
fi

if [ -z "$prefix" ]; then
    run udevadm control --reload-rules
    run udevadm trigger --action=add --subsystem-match=pwm --subsystem-match=gpio \
        --subsystem-match=i2c-dev
    run systemctl daemon-reload
    # shellcheck disable=SC2086  # two unit names
    if [ "$enable" = 1 ]; then run systemctl enable $UNITS; fi
elif [ "$enable" = 1 ]; then
    # shellcheck disable=SC2086
    run systemctl --root="$prefix" enable $UNITS
fi
echo "done"
