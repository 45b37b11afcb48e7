#!/usr/bin/env bash
# One entry point for people, the scheduled job and CI.
#   bash scripts/bootstrap.sh build   # venv + packages + CJK fonts, then DB, notebooks, site, briefs
#   bash scripts/bootstrap.sh test    # venv + packages + test tools (fonts, chromium, poppler), then pytest
#   bash scripts/bootstrap.sh setup   # only the set-up part
# Extra arguments after the verb go to `vqr build` or pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
verb="${1:-build}"; shift || true

PY="${PYTHON:-python3}"
VENV=".venv"

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

apt_install() {
  # Install Debian packages that are missing; say so clearly when we cannot.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    log "cannot install ${missing[*]}: no apt-get here; install them by hand"; return 0
  fi
  log "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || log "could not install ${missing[*]} (not root?); features needing them will fail or be skipped"
}

setup_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PY" -m venv "$VENV"
  fi
  # Re-install only when pyproject.toml changed (stamp keyed on its hash).
  local stamp="$VENV/.vqr-installed" want
  want="$(sha256sum pyproject.toml | cut -c1-64)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing Python packages"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]"
    echo "$want" > "$stamp"
  fi
}

setup_fonts() {
  if ! fc-list :lang=zh 2>/dev/null | grep -q . ; then
    apt_install fontconfig fonts-noto-cjk
  fi
}

case "$verb" in
  setup)
    setup_python; setup_fonts ;;
  build)
    setup_python; setup_fonts
    exec "$VENV/bin/vqr" build "$@" ;;
  test)
    setup_python; setup_fonts
    apt_install poppler-utils chromium
    set +e
    "$VENV/bin/python" -m pytest "$@"
    rc=$?
    set -e
    if [ "$rc" = 5 ]; then log "pytest collected no tests: that is a failure here"; exit 1; fi
    exit "$rc" ;;
  *)
    echo "usage: bash scripts/bootstrap.sh {build|test|setup} [args...]" >&2; exit 2 ;;
esac
