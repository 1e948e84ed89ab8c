"""The chat example over HTTPS and HTTP/2 in a real browser, for scripts/browser_test.sh.

usage: chat_https.py CHAT_BINARY WORK_DIR

Starts the chat with `--tls` (HTTP/2 and HTTP/1.1 over TLS on one port, a certificate made at
start, SETTINGS_ENABLE_CONNECT_PROTOCOL) and headless Chromium, which is told to accept that
certificate. It checks:

- two pages load over HTTPS and connect: subprotocol "chat", permessage-deflate, count 2;
- the server saw every page's WebSocket as an HTTP/2 extended CONNECT (RFC 8441) on the same
  TLS connection that loaded a page, and no WebSocket over HTTP/1.1;
- a message typed in one page appears unchanged in the other;
- a page closing its WebSocket completes the closing handshake over the stream: the server
  logs the page's Close 1000, the page's close event is clean, the other page's count drops.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The plain test's helpers: the browser session, waiting, the page's state.
from chat import ENTER, log, wait_for, wait_state, with_browser  # noqa: E402

REQUEST = re.compile(r"https connection (\d+): (HTTP/[\d.]+) (\w+) (\S+)")


def requests(log_path):
    with open(log_path) as f:
        return [m.groups() for m in REQUEST.finditer(f.read())]


def main():
    binary, work = sys.argv[1], sys.argv[2]
    log_path = f"{work}/chat-https.log"
    log_file = open(log_path, "w")
    server = subprocess.Popen(
        [binary, "127.0.0.1:0", "--tls"], stdout=log_file, stderr=log_file
    )
    pattern = re.compile(r"listening on https://127\.0\.0\.1:(\d+)")

    def listening():
        with open(log_path) as f:
            found = pattern.findall(f.read())
        return found[-1] if found else None

    try:
        port = int(wait_for("the HTTPS chat to listen", listening, timeout=10))
        origin = f"https://127.0.0.1:{port}"
        log(f"HTTPS chat on {origin}")
        # The certificate is made at start, so no store trusts it.
        with_browser(
            work, "chromedriver-https", lambda browser: run_checks(browser, origin, log_path),
            extra_flags=["--ignore-certificate-errors"],
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    print("browser test over HTTPS and HTTP/2: ok")


def run_checks(browser, origin, log_path):
    a = browser.window()
    browser.open(origin + "/")
    b = browser.new_window()
    browser.switch_to(b)
    browser.open(origin + "/")
    for handle in (a, b):
        s = wait_state(browser, handle, "two people connected", lambda s: s["count"] == "2")
        assert s["status"] == "connected", s
        assert s["protocol"] == "chat", s
        assert s["extensions"].startswith("permessage-deflate"), s
    log(f"two pages over HTTPS connected, count 2; negotiated: {s['protocol']}, {s['extensions']}")

    seen = requests(log_path)
    pages = {number for number, version, method, path in seen
             if (version, method, path) == ("HTTP/2.0", "GET", "/")}
    sockets = [(number, version, method) for number, version, method, path in seen
               if path == "/chat"]
    assert len(sockets) == 2, seen
    for number, version, method in sockets:
        assert (version, method) == ("HTTP/2.0", "CONNECT"), seen
        assert number in pages, f"WebSocket on connection {number}, pages on {pages}: {seen}"
    connections = sorted({number for number, _, _ in sockets})
    log(f"both WebSockets were extended CONNECTs on the pages' HTTP/2 connection(s) {connections}")

    typed = 'Over HTTP/2: "quoted", <b>markup</b>, ünïcødé ✓'
    browser.switch_to(a)
    browser.type_into("#text", typed + ENTER)
    s = wait_state(browser, b, "A's message in B", lambda s: s["messages"])
    assert s["messages"][0]["text"] == typed, s
    guest_a = s["messages"][0]["from"]  # "guest N", as the server names A
    log("a message typed in A appeared unchanged in B")

    # The page closes its WebSocket (as a person leaving the chat would): the closing
    # handshake runs over the HTTP/2 stream, both ends see it complete.
    browser.switch_to(a)
    # With `socket` cleared, the page's reconnect leaves this socket alone.
    browser.script(
        "const ws = socket; socket = null;"
        "ws.addEventListener('close', (e) => { window.chatClosed = {code: e.code, clean: e.wasClean}; });"
        "ws.close(1000, 'bye');"
    )
    closed = wait_for("A's close event", lambda: browser.script("return window.chatClosed || null;"))
    assert closed == {"code": 1000, "clean": True}, closed
    wait_state(browser, b, "the count to drop to 1", lambda s: s["count"] == "1")

    def server_log():
        with open(log_path) as f:
            return f.read()

    wait_for(f"the server to log {guest_a}'s Close", lambda: f"{guest_a} sent Close (1000" in server_log())
    log("A closed its WebSocket: Close 1000 at the server, wasClean in the page, B's count 1")

if __name__ == "__main__":
    main()
