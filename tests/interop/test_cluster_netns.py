"""Interop: close detection when the network goes away, with a real vanishing link.

usage: /usr/bin/python3 test_cluster_netns.py PATH/TO/chat-server PATH/TO/ws-client
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.

The test makes a network namespace and a veth pair (iproute2; needs CAP_NET_ADMIN, so root):
a reconnecting ws-client runs inside the namespace and talks to a chat node listening on the
host end of the pair; a second node on 127.0.0.1 shares their room through redis-server.
Then the client's link is set down inside the namespace: packets are dropped, nobody sends
a FIN or a RST. Both sides must notice through their own keepalive within ping interval +
pong timeout (plus a margin), the node must free the connection (the room's count drops),
and once the link is up again the client must be back and receive the room's lines.
Everything the test made (namespace, veth, processes) is removed however it ends.
"""
import asyncio
import os
import re
import signal
import sys
import time

import harness
from harness import expect, run_program
import cluster_harness as ch
from cluster_harness import WAIT, Node, Receiver, Redis, Registry, wait_for, who

import websockets

PING, PONG = 1000, 1000  # ms, on both sides
MARGIN = 3.0  # s on top of ping + pong for a loaded machine
CLUSTER = f"libws-netns-{os.getpid()}"
NS = f"libws-{os.getpid()}"
VETH_HOST, VETH_NS = f"lwh{os.getpid()}"[:15], f"lwc{os.getpid()}"[:15]
SUBNET = f"10.213.{os.getpid() % 250}"
HOST_IP, NS_IP = f"{SUBNET}.1", f"{SUBNET}.2"


async def ip(*args, ns=None):
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    status, out, err = await run_program(cmd)
    expect(status == 0, f"`{' '.join(cmd)}` failed ({status}): {err.strip()}")
    return out


async def make_network():
    await ip("netns", "add", NS)
    await ip("link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS)
    await ip("link", "set", VETH_NS, "netns", NS)
    await ip("addr", "add", f"{HOST_IP}/30", "dev", VETH_HOST)
    await ip("link", "set", VETH_HOST, "up")
    await ip("link", "set", "lo", "up", ns=NS)
    await ip("addr", "add", f"{NS_IP}/30", "dev", VETH_NS, ns=NS)
    await ip("link", "set", VETH_NS, "up", ns=NS)


async def remove_network():
    for cmd in (["ip", "netns", "del", NS], ["ip", "link", "del", VETH_HOST]):
        try:
            await run_program(cmd)  # the second usually finds the pair gone with the namespace
        except Exception:
            pass


class Sender:
    def __init__(self, node):
        self.node = node
        self.ws = None

    async def start(self):
        self.ws = await websockets.connect(self.node.url(), ping_interval=None,
                                           open_timeout=WAIT, max_queue=None)
        await asyncio.wait_for(self.ws.recv(), WAIT)
        asyncio.ensure_future(self.drain())
        return self

    async def drain(self):
        try:
            async for _ in self.ws:
                pass
        except websockets.exceptions.ConnectionClosed:
            pass


async def reaches(sender, rx, text):
    await sender.ws.send(text)
    await wait_for(lambda: rx.count(re.escape(text) + "$") > 0, f"{text!r} at the client")


async def main(results):
    chat, client = (os.path.abspath(p) for p in sys.argv[1:3])
    redis_bin = ch.find_program("redis-server")
    if not results.check("redis-server and ip are installed",
                         redis_bin and ch.find_program("ip", "/usr/sbin/ip", "/sbin/ip"),
                         "apt-get install redis-server iproute2 (tests/run.sh does)"):
        return
    reg = Registry()
    task = asyncio.current_task()

    def on_sigterm():
        reg.kill_now()
        task.cancel()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        if not await results.run(f"a network namespace and a veth pair ({HOST_IP} - {NS_IP})",
                                 make_network()):
            return
        await run(results, reg, chat, client, redis_bin)
    except asyncio.CancelledError:
        results.check("ran to the end", False, "stopped by SIGTERM")
    finally:
        await reg.kill_all()
        await remove_network()


async def run(results, reg, chat, client, redis_bin):
    keepalive = ["--ping-interval", str(PING), "--pong-timeout", str(PONG)]
    redis = Redis(reg, redis_bin)
    edge = Node(reg, chat, redis, CLUSTER, *keepalive, host=HOST_IP)
    local = Node(reg, chat, redis, CLUSTER, *keepalive)
    state = {}

    async def start():
        await redis.start()
        await edge.start()
        await local.start()
        await wait_for(lambda: edge.peers() == {local.id} and local.peers() == {edge.id},
                       "the two nodes see each other")
        rx = await Receiver(reg, client, edge.url(), "--backoff", "200:2000", *keepalive,
                            netns=NS).start()
        await wait_for(lambda: rx.welcomes(), "the client's welcome")
        state["rx"] = rx
        state["tx"] = await Sender(local).start()
        await reaches(state["tx"], rx, "sN:1")
    if not await results.run("a ws-client in the namespace joins room t on the edge node and "
                             "gets a line said on the other node", start()):
        return
    rx, tx = state["rx"], state["tx"]
    seen = {}

    async def vanish():
        lines = len(rx.lines)
        await ip("link", "set", VETH_NS, "down", ns=NS)
        down = time.monotonic()
        bound = (PING + PONG) / 1000 + MARGIN
        await wait_for(lambda: any(t.startswith("closed: ") for _, t in rx.lines[lines:]),
                       "the client noticed", bound + 5)
        seen["client"] = next(at for at, t in rx.lines[lines:] if t.startswith("closed: ")) - down
        closed = next(t for _, t in rx.lines[lines:] if t.startswith("closed: "))
        expect("pong timeout" in " ".join(t for _, t in rx.lines[lines:]),
               f"the client's close was not its pong timeout: {rx.tail()}")
        pattern = re.compile(rf"\[{re.escape(NS_IP)}:\d+\] \S+ left \(dropped: pong timeout")
        await wait_for(lambda: pattern.search(edge.log()), "the node noticed", bound + 5)
        seen["node"] = time.monotonic() - down  # an upper bound: the log is polled
        print(f"# link down: client noticed after {seen['client']:.2f} s ({closed!r}), node "
              f"within {seen['node']:.2f} s; ping {PING} ms + pong timeout {PONG} ms")
        expect(seen["client"] <= bound, f"the client took {seen['client']:.2f} s > {bound} s")
        expect(seen["node"] <= bound, f"the node took {seen['node']:.2f} s > {bound} s")
    await results.run(f"link down in the namespace (no FIN, no RST): client and node both "
                      f"notice within ping {PING} ms + pong timeout {PONG} ms + {MARGIN} s",
                      vanish())

    async def freed():
        # The room's count on the other node: the sender only, once the edge node let the
        # client go (its leave reaches the cluster's presence).
        rx2 = await Receiver(reg, client, local.url(), "--backoff", "200:2000").start()
        try:
            await wait_for(lambda: rx2.welcomes(), "a probe's welcome")
            await who(rx2, 2)  # the sender and this probe
            await wait_for(lambda: re.search(r"no end of stream in time: dropping|"
                                             r"output not taken in time: dropping",
                                             edge.log()), "the node's last linger ended")
        finally:
            await rx2.stop()
    await results.run("the node frees the connection: it leaves the room (presence) and its "
                      "linger ends", freed())

    async def back():
        opens = rx.opens()
        await ip("link", "set", VETH_NS, "up", ns=NS)
        up = time.monotonic()
        await wait_for(lambda: rx.opens() > opens, "the client reconnected", WAIT)
        print(f"# link up: the client was back after {time.monotonic() - up:.2f} s "
              "(backoff 200..2000 ms)")
        await reaches(tx, rx, "sN:2")
    await results.run("link up again: the client reconnects by itself and gets the room's "
                      "lines again", back())

    async def stop():
        await rx.stop()
        for n in (edge, local):
            expect(await n.term() == 0, "a node did not exit 0 on SIGTERM")
    await results.run("client and nodes stop cleanly", stop())


if __name__ == "__main__":
    harness.main(main)
