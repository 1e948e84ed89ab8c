"""The chat example in a real browser, for scripts/browser_test.sh.

usage: chat.py CHAT_BINARY WORK_DIR

Starts the chat server on a free port and Debian's Chromium (headless) under chromedriver,
driven over WebDriver with nothing but the standard library. It checks, as a person would:

- plain HTTP on the chat's port: the page at /, 404 elsewhere, 403 for a WebSocket request
  from another origin, and a WebSocket request without a subprotocol accepted without one;
- two pages: both connected with subprotocol "chat" and permessage-deflate (as the browser
  reports them in WebSocket.protocol and WebSocket.extensions), the count 2 in each;
- a message typed in one page appears in the other with its text unchanged (quotes,
  backslashes, markup, non-ASCII), and one sent with characters outside the BMP too;
- a round-trip time shows in each page, and is updated by the next ping;
- closing one page drops the other's count to 1;
- after the server restarts on the same port, the page reconnects by itself.

The screenshot of a page with a short conversation is written to WORK_DIR/demo.png.
"""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=900,600",
]
ENTER = "\ue007"  # the WebDriver key code of Enter
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

# The page's state as a person sees it.
PAGE_STATE = """
const text = (id) => document.getElementById(id).textContent;
return {
  status: text("status"), count: text("count"), rtt: text("rtt"),
  rttSamples: Number(document.getElementById("rtt").dataset.samples || 0),
  protocol: text("protocol"), extensions: text("extensions"),
  messages: [...document.querySelectorAll("#messages li")].map((li) => ({
    from: li.querySelector(".from").textContent, text: li.querySelector(".text").textContent,
  })),
};
"""


def log(message):
    print(f"[{time.monotonic() - STARTED:6.2f}s] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, probe, done=bool, timeout=15):
    """Polls probe() until done(what it returned), and returns that."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if done(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


class Server:
    """The chat example as a child process."""

    def __init__(self, binary, log_path):
        self.binary = binary
        self.log_path = log_path
        self.process = None
        self.port = 0
        self.starts = 0

    def start(self):
        log_file = open(self.log_path, "a")
        # CHAT_ARGS: more arguments for the server, such as `--deflate-preset small`.
        extra = os.environ.get("CHAT_ARGS", "").split()
        self.process = subprocess.Popen(
            [self.binary, f"127.0.0.1:{self.port}", *extra], stdout=log_file, stderr=log_file
        )
        pattern = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")

        def listening():
            with open(self.log_path) as f:
                ports = pattern.findall(f.read())
            return ports[-1] if len(ports) == self.starts + 1 else None

        self.port = int(wait_for("the chat server to listen", listening, timeout=10))
        self.starts += 1

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def origin(self):
        return f"http://127.0.0.1:{self.port}"


class WebDriver:
    """A WebDriver session with chromedriver over its HTTP interface (W3C WebDriver)."""

    def __init__(self, port, profile, extra_flags=()):
        self.base = f"http://127.0.0.1:{port}"
        args = CHROMIUM_FLAGS + list(extra_flags) + [f"--user-data-dir={profile}"]
        options = {"binary": "/usr/bin/chromium", "args": args}
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.base += f"/session/{session['sessionId']}"
        version = session["capabilities"].get("browserVersion")
        log(f"browser session started: Chromium {version}")

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.read().decode()}") from None

    def window(self):
        return self.call("GET", "/window")

    def new_window(self):
        return self.call("POST", "/window/new", {"type": "window"})["handle"]

    def switch_to(self, handle):
        self.call("POST", "/window", {"handle": handle})

    def close_window(self):
        self.call("DELETE", "/window")

    def open(self, url):
        self.call("POST", "/url", {"url": url})

    def script(self, source, *args):
        return self.call("POST", "/execute/sync", {"script": source, "args": list(args)})

    def type_into(self, css, text):
        element = self.call("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]
        self.call("POST", f"/element/{element}/value", {"text": text})

    def screenshot(self):
        return base64.b64decode(self.call("GET", "/screenshot"))

    def quit(self):
        self.call("DELETE", "")


def http_exchange(port, request):
    """Sends a raw request and returns the response head."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n")[0].decode()


def upgrade(port, path, origin, protocols=None):
    lines = [
        f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        f"Origin: {origin}",
    ]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    return "\r\n".join(lines) + "\r\n\r\n"


def check_plain_http(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/")
    response = connection.getresponse()
    body = response.read().decode()
    assert response.status == 200, response.status
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "<title>wsmachine chat</title>" in body
    connection.close()
    for path in ["/nope", "/favicon.ico"]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", path)
        assert connection.getresponse().status == 404, path
        connection.close()
    port, origin = server.port, server.origin()
    head = http_exchange(port, upgrade(port, "/chat", "http://evil.example", "chat"))
    assert head.startswith("HTTP/1.1 403 "), head
    head = http_exchange(port, upgrade(port, "/elsewhere", origin, "chat"))
    assert head.startswith("HTTP/1.1 404 "), head
    head = http_exchange(port, upgrade(port, "/chat", origin))
    assert head.startswith("HTTP/1.1 101 "), head
    assert "Sec-WebSocket-Protocol" not in head, head
    head = http_exchange(port, upgrade(port, "/chat", origin, "superchat, chat"))
    assert head.startswith("HTTP/1.1 101 "), head
    assert "\r\nSec-WebSocket-Protocol: chat\r\n" in head + "\r\n", head
    log("plain HTTP: page 200, other paths 404, foreign origin 403, subprotocol chat or none")


def with_browser(work, name, checks, extra_flags=()):
    """Starts chromedriver and a headless Chromium session (logs and profile under WORK, named
    after NAME), runs checks(browser), and shuts both down whatever happens."""
    driver_port = free_port()
    driver_log = open(f"{work}/{name}.log", "w")
    chromedriver = subprocess.Popen(
        ["chromedriver", f"--port={driver_port}"], stdout=driver_log, stderr=driver_log
    )
    profile = tempfile.mkdtemp(prefix="chat-browser-", dir=work)
    browser = None
    try:

        def driver_ready():
            try:
                url = f"http://127.0.0.1:{driver_port}/status"
                with urllib.request.urlopen(url, timeout=2) as response:
                    return json.load(response)["value"]["ready"]
            except OSError:
                return False

        wait_for("chromedriver", driver_ready, timeout=20)
        browser = WebDriver(driver_port, profile, extra_flags)
        checks(browser)
        browser.quit()
        browser = None
    finally:
        if browser:
            try:
                browser.quit()
            except Exception as error:  # already failing: keep the first error
                print(f"quitting the browser: {error}", file=sys.stderr)
        chromedriver.terminate()
        chromedriver.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def main():
    binary, work = sys.argv[1], sys.argv[2]
    server = Server(binary, f"{work}/chat.log")
    open(server.log_path, "w").close()
    server.start()
    try:
        log(f"chat server on {server.origin()}")
        check_plain_http(server)
        with_browser(work, "chromedriver", lambda browser: run_browser_checks(browser, server, work))
    finally:
        server.stop()
    print("browser test: ok")


def state(browser, handle):
    browser.switch_to(handle)
    return browser.script(PAGE_STATE)


def wait_state(browser, handle, what, check):
    return wait_for(what, lambda: state(browser, handle), done=check)


def run_browser_checks(browser, server, work):
    a = browser.window()
    browser.open(server.origin() + "/")
    b = browser.new_window()
    browser.switch_to(b)
    browser.call("POST", "/window/rect", {"width": 900, "height": 600})
    browser.open(server.origin() + "/")
    for handle in (a, b):
        s = wait_state(browser, handle, "two people connected", lambda s: s["count"] == "2")
        assert s["status"] == "connected", s
        assert s["protocol"] == "chat", s
        assert s["extensions"].startswith("permessage-deflate"), s
    log(f"two pages connected, count 2 in each; negotiated: {s['protocol']}, {s['extensions']}")

    # Typed by a person: quotes, a backslash, markup and non-ASCII reach the other page intact.
    typed = 'Hello from A: "quoted", back\\slash, <b>not bold</b>, ünïcødé — γειά ✓'
    browser.switch_to(a)
    browser.type_into("#text", typed + ENTER)
    s = wait_state(browser, b, "A's message in B", lambda s: s["messages"])
    assert s["messages"] == [{"from": s["messages"][0]["from"], "text": typed}], s
    assert re.fullmatch(r"guest \d+", s["messages"][0]["from"]), s
    s = wait_state(browser, a, "A's own message in A", lambda s: s["messages"])
    assert s["messages"] == [{"from": "you", "text": typed}], s
    log("a message typed in A appeared unchanged in B")

    reply = "Hi A, B here — it arrived without polling."
    browser.switch_to(b)
    browser.type_into("#text", reply + ENTER)
    s = wait_state(browser, a, "B's reply in A", lambda s: len(s["messages"]) == 2)
    assert s["messages"][1]["text"] == reply and s["messages"][1]["from"] != "you", s

    # The first ping goes out on joining, the next after 5 s: the figure is pushed again.
    for handle in (b, a):
        s = wait_state(browser, handle, "two round-trip times", lambda s: s["rttSamples"] >= 2)
        assert re.fullmatch(r"\d+\.\d\d ms", s["rtt"]), s
    log(f"round-trip times shown and updated (A: {s['rtt']})")

    browser.switch_to(a)
    with open(f"{work}/demo.png", "wb") as f:
        f.write(browser.screenshot())
    log(f"screenshot written to {work}/demo.png")

    # Characters outside the BMP (which chromedriver cannot type) go through the page's form.
    astral = "emoji 🎉 and 𝄞, tab\tand nothing else"
    browser.switch_to(b)
    browser.script(
        'document.getElementById("text").value = arguments[0];'
        'document.getElementById("send").requestSubmit();',
        astral,
    )
    s = wait_state(browser, a, "B's emoji message in A", lambda s: len(s["messages"]) == 3)
    assert s["messages"][2]["text"] == astral, s
    log("a message with characters outside the BMP arrived unchanged")

    browser.switch_to(a)
    browser.close_window()
    wait_state(browser, b, "the count to drop to 1", lambda s: s["count"] == "1")
    log("page A closed: B's count dropped to 1")

    server.stop()
    wait_state(browser, b, "B to notice the restart", lambda s: "reconnecting" in s["status"])
    server.start()
    s = wait_state(
        browser, b, "B to reconnect", lambda s: s["status"] == "connected" and s["count"] == "1"
    )
    assert s["extensions"].startswith("permessage-deflate"), s
    log("server restarted: B reconnected by itself")


STARTED = time.monotonic()

if __name__ == "__main__":
    main()
