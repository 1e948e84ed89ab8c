#!/usr/bin/env bash
# The chat demo in a real browser: installs Debian's Chromium and ChromeDriver if missing
# (and says how long that took), builds the chat example with permessage-deflate and HTTP/2,
# and runs tests/browser/chat.py, which drives two headless pages over WebDriver, with every
# compression preset, then tests/browser/chat_https.py: the chat over HTTPS, where Chromium
# must open each page's WebSocket on the page's HTTP/2 connection. The screenshot it
# takes is left in target/browser/demo.png; `--update-screenshot` also copies it to
# docs/demo.png, the picture in the README.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=target/browser
mkdir -p "$work"
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "chromium and chromedriver already installed"
else
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    install_started=$SECONDS
    # Without recommends: those would bring systemd, avahi and printing tools, none of which a
    # headless test needs. fonts-dejavu-core renders the page's text (the image has it).
    if ! { $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            chromium chromium-driver fonts-dejavu-core; } >"$work/apt.log" 2>&1; then
        tail -n 40 "$work/apt.log"
        echo "installing chromium failed" >&2
        exit 1
    fi
    echo "installed chromium and chromium-driver in $((SECONDS - install_started)) s"
fi
chromium --version 2>/dev/null # its launcher script warns on stderr
chromedriver --version

cargo build --release --quiet --features deflate,http2 --example chat
test_started=$SECONDS
# The chat's own preset (balanced) last, so that its screenshot is the one left; each other
# compression preset first, with Chromium as the peer of its codecs.
for preset in default small smallest shared balanced; do
    args=""
    [ "$preset" = balanced ] || args="--deflate-preset $preset"
    echo "--- the chat with the $preset preset"
    if ! CHAT_ARGS="$args" timeout 300 python3 tests/browser/chat.py target/release/examples/chat "$work"; then
        for log in "$work/chat.log" "$work/chromedriver.log"; do
            echo "--- last lines of $log"
            tail -n 30 "$log" || true
        done
        exit 1
    fi
done
# Over HTTPS: the page and its WebSocket on one HTTP/2 connection (RFC 8441).
echo "--- the chat over HTTPS and HTTP/2 (--tls)"
if ! timeout 120 python3 tests/browser/chat_https.py target/release/examples/chat "$work"; then
    for log in "$work/chat-https.log" "$work/chromedriver-https.log"; do
        echo "--- last lines of $log"
        tail -n 30 "$log" || true
    done
    exit 1
fi
echo "browser test took $((SECONDS - test_started)) s"
if [ "${1:-}" = --update-screenshot ]; then
    cp "$work/demo.png" docs/demo.png
    echo "docs/demo.png updated"
fi
