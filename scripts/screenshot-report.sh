#!/usr/bin/env bash
# Renders a results folder's report.html in headless Chromium (Debian `chromium`) and writes
# PNG screenshots (laptop and phone widths) next to it, to look at the figures as a reader
# would. Usage: scripts/screenshot-report.sh results/<run>
set -euo pipefail
dir="$(cd "$1" && pwd)"
command -v chromium >/dev/null || { echo "needs Debian's chromium: apt-get install chromium" >&2; exit 1; }
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
shot() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size="$1" \
    --screenshot="$2" "file://$dir/report.html" >/dev/null 2>&1
}
shot 1100,3800 "$dir/report-laptop.png"
shot 412,3000 "$dir/report-phone.png"
echo "$dir/report-laptop.png $dir/report-phone.png"
