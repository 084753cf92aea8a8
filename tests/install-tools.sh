#!/usr/bin/env bash
# The tools two tests drive, from Debian's packages: headless Chromium (the html report test opens
# the page in it) and tmux (the `report --watch` test reads its pane). `make test` runs this first;
# it installs what is missing when we may use apt-get.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-tools: ${missing[*]} missing and apt-get needs root here; their tests will fail." >&2
    echo "install-tools: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 0
fi
echo "install-tools: installing Debian's ${missing[*]} for the html report and --watch tests"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
