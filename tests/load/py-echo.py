#!/usr/bin/env python3
"""An echo server on Python's websockets (Debian python3-websockets), for
tests/load/echo-bench.sh: prints "listening on 127.0.0.1:PORT" and sends every message back."""
import asyncio

import websockets


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, compression=None, max_queue=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
