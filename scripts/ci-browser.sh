#!/usr/bin/env bash
# CI step for the HTML view (called by .ci/run): the committed viewer bundle equals a fresh
# esbuild build, the viewer's unit tests pass under node, and the view works in headless
# Chromium (WebGL on SwiftShader): scripts/check-browser.py (files from the render crate's
# example, the served viewer's stand-in), then scripts/check-browser-tmap.py (RENDER ... TO
# '.html' by the real `tmap`, and `tmap serve`'s /view). About 3 minutes on 2 cores once
# Chromium is installed and tmap built (apt: ~1 minute more on a fresh machine).
#
#   scripts/ci-browser.sh            from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
command -v npm >/dev/null || { echo "npm is required (node 18 or newer)" >&2; exit 1; }

echo "-- viewer bundle: npm ci, the committed bundle is a fresh build, unit tests"
(
  cd render/viewer
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent check
  npm test --silent 2>&1 | tail -n 9
)

echo "-- headless Chromium"
python3 -m venv target/browser-venv
target/browser-venv/bin/pip install --quiet 'selenium==4.27.1' 'pillow==11.0.0'
cargo build --locked -p tensormap-render --examples
target/browser-venv/bin/python scripts/check-browser.py \
  --example target/debug/examples/html_view \
  --server target/debug/examples/view_server
# RENDER ... TO '.html' written by the real `tmap`, and `tmap serve`'s /view pages
# (`cargo test` built target/debug/tmap; build it only if not).
test -x target/debug/tmap || cargo build --locked -p tensormap-cli
target/browser-venv/bin/python scripts/check-browser-tmap.py --tmap target/debug/tmap
