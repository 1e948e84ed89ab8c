"""Python `websockets` as a peer of wsmachine, for scripts/interop.sh.

client URL: connects to a wsmachine echo server and checks text, binary, ping, a 1 MiB
message and a close with code 4000.
server PORT: an echo server; the message "close-4001" makes it close with code 4001, and it
prints the code the client echoed.
With EXPECT_DEFLATE=1 the client checks that permessage-deflate (offered by default) was
accepted.
"""
import os
import sys

from websockets.sync.client import connect
from websockets.sync.server import serve


def client(url):
    with connect(url, max_size=None) as ws:
        if os.environ.get("EXPECT_DEFLATE"):
            accepted = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert accepted.startswith("permessage-deflate"), f"not compressed: {accepted!r}"
            print(f"python client: accepted {accepted}")
        ws.send("héllo wörld")
        assert ws.recv() == "héllo wörld"
        ws.send(bytes(range(256)))
        assert ws.recv() == bytes(range(256))
        assert ws.ping(b"rtt").wait(5), "no pong"
        big = "x" * (1 << 20)
        ws.send(big)
        assert ws.recv() == big
        ws.close(4000, "bye")
    assert ws.close_code == 4000, ws.close_code  # the code our server echoed
    print("python client: ok")


def echo(ws):
    for message in ws:
        if message == "close-4001":
            ws.close(4001, "requested")
            # The client owes the echo of the code (RFC 6455 §5.5.1): 1006 means it never came.
            print(f"close echoed: {ws.close_code}", flush=True)
            return
        ws.send(message)


def server(port):
    with serve(echo, "127.0.0.1", int(port), max_size=None) as running:
        print("python server: listening", flush=True)
        running.serve_forever()


if __name__ == "__main__":
    {"client": client, "server": server}[sys.argv[1]](sys.argv[2])
