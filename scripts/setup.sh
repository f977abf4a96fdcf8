#!/bin/sh
# Installs what `make`, `make test` and `make demo` need on a Debian machine, and nothing that is
# already there. Run as root (or with sudo available). Idempotent: a second run does nothing.
set -eu

need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in cmake make gcc pkg-config zlib1g-dev libopenblas-dev libcriterion-dev; do
    have "$pkg" || need="$need $pkg"
done

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
if [ -n "$need" ]; then
    echo "setup: installing$need" >&2
    $SUDO apt-get update -qq
    updated=1
    $SUDO apt-get install -y -qq --no-install-recommends $need >&2
fi

# Optional: Debian's headless-capable Chromium, for the dashboard's browser tests (tests/test_dashboard.c
# skips them without it). A failure never fails the set-up, and is not retried while the marker exists
# (remove it to try again).
marker="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/deepmotif/chromium-install-failed"
if ! have chromium && [ ! -e "$marker" ]; then
    echo "setup: installing chromium (optional, for the dashboard's browser tests)" >&2
    if { [ -n "$updated" ] || $SUDO apt-get update -qq; } &&
        $SUDO apt-get install -y -qq --no-install-recommends chromium >&2; then
        :
    else
        echo "setup: chromium could not be installed; the browser tests will be skipped" >&2
        { mkdir -p "$(dirname "$marker")" && : > "$marker"; } 2>/dev/null || true
    fi
fi
exit 0
