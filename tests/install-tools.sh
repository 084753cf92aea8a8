#!/usr/bin/env bash
# The tools tests drive, from Debian's packages: headless Chromium (the html report test opens
# the page in it), tmux (the `report --watch` test reads its pane), pdflatex with booktabs (the
# `report --format latex` test compiles its table; texlive-latex-base and -recommended, about 150 MB,
# 1.5 min to install here) and a one-node Slurm cluster (tests/slurm-cluster.sh: slurm-wlm and
# munge, for tests/test_slurm.py). `make test` runs this first; it installs what is missing when we
# may use apt-get.
set -euo pipefail
here="$(dirname "$0")"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v pdflatex >/dev/null 2>&1 || missing+=(texlive-latex-base)
{ command -v kpsewhich >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1; } || missing+=(texlive-latex-recommended)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install-tools: ${missing[*]} missing and apt-get needs root here; their tests will fail." >&2
        echo "install-tools: install them with: sudo apt-get install ${missing[*]}" >&2
    else
        echo "install-tools: installing Debian's ${missing[*]} for the html report, --watch and latex tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi
# the Slurm tests skip, naming the reason, where this cannot install or start the cluster
"$here/slurm-cluster.sh" || echo "install-tools: no local Slurm cluster; tests/test_slurm.py will be skipped" >&2
