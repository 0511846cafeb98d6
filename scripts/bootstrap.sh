#!/usr/bin/env bash
# Set up everything Timbre needs, once: the system libraries Qt loads (when root and
# missing) and a virtual environment in .venv with the project installed in it.
# Sourced by ./timbre and ./run-tests; idempotent, and serialised with a lock so two
# callers never install at the same time.
#   TIMBRE_SYSTEM_PACKAGES: extra Debian packages the caller needs (tests: ffmpeg, ...)
#   TIMBRE_EXTRAS: pip extras to install (tests: "test")
set -euo pipefail

TIMBRE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TIMBRE_VENV:-$TIMBRE_ROOT/.venv}"
PYTHON="${TIMBRE_PYTHON:-python3}"

# What Qt's wheels dlopen on a bare Debian/Ubuntu (xcb-cursor for a real X11 window).
QT_SYSTEM_PACKAGES="libgl1 libegl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libglib2.0-0
libdbus-1-3 libpulse0 libxrandr2 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0"

say() { printf 'timbre-setup: %s\n' "$*" >&2; }

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || printf '%s\n' "$pkg"
    done
}

install_system_packages() {
    command -v dpkg-query >/dev/null 2>&1 || return 0  # not Debian: the user knows best
    # shellcheck disable=SC2086
    local wanted missing
    wanted="$QT_SYSTEM_PACKAGES ${TIMBRE_SYSTEM_PACKAGES:-}"
    # python3-venv is split out on Debian; only needed when the venv cannot be made.
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then wanted="$wanted python3-venv"; fi
    # shellcheck disable=SC2086
    missing="$(missing_packages $wanted | tr '\n' ' ')"
    [ -n "${missing// /}" ] || return 0
    if [ "$(id -u)" -ne 0 ]; then
        say "missing system packages: $missing"
        say "install them with: sudo apt-get install -y $missing"
        return 0
    fi
    say "installing system packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1
        apt-get install -y -q --no-install-recommends $missing >/dev/null
    }
}

install_venv() {
    # The stamp records the pyproject it installed and its extras. A venv whose extras
    # include the requested ones is up to date (the tests' venv serves the player too);
    # otherwise install the union, so callers with different extras never flip-flop.
    local stamp project have want extra all
    stamp="$VENV/.timbre-installed"
    project="$(sha256sum "$TIMBRE_ROOT/pyproject.toml" | cut -d' ' -f1)"
    have="$(sed -n 's/^extras=//p' "$stamp" 2>/dev/null || true)"
    want="${TIMBRE_EXTRAS:-}"
    all="$have"
    for extra in ${want//,/ }; do
        case ",$all," in *",$extra,"*) ;; *) all="${all:+$all,}$extra" ;; esac
    done
    if [ -x "$VENV/bin/python" ] && grep -qx "pyproject=$project" "$stamp" 2>/dev/null \
        && [ "$all" = "$have" ]; then
        return 0
    fi
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
    say "installing Timbre and its dependencies into $VENV (first run only)"
    local spec="$TIMBRE_ROOT"
    [ -z "$all" ] || spec="$TIMBRE_ROOT[$all]"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"
    printf 'pyproject=%s\nextras=%s\n' "$project" "$all" > "$stamp"
}

mkdir -p "$VENV"
exec 9>"$VENV/.timbre-setup.lock"
flock 9
install_system_packages
install_venv
flock -u 9
