#!/usr/bin/env python3
"""Which run-time helper calls the per-message paths of libws reach on a small Arm core.
Reads `objdump -dr` of an object built with -ffunction-sections, follows the calls from the
functions a host calls for every message (ROOTS), and fails when one of them can reach a
division helper, 64-bit (FORBIDDEN) or 32-bit (DIV32): a Cortex-M0+ has no divide
instruction at all, so even a 32-bit division is a call to a software loop, and 64-bit
division in software costs hundreds of cycles. The opening handshake (once per
connection) is not followed. Prints TAP. Usage: hot_paths.py OBJDUMP OBJECT"""
import re
import subprocess
import sys

ROOTS = [
    "ws_conn_feed", "ws_conn_next_event", "ws_conn_send", "ws_conn_send_fragment",
    "ws_conn_ping", "ws_conn_pong", "ws_conn_close", "ws_conn_output", "ws_conn_consume",
    "ws_conn_tick", "ws_conn_next_deadline", "ws_frame_decode", "ws_frame_encode",
    "ws_frame_header_encode", "ws_mask", "ws_mask_copy", "ws_utf8_feed", "ws_utf8_valid",
    "ws_close_parse", "ws_close_build",
    # What a heap connection reaches through its tables (lib/outq.h, lib/conn.h) from the
    # sends, ws_conn_consume and ws_conn_next_event: with WS_SMALL indirect calls, which the
    # relocations followed here do not show.
    "ws_outq_heap_grow", "ws_outq_heap_next_block", "ws_outq_heap_drop", "ws_conn_heap_trim",
    "ws_conn_heap_grow",
]
# Once per connection: the handshake's parsing and writing.
NOT_FOLLOWED = re.compile(r"^ws_(handshake|hs)_")
FORBIDDEN = {"__aeabi_uldivmod", "__aeabi_ldivmod", "__udivdi3", "__divdi3", "__umoddi3",
             "__moddi3", "__udivmoddi4", "__divmoddi4"}
DIV32 = {"__aeabi_uidiv", "__aeabi_uidivmod", "__aeabi_idiv", "__aeabi_idivmod", "__udivsi3",
         "__divsi3", "__umodsi3", "__modsi3"}

FUNC = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
CALL = re.compile(r"R_ARM_THM_(?:CALL|JUMP24|JUMP11|JUMP8)\s+(\S+)")


def call_graph(objdump, obj):
    text = subprocess.run([objdump, "-dr", obj], check=True, capture_output=True,
                          text=True).stdout
    graph, cur = {}, None
    for line in text.splitlines():
        m = FUNC.match(line)
        if m:
            cur = m.group(1)
            graph.setdefault(cur, set())
            continue
        m = CALL.search(line)
        if m and cur is not None:
            graph[cur].add(m.group(1).split("+")[0])
    return graph


def reach(graph, root):
    """Every function reachable from root, each with the path that reaches it."""
    paths, todo = {root: [root]}, [root]
    while todo:
        f = todo.pop()
        for g in sorted(graph.get(f, ())):
            if g in paths or NOT_FOLLOWED.match(g):
                continue
            paths[g] = paths[f] + [g]
            todo.append(g)
    return paths


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    graph = call_graph(sys.argv[1], sys.argv[2])
    failed = False
    for root in ROOTS:
        if root not in graph:
            print(f"not ok - {root} is not in {sys.argv[2]}")
            failed = True
            continue
        paths = reach(graph, root)
        bad = sorted(set(paths) & FORBIDDEN)
        div32 = sorted(set(paths) & DIV32)
        if bad:
            failed = True
            for b in bad:
                print("# " + " -> ".join(paths[b]))
            print(f"not ok - {root} reaches no 64-bit division helper (found {', '.join(bad)})")
        else:
            print(f"ok - {root} reaches no 64-bit division helper")
        if div32:
            failed = True
            for d in div32:
                print("# " + " -> ".join(paths[d]))
            print(f"not ok - {root} reaches no 32-bit division helper (found {', '.join(div32)})")
        else:
            print(f"ok - {root} reaches no 32-bit division helper")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
