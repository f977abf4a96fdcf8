#!/bin/sh
# Installs what `make`, `make test` and `make demo` need on a Debian machine, and nothing that is
# already there. Run as root (or with sudo available). Idempotent: a second run does nothing.
set -eu

need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in cmake make gcc pkg-config zlib1g-dev libopenblas-dev libcriterion-dev; do
    have "$pkg" || need="$need $pkg"
done
[ -z "$need" ] && exit 0

echo "setup: installing$need" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $need >&2
