#!/usr/bin/env sh
# Loads an HTML report in Debian's headless Chromium with the network cut
# off, fails on any console message (script errors, CSP refusals, blocked
# requests), and saves a screenshot.
#
# Usage: scripts/check-html.sh [PAGE.html] [SCREENSHOT.png]
#   Without PAGE, runs `roster demo --size small` into a temporary directory
#   and checks its access-review.html.
# Needs: chromium (apt-get install -y chromium). Not part of CI.
set -eu

page=${1:-}
shot=${2:-report.png}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "check-html: chromium not found (apt-get install -y chromium)" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "$page" ]; then
    cargo run --quiet --bin roster -- demo --size small --no-progress --dir "$work/demo" >/dev/null 2>"$work/demo.log" || {
        cat "$work/demo.log" >&2
        exit 1
    }
    page="$work/demo/access-review.html"
fi
[ -f "$page" ] || { echo "check-html: no such file: $page" >&2; exit 2; }
abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")

# --host-resolver-rules: any attempt to reach the network fails loudly.
"$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --no-first-run --no-default-browser-check --user-data-dir="$work/profile" \
    --host-resolver-rules="MAP * ~NOTFOUND" \
    --enable-logging=stderr --v=0 --log-level=0 \
    --window-size=1280,1400 --virtual-time-budget=2000 \
    --screenshot="$shot" "file://$abs" 2>"$work/chromium.log" || {
    cat "$work/chromium.log" >&2
    echo "check-html: chromium failed" >&2
    exit 1
}

if grep -E "CONSOLE|Uncaught|Refused to|ERR_NAME_NOT_RESOLVED|net::ERR" "$work/chromium.log" >"$work/errors.log"; then
    cat "$work/errors.log" >&2
    echo "check-html: console errors in $page" >&2
    exit 1
fi
[ -s "$shot" ] || { echo "check-html: no screenshot written" >&2; exit 1; }
echo "check-html: $page loaded without console errors; screenshot: $shot"
