#!/usr/bin/env bash
# The two set-up commands of the README, for a fresh clone:
#
#   bash deploy/dev.sh demo     # install, then run a demo compound on SQLite and serve it
#   bash deploy/dev.sh test     # install, then lint, type-check, import contracts and tests
#
# Installs system packages (Debian) if missing, a virtual environment in .venv and the
# project in editable mode. Safe to run again: each step is skipped when already done.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="$here/.venv"
python="${PYTHON:-python3}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_system_packages() {
  # libzbar0: pyzbar's fallback decoder; fonts-wqy-microhei: Chinese text on cards and
  # the gate screen; poppler-utils: tests rasterise printed card sheets to decode them;
  # gcc: the power-cut harness builds a small fsync shim; faketime: a scanner with its
  # clock set back (tests/faults/test_clock_skew.py); chromium: browser tests
  # (driven by Playwright with executable_path=/usr/bin/chromium: its own download cannot
  # be fetched here); nodejs: the JavaScript decider's corpus test (tests/js/).
  # The scanner's full-screen window is Tk (scanner/window.py): libtk8.6 for a Python built
  # with Tk, python3-tk when Debian's own python3 lacks tkinter. xvfb and xdotool: the
  # window tests run the scanner on a virtual screen and type into it (tests/scanner/).
  local wanted=(libzbar0 fonts-wqy-microhei libtk8.6)
  "$python" -c "import tkinter" 2>/dev/null || wanted+=(python3-tk)
  if [[ "${1:-}" == "test" ]]; then
    wanted+=(poppler-utils gcc chromium chromium-driver faketime nodejs xvfb xdotool)
  fi
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null; then
      log "missing system packages ${missing[*]} and no apt-get: install them by hand"
      return 0
    fi
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    log "installing system packages: ${missing[*]}"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_python() {
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating virtual environment in .venv"
    "$python" -m venv "$venv"
  fi
  local stamp="$venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-$1"
  if [[ ! -f "$stamp" ]]; then
    log "installing checkpoint and its dependencies"
    "$venv/bin/python" -m pip install -q --upgrade pip
    if [[ "$1" == "test" ]]; then
      "$venv/bin/python" -m pip install -q -e ".[test]"
    else
      "$venv/bin/python" -m pip install -q -e .
    fi
    touch "$stamp"
  fi
}

run_tests() {
  export PATH="$venv/bin:$PATH"
  log "ruff (lint and format)"
  ruff check .
  ruff format --check .
  log "mypy (strict on passes and scanner)"
  mypy passes scanner gate
  log "import contracts"
  lint-imports
  # In parallel (pytest-xdist): one worker per core; tests that must not run beside each other
  # share an xdist_group (tests/conftest.py) and run one after another on one worker. The
  # caller's own -n or --dist wins (-n 0: one process, e.g. for pdb or -s); -p no:xdist turns
  # both off.
  local workers=(-n auto) dist=(--dist loadgroup) arg
  for arg in "$@"; do
    case "$arg" in
      -n | -n?* | --numprocesses | --numprocesses=*) workers=() ;;
      --dist | --dist=*) dist=() ;;
      no:xdist | -pno:xdist) workers=() dist=() ;;
    esac
  done
  local parallel=("${workers[@]}" "${dist[@]}")
  log "pytest ${parallel[*]}"
  set +e
  python -m pytest "${parallel[@]}" "$@"
  local status=$?
  set -e
  if [[ $status -eq 5 ]]; then
    log "pytest collected no tests: that is a failure"
    exit 1
  fi
  exit $status
}

case "${1:-}" in
  demo)
    shift
    install_system_packages demo
    install_python demo
    exec "$venv/bin/checkpoint" demo "$@"
    ;;
  test)
    shift
    install_system_packages test
    install_python test
    run_tests "$@"
    ;;
  *)
    echo "usage: bash deploy/dev.sh demo|test [args...]" >&2
    exit 2
    ;;
esac
