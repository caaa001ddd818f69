#!/usr/bin/env bash
# install-deps.sh -- install, with apt-get, the Debian 12 packages that
# building, running and testing ttt-server need, and only the missing ones.
#
#   deploy/install-deps.sh          build + run (compiler, libraries)
#   deploy/install-deps.sh --cluster  also nginx, for `make cluster`
#   deploy/install-deps.sh --test   also what `make test` needs (redis-server,
#                                   nginx, Chromium, Firefox ESR, Node.js with npm
#                                   and the end-to-end tests' npm packages, clang
#                                   and its sanitizer/libFuzzer runtimes)
#   deploy/install-deps.sh --bench  --test's, and perf, for `make bench`
#
# Runs apt-get directly as root, through sudo otherwise. Prints nothing but a
# one-line summary when everything is already there.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libwebsockets-dev libjansson-dev
            libuv1-dev libhiredis-dev libssl-dev uthash-dev)
run_pkgs=(redis-server)
# The browsers are Debian's own; puppeteer-core (tests/e2e/package.json) drives Chromium over
# CDP and Firefox ESR over WebDriver BiDi, with no driver binary and no browser download.
test_pkgs=(libcriterion-dev redis-server nginx-light chromium firefox-esr nodejs
           curl procps clang libclang-rt-14-dev)

cluster_pkgs=(nginx-light)
bench_pkgs=(linux-perf)

want=("${build_pkgs[@]}" "${run_pkgs[@]}")
case "${1:-}" in
    --test) want+=("${test_pkgs[@]}") ;;
    --bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
    --cluster) want+=("${cluster_pkgs[@]}") ;;
    "") ;;
    *) echo "usage: $0 [--test|--cluster|--bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    # dpkg-query prints "install ok installed" only for a fully installed package
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done
# npm: a Node.js that bundles it (as some distributions of nodejs do) must not get Debian's.
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null; then
    missing+=(npm)
fi
# dedupe while keeping order
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk 'NF && !seen[$0]++')

# The end-to-end tests' npm packages, pinned by tests/e2e/package-lock.json; npm ci again only
# when the lock file is newer than what is installed.
e2e_npm() {
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
    if [ -f "$dir/node_modules/.package-lock.json" ] &&
       [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
        return 0
    fi
    echo "install-deps: npm ci in tests/e2e"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#want[@]} packages present"
    if [ "${1:-}" = "--test" ]; then e2e_npm; fi
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# with recommends: that is how the headless Chromium tests were verified
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
if [ "${1:-}" = "--test" ]; then e2e_npm; fi
echo "install-deps: done"
