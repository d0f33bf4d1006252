"""Interop over TLS: Python websockets clients against examples/echo-server --cert/--key,
with a throwaway CA made by make-certs.sh at test time: echoes over wss:// when the CA is
trusted, and the client refuses the server when it is not.

usage: /usr/bin/python3 test_tls.py PATH/TO/echo-server
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
"""
import os
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import EchoServer, expect  # noqa: E402

import websockets  # noqa: E402


def connect(url, ctx):
    return websockets.connect(url, ssl=ctx, max_size=None, ping_interval=None, close_timeout=5,
                              open_timeout=10)


async def echo_session(url, ctx):
    async with connect(url, ctx) as ws:
        for msg in ["hello over TLS é", os.urandom(1 << 20), "x" * 70000, b""]:
            await ws.send(msg)
            got = await ws.recv()
            expect(got == msg, f"echo of {len(msg)} differs")
    expect(ws.close_code == 1000, f"close code {ws.close_code}")


async def refused(url, ctx):
    try:
        async with connect(url, ctx):
            pass
    except ssl.SSLCertVerificationError as e:
        expect("certificate verify failed" in str(e), str(e))
        return
    raise AssertionError("connected to a server whose CA was not trusted")


async def main(results):
    path = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["sh", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "make-certs.sh"), d], check=True)
        results.check("throwaway CA and certificates made with openssl", True)
        server = await EchoServer(path, "--cert", os.path.join(d, "server.pem"),
                                  "--key", os.path.join(d, "server.key")).start()
        try:
            trusted = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
            url = f"wss://localhost:{server.port}/py"
            await results.run("websockets over wss://localhost, CA trusted: echoes up to 1 MiB",
                              echo_session(url, trusted))
            await results.run("websockets over wss://127.0.0.1 (IP in the certificate)",
                              echo_session(f"wss://127.0.0.1:{server.port}/", trusted))
            await results.run("websockets refuses echo-server when the CA is not trusted",
                              refused(url, ssl.create_default_context()))
            status = await server.stop()
            results.check("echo-server --cert/--key exits 0 on SIGTERM", status == 0,
                          f"status {status}")
        finally:
            await server.close()


harness.main(main)
