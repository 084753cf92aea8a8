#!/usr/bin/env bash
# The html report test opens the page in headless Chromium from Debian's packages.
# `make test` runs this first; it installs Chromium when it is missing and we may use apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: Chromium is missing and apt-get needs root here; the html browser test will fail." >&2
    echo "install-chromium: install it with: sudo apt-get install chromium" >&2
    exit 0
fi
echo "install-chromium: installing Debian's chromium for the html report test"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
