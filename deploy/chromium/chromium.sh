#!/usr/bin/env bash
# Headless Chromium from Debian's `chromium` package, for the browser tests (driven by
# Playwright, pointed at this executable: never `playwright install`). Installs the
# package when it is missing (as root), as deploy/postgres/postgres.sh does PostgreSQL.
#
#   deploy/chromium/chromium.sh ensure   install (once, as root) and print the executable's path
#   deploy/chromium/chromium.sh path     print the executable's path; fail when it is missing
#
# Environment: CHROMIUM (the executable; default /usr/bin/chromium, Debian's).
set -euo pipefail

exe="${CHROMIUM:-/usr/bin/chromium}"

works() { [ -x "$exe" ] && "$exe" --version >/dev/null 2>&1; }

ensure() {
  if ! works; then
    if [ "$(id -u)" != 0 ]; then
      echo "chromium.sh: Chromium is not installed; run: sudo apt-get install -y chromium" >&2; exit 1
    fi
    echo "chromium.sh: installing Debian's chromium package" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    works || { echo "chromium.sh: $exe does not run after installing chromium" >&2; exit 1; }
  fi
  echo "chromium.sh: $("$exe" --version 2>/dev/null)" >&2
  echo "$exe"
}

path() {
  works || { echo "chromium.sh: no Chromium at $exe; run: deploy/chromium/chromium.sh ensure" >&2; exit 1; }
  echo "$exe"
}

case "${1:-}" in
  ensure) ensure ;;
  path) path ;;
  *) echo "usage: $0 ensure|path" >&2; exit 2 ;;
esac
