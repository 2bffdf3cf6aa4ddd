#!/usr/bin/env bash
# Makes sure a headless-capable Chromium is installed: the browser test of the HTML reports
# (tests/pages) opens them in it. Idempotent: when a browser is present, says which and stops.
# Installs Debian's `chromium` package with apt-get (as root, or through sudo) otherwise.
# CHROMIUM=/path/to/chrome names another browser (tests/pages reads the same variable).
set -euo pipefail

for candidate in "${CHROMIUM:-}" chromium chromium-browser google-chrome google-chrome-stable; do
  [[ -n "$candidate" ]] || continue
  if found="$(command -v "$candidate" 2>/dev/null)"; then
    echo "ensure-chromium: found $found"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no Chromium found and no apt-get here: install Chromium or Chrome, or set CHROMIUM=/path/to/it" >&2
  exit 1
fi
as_root=()
if [[ "$(id -u)" != 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-chromium: no Chromium found; installing it needs root: run 'sudo apt-get install chromium'" >&2
    exit 1
  fi
  as_root=(sudo -n)
fi

log="$(mktemp "${TMPDIR:-/tmp}/ensure-chromium.XXXXXX.log")"
# A fresh machine (a CI container) has empty package lists: read them once, only when needed.
if ! apt-cache show chromium >/dev/null 2>&1; then
  "${as_root[@]}" apt-get update -qq >"$log" 2>&1 || true
fi
if ! DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >>"$log" 2>&1; then
  echo "ensure-chromium: 'apt-get install chromium' failed (Ubuntu ships it only as a snap: install Chrome, or set CHROMIUM=/path/to/it); see $log" >&2
  exit 1
fi
rm -f "$log"
echo "ensure-chromium: installed $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"
