#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, before anything else runs.
# Called by `make test` and by .ci/run. Quick when everything is present (it only
# looks for binaries); otherwise one `apt-get update` and one `apt-get install`, as
# root or through sudo. Without either it stops at once and names what to install.
#
# To add a package: one `need` line below, with a check that is true once it is installed.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

# Debian keeps PostgreSQL's server binaries off PATH, in /usr/lib/postgresql/<version>/bin;
# the tests look there too.
have_postgresql() {
    have initdb && have postgres && return 0
    local bin
    for bin in /usr/lib/postgresql/*/bin; do
        [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ] && return 0
    done
    return 1
}

# need PACKAGE CHECK...: PACKAGE is missing unless the CHECK command succeeds.
need() {
    local package=$1
    shift
    "$@" || missing+=("$package")
}

# The packages, one line each. Fills `missing`.
check() {
    missing=()
    need git have git
    # Debian's system Python needs python3-venv for `python3 -m venv` (make creates .venv).
    need python3-venv python3 -c "import ensurepip, venv"
    # The metrics tests run a real Prometheus and promtool.
    need prometheus eval 'have prometheus && have promtool'
    # The fleet console's store is tested against a real PostgreSQL server.
    need postgresql have_postgresql
    # The fleet's NATS ingest is tested against a real nats-server (with JetStream).
    need nats-server have nats-server
    # Pull mode's DNS discovery (SRV, A/AAAA) is tested against a real dnsmasq; the
    # -base package is the binary alone, without a system service.
    need dnsmasq-base eval 'have dnsmasq || [ -x /usr/sbin/dnsmasq ]'
    # The fleet dashboard's browser tests drive Debian's Chromium through chromedriver.
    need chromium eval 'have chromium || have chromium-browser'
    need chromium-driver have chromedriver
}

check
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system-deps: the tests need these Debian packages: ${missing[*]}" >&2
if ! have apt-get; then
    echo "system-deps: no apt-get here; install the equivalents of: ${missing[*]}" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif have sudo && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "system-deps: cannot install them (not root, and no password-less sudo)." >&2
    echo "system-deps: install them first, then run make test again:" >&2
    echo "    sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Install without starting the packages' services (prometheus and postgresql ship one):
# the tests start their own servers on free ports with their own data.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Installed is not enough: the tests find the binaries on PATH (or in Debian's places).
before=("${missing[@]}")
check
if [ ${#missing[@]} -gt 0 ]; then
    echo "system-deps: installed ${before[*]}, but still not found: ${missing[*]} (check PATH)" >&2
    exit 1
fi
echo "system-deps: installed ${before[*]}" >&2
