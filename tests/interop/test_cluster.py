"""Interop: examples/chat-server as a cluster: redis-server, three nodes and nginx (with
examples/nginx-cluster.conf as is, but its ports), reconnecting examples/ws-client receivers
through nginx, and Python websockets senders talking to the nodes directly.

usage: /usr/bin/python3 test_cluster.py PATH/TO/chat-server PATH/TO/ws-client
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.

Proves, in order: clients spread over the nodes and get every line of their room exactly
once, in each sender's order, with presence counted across nodes; a node killed with
SIGKILL loses its clients to the survivors within a bounded time, presence drops it, and
nothing published after they are back is missed; a rolling restart with SIGTERM gives every
client of each node a 1001, loses nothing for clients that stayed connected, and never
delivers twice or out of order; a single-use token used on one node is refused on another;
Redis restarted under the cluster, the nodes reconnect and delivery resumes.

Timing: only generous bounds where the behaviour is a timeout or a reconnect (WAIT).
"""
import asyncio
import os
import signal
import sys
import time

import harness
from harness import HOST, expect, run_program
import cluster_harness as ch
from cluster_harness import (WAIT, Nginx, Node, Receiver, Redis, Registry, received, wait_for,
                             who)

import websockets

HEARTBEAT = 300  # ms: presence heartbeats; a killed node is counted out after three
CLUSTER = f"libws-test-{os.getpid()}"
SECRET = "cluster test secret"
RECEIVERS = 6
RATE = 40  # lines a second per sender


class Sender:
    """A Python websockets client on one node, in room t, saying "LABEL:SEQ" lines."""

    def __init__(self, node, label):
        self.node = node
        self.label = label
        self.sent = 0
        self.ws = None
        self.drain_task = None

    async def start(self):
        self.ws = await websockets.connect(self.node.url(), ping_interval=None, open_timeout=WAIT,
                                           close_timeout=WAIT, max_queue=None)
        welcome = await asyncio.wait_for(self.ws.recv(), WAIT)
        expect(welcome.startswith("* welcome"), f"sender got {welcome!r} first")
        self.drain_task = asyncio.ensure_future(self.drain())
        return self

    async def drain(self):  # the room's other lines: read and dropped
        try:
            async for _ in self.ws:
                pass
        except websockets.exceptions.ConnectionClosed:
            pass

    async def say(self, count, rate=RATE):
        for _ in range(count):
            self.sent += 1
            await self.ws.send(f"{self.label}:{self.sent}")
            await asyncio.sleep(1 / rate)

    async def say_until(self, stop, rate=RATE):
        while not stop.is_set():
            await self.say(1, rate)

    async def close(self):
        await self.ws.close()
        await self.drain_task


def per_sender(rx, labels):
    """{label: [(session, seq), ...]} of rx's lines from these senders, in arrival order."""
    out = {label: [] for label in labels}
    for session, label, seq in received(rx):
        if label in out:
            out[label].append((session, seq))
    return out


def check_order(rx, senders, stayed):
    """Exactly once and in order for every sender; with `stayed` (rx kept one connection all
    along) every line 1..sent; else no gap inside one connection (only across a reconnect)."""
    got = per_sender(rx, [s.label for s in senders])
    for s in senders:
        seqs = [q for _, q in got[s.label]]
        expect(len(seqs) == len(set(seqs)), f"{s.label}: duplicates in {seqs}")
        expect(seqs == sorted(seqs), f"{s.label}: out of order: {seqs}")
        if stayed:
            expect(seqs == list(range(1, s.sent + 1)),
                   f"{s.label}: got {len(seqs)} of {s.sent}, missing "
                   f"{sorted(set(range(1, s.sent + 1)) - set(seqs))[:20]}")
        pairs = got[s.label]
        for (sa, qa), (sb, qb) in zip(pairs, pairs[1:]):
            expect(sa != sb or qb == qa + 1,
                   f"{s.label}: {qa} then {qb} within one connection (lines lost while connected)")


async def all_delivered(receivers, senders, timeout=WAIT):
    """Waits until every receiver has each sender's last line."""
    def done():
        for rx in receivers:
            got = per_sender(rx, [s.label for s in senders])
            if any(not got[s.label] or got[s.label][-1][1] != s.sent for s in senders):
                return False
        return True
    try:
        await wait_for(done, "every receiver has every sender's last line", timeout)
    except AssertionError:
        lag = {i: {s.label: (per_sender(rx, [s.label])[s.label][-1:] or [None])[0]
                   for s in senders} for i, rx in enumerate(receivers)}
        raise AssertionError(f"not all delivered within {timeout} s; last seen {lag}, "
                             f"sent {[(s.label, s.sent) for s in senders]}") from None


async def nodes_ready(nodes, ups=None):
    """Every node has both Redis links up (at least ups[i] times) and counts the others."""
    ids = {n.id for n in nodes}
    for i, n in enumerate(nodes):
        await wait_for(lambda: n.links_up() >= (ups[i] if ups else 1), f"node {i} on Redis")
    for i, n in enumerate(nodes):
        await wait_for(lambda: n.peers() >= ids - {n.id}, f"node {i} sees the other nodes")


async def reconnected(rxs, opens_before, gone_id, timeout=WAIT):
    """rxs all opened a new connection, on a node other than gone_id; returns the longest
    time it took, from now."""
    start = time.monotonic()
    await wait_for(lambda: all(rx.opens() > opens_before[rx] and
                               len(rx.welcomes()) >= rx.opens() and
                               rx.node() != gone_id[:4] for rx in rxs),
                   "the clients of the stopped node reconnected to another", timeout)
    return time.monotonic() - start


async def main(results):
    chat, client = (os.path.abspath(p) for p in sys.argv[1:3])
    redis_bin = ch.find_program("redis-server")
    nginx_bin = ch.find_program("nginx", "/usr/sbin/nginx")
    if not results.check("redis-server and nginx are installed", redis_bin and nginx_bin,
                         f"redis-server {redis_bin}, nginx {nginx_bin}: apt-get install "
                         "redis-server nginx (tests/run.sh, install-peers.sh)"):
        return
    reg = Registry()
    task = asyncio.current_task()

    def on_sigterm():  # meson's timeout: no process may outlive the test
        reg.kill_now()
        task.cancel()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)

    try:
        await run(results, reg, chat, client, redis_bin, nginx_bin)
    except asyncio.CancelledError:
        results.check("ran to the end", False, "stopped by SIGTERM")
    finally:
        await reg.kill_all()


async def run(results, reg, chat, client, redis_bin, nginx_bin):
    node_args = ["--heartbeat", str(HEARTBEAT), "--ping-interval", "1000",
                 "--pong-timeout", "2000"]
    redis = Redis(reg, redis_bin)
    nodes = [Node(reg, chat, redis, CLUSTER, *node_args) for _ in range(3)]
    receivers = []
    state = {}

    async def start_all():
        await redis.start()
        for n in nodes:
            await n.start()
        await nodes_ready(nodes)
        proxy = state["proxy"] = await Nginx(reg, nginx_bin, [n.port for n in nodes]).start()
        for _ in range(RECEIVERS):
            rx = await Receiver(reg, client, proxy.url(), "--backoff", "100:1000",
                                "--on-open", "/join t2").start()
            receivers.append(rx)
            await wait_for(lambda: rx.welcomes(), "a receiver's welcome")
        return proxy
    if not await results.run("redis-server, 3 nodes, nginx and 6 reconnecting ws-clients "
                             "start", start_all()):
        return

    async def spread():
        on = {rx.node() for rx in receivers}
        expect(on == {n.id[:4] for n in nodes}, f"receivers on nodes {on} only")
    await results.run("clients through nginx land on all three nodes", spread())

    async def origins():
        proxy = state["proxy"]
        own = f"http://{HOST}:{proxy.port}"
        for _ in range(3):  # whichever node nginx picks
            async with websockets.connect(proxy.url("rooms=o"), origin=own,
                                          open_timeout=WAIT) as ws:
                first = await asyncio.wait_for(ws.recv(), WAIT)
                expect(first.startswith("* welcome"), f"{own} got {first!r}")
        try:
            async with websockets.connect(proxy.url("rooms=o"), origin="http://evil.example",
                                          open_timeout=WAIT):
                raise AssertionError("a foreign origin was let in")
        except websockets.exceptions.InvalidStatusCode as e:
            expect(e.status_code == 403, f"a foreign origin got {e.status_code}")
        status, out, err = await run_program(
            ["/usr/bin/python3", "-c", "import sys, urllib.request; sys.stdout.write("
             f"urllib.request.urlopen('http://{HOST}:{proxy.port}/', timeout=10).read()"
             ".decode())"])
        expect(status == 0 and "WebSocket" in out, f"GET / through nginx: {status} {err[-200:]}")
    await results.run("behind nginx (Host $http_host): the page's own origin is accepted on "
                      "every node, a foreign one gets 403, the page is served", origins())

    # ---- steady state: exactly once, in order, presence across nodes ----
    async def steady():
        senders = [await Sender(n, f"sA{i}").start() for i, n in enumerate(nodes)]
        await asyncio.gather(*(s.say(40) for s in senders))
        await all_delivered(receivers, senders)
        for rx in receivers:
            check_order(rx, senders, stayed=True)
        for rx in receivers[:3]:  # one on each node
            await who(rx, RECEIVERS + 3)
        for s in senders:
            await s.close()
        await who(receivers[0], RECEIVERS)
    await results.run("3 senders x 40 lines: every receiver gets each line once, in each "
                      "sender's order; /who counts the room on all nodes", steady())

    async def rejoined_count():
        for rx in receivers:
            expect(rx.count(r"^\* joined t2 \(") == rx.opens(),
                   f"{rx.opens()} connections, {rx.count(r'^.. joined t2')} joins of t2")
    await results.run("each receiver joined room t2 (--on-open) on its connection",
                      rejoined_count())

    # ---- SIGKILL ----
    async def sigkill():
        victim = nodes[1]
        hit = [rx for rx in receivers if rx.node() == victim.id[:4]]
        expect(hit, "no receiver on the node to kill")
        before = {rx: rx.opens() for rx in receivers}
        await victim.kill()
        took = await reconnected(hit, before, victim.id)
        print(f"# SIGKILL: its {len(hit)} clients back on other nodes within {took:.2f} s")
        for rx in receivers:
            if rx not in hit:
                expect(rx.opens() == before[rx], "a client of another node reconnected")
        senders = [await Sender(n, f"sB{i}").start() for i, n in enumerate(nodes) if n != victim]
        await asyncio.gather(*(s.say(30) for s in senders))
        await all_delivered(receivers, senders)
        for rx in receivers:
            check_order(rx, senders, stayed=True)  # all were back before these were said
        await who(receivers[0], RECEIVERS + len(senders))  # the dead node's count expired
        for s in senders:
            await s.close()
        await victim.start(victim.port)
        await nodes_ready(nodes)
    await results.run(f"SIGKILL of a node: its clients reconnect through nginx to the others "
                      f"within {WAIT} s, presence forgets it, no later line is missed",
                      sigkill())

    # ---- rolling restart with SIGTERM ----
    for i, node in enumerate(nodes):
        async def rolling(i=i, node=node):
            hit = [rx for rx in receivers if rx.node() == node.id[:4]]
            lines_before = {rx: len(rx.lines) for rx in receivers}
            before = {rx: rx.opens() for rx in receivers}
            others = [n for n in nodes if n is not node]
            senders = [await Sender(n, f"sC{i}.{j}").start() for j, n in enumerate(others)]
            stop = asyncio.Event()
            talking = asyncio.gather(*(s.say_until(stop) for s in senders))
            await asyncio.sleep(0.5)
            status = await node.term()
            expect(status == 0, f"node exited with {status} on SIGTERM (None: still running "
                   f"after {WAIT} s)")
            expect("draining" in node.log(), "the node did not log its drain")
            for rx in hit:
                closes = [t for _, t in rx.lines[lines_before[rx]:] if t.startswith("closed: ")]
                expect(closes and closes[0].startswith("closed: 1001"),
                       f"a client of the drained node saw {closes}, not 1001")
            await node.start(node.port)
            await nodes_ready(nodes)
            await reconnected(hit, before, "none")
            await asyncio.sleep(0.5)
            stop.set()
            await talking
            await all_delivered(receivers, senders)
            for rx in receivers:
                check_order(rx, senders, stayed=rx not in hit)
                expect(rx in hit or rx.opens() == before[rx], "a client of another node "
                       "reconnected")
            for s in senders:
                await s.close()
        await results.run(f"rolling restart, node {i + 1}: SIGTERM drains with 1001 and exit "
                          "0, its clients reconnect, the others miss nothing, no duplicate "
                          "or reordering", rolling())

    async def rejoined_after():
        for rx in receivers:
            expect(rx.opens() >= 2, "a receiver was never reconnected")
            expect(rx.count(r"^closed: 1001 server shutting down$") >= 1,
                   f"a receiver never saw a 1001: {rx.tail()}")
            expect(rx.count(r"^\* joined t2 \(") == rx.opens(),
                   f"{rx.opens()} connections but {rx.count(r'^.. joined t2')} joins of t2")
        await who(receivers[0], RECEIVERS)
    await results.run("after the restarts: every receiver saw a 1001, re-joined t2 on each "
                      "connection, and /who counts the 6 again", rejoined_after())

    # ---- single-use tokens ----
    async def tickets():
        extra = [Node(reg, chat, redis, CLUSTER + "-t", "--token-secret", SECRET,
                      "--single-use") for _ in range(2)]
        for n in extra:
            await n.start()
        status, out, err = await run_program(
            [chat, "--print-token", "alice", "--token-secret", SECRET, "--ttl", "300"])
        expect(status == 0, f"--print-token: {err}")
        token = out.strip()
        a, b = extra
        async with websockets.connect(a.url(f"token={token}"), open_timeout=WAIT) as ws:
            first = await asyncio.wait_for(ws.recv(), WAIT)
            expect(first.startswith("* welcome, alice "), f"node A said {first!r}")
        for n, name in ((b, "B"), (a, "A")):
            try:
                async with websockets.connect(n.url(f"token={token}"), open_timeout=WAIT):
                    raise AssertionError(f"the used token opened a connection on node {name}")
            except websockets.exceptions.InvalidStatusCode as e:
                expect(e.status_code == 401, f"node {name} answered {e.status_code}")
        ttl = await ch.resp(redis.port, "TTL", f"{CLUSTER}-t:used:{token}")
        expect(ttl.startswith(":") and 0 < int(ttl[1:]) <= 300, f"the mark's TTL is {ttl}")
        status, out, _ = await run_program(
            [chat, "--print-token", "bob", "--token-secret", SECRET, "--ttl", "300"])
        async with websockets.connect(b.url(f"token={out.strip()}"), open_timeout=WAIT) as ws:
            first = await asyncio.wait_for(ws.recv(), WAIT)
            expect(first.startswith("* welcome, bob "), f"node B said {first!r}")
        for n in extra:
            expect(await n.term() == 0, "a ticket node did not exit 0")
    await results.run("a single-use token used on node A is refused (401) on node B and on A; "
                      "the used mark expires with the token", tickets())

    async def opaque_tickets():
        prefix = CLUSTER + "-k"
        extra = [Node(reg, chat, redis, prefix, "--tickets") for _ in range(2)]
        for n in extra:
            await n.start()
        a, b = extra

        async def mint(subject, ttl):
            status, out, err = await run_program(
                [chat, "--print-ticket", subject, "--redis", f"{HOST}:{redis.port}",
                 "--cluster", prefix, "--ttl", str(ttl)])
            expect(status == 0 and len(out.strip()) == 32, f"--print-ticket: {status} {err}")
            return out.strip()

        async def refused(node, ticket, why):
            try:
                async with websockets.connect(node.url(f"ticket={ticket}"), open_timeout=WAIT):
                    raise AssertionError(f"{why}: the connection opened")
            except websockets.exceptions.InvalidStatusCode as e:
                expect(e.status_code == 401, f"{why}: answered {e.status_code}")

        ticket = await mint("carol", 300)
        ttl = await ch.resp(redis.port, "TTL", f"{prefix}:ticket:{ticket}")
        expect(ttl.startswith(":") and 0 < int(ttl[1:]) <= 300, f"the ticket's TTL is {ttl}")
        async with websockets.connect(a.url(f"ticket={ticket}"), open_timeout=WAIT) as ws:
            first = await asyncio.wait_for(ws.recv(), WAIT)
            expect(first.startswith("* welcome, carol "), f"node A said {first!r}")
        await refused(b, ticket, "the used ticket on node B")
        await refused(a, ticket, "the used ticket on node A")
        await refused(b, "0123456789abcdef0123456789abcdef", "a ticket never issued")
        await refused(b, "not-a-ticket", "a malformed ticket")
        short = await mint("dave", 1)
        await asyncio.sleep(2.5)  # Redis expires the key after 1 s
        await refused(b, short, "an expired ticket")
        for n in extra:
            expect(await n.term() == 0, "a ticket node did not exit 0")
    await results.run("--tickets: a ticket minted into Redis opens one connection on node A "
                      "and is refused (401) on B and on A again; unknown, malformed and "
                      "expired tickets are refused", opaque_tickets())

    # ---- Redis restarted ----
    async def redis_restart():
        gate = await Node(reg, chat, redis, CLUSTER + "-k", "--tickets").start()
        await wait_for(lambda: gate.links_up() >= 1, "the ticket node on Redis")
        ups = [n.links_up() for n in nodes]
        await redis.stop()
        for i, n in enumerate(nodes + [gate]):
            await wait_for(lambda: "redis commands link lost" in n.log(),
                           f"node {i} noticed Redis went away")
        try:  # tickets fail closed while Redis is away
            async with websockets.connect(gate.url("ticket=" + "0" * 32), open_timeout=WAIT):
                raise AssertionError("a ticket was let in with Redis down")
        except websockets.exceptions.InvalidStatusCode as e:
            expect(e.status_code == 503, f"with Redis down a ticket got {e.status_code}")
        expect(await gate.term() == 0, "the ticket node did not exit 0")
        await asyncio.sleep(1)
        await redis.start(redis.port)
        await nodes_ready(nodes, [u + 1 for u in ups])
        senders = [await Sender(n, f"sE{i}").start() for i, n in enumerate(nodes)]
        await asyncio.gather(*(s.say(20) for s in senders))
        await all_delivered(receivers, senders)
        for rx in receivers:
            check_order(rx, senders, stayed=True)
        for s in senders:
            await s.close()
    await results.run("Redis restarted under the cluster: tickets get 503 while it is away; "
                      "the nodes reconnect and every line reaches every receiver again, once, "
                      "in order", redis_restart())

    async def clean_stop():
        for rx in receivers:
            await rx.stop()
        for i, n in enumerate(nodes):
            status = await n.term()
            expect(status == 0, f"node {i} exited with {status}")
    await results.run("receivers close, nodes exit 0 on SIGTERM", clean_stop())


if __name__ == "__main__":
    harness.main(main)
