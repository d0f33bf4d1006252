#!/usr/bin/env python3
"""libws's share of a linked firmware image, from the GNU ld map file: the sizes of the
input sections that came from objects whose path contains NEEDLE (e.g. "libws"), split
into code + constants (.text, .rodata: flash) and data (.data: flash and RAM, .bss: RAM).
Sections the linker discarded (--gc-sections) are not counted.
Usage: map_share.py MAP NEEDLE; prints "flash=N text=N rodata=N data=N bss=N"."""
import re
import sys

# An input section line: " .text.name  0xADDR  0xSIZE  file", the name possibly on the line
# before when it is long.
LINE = re.compile(r"^ (\.[^\s]+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
NAME_ONLY = re.compile(r"^ (\.[^\s]+)$")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, needle = sys.argv[1], sys.argv[2]
    with open(path) as fh:
        text = fh.read()
    start = text.find("Linker script and memory map")
    if start < 0:
        sys.exit(f"map_share: no memory map in {path}")
    sums = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    pending = None
    for line in text[start:].splitlines():
        m = NAME_ONLY.match(line)
        if m:
            pending = m.group(1)
            continue
        m = LINE.match(line)
        if not m:
            pending = None
            continue
        name = m.group(1) or pending
        pending = None
        if name is None or needle not in m.group(4):
            continue
        size = int(m.group(3), 16)
        for kind in sums:
            if name == "." + kind or name.startswith("." + kind + "."):
                sums[kind] += size
                break
    flash = sums["text"] + sums["rodata"] + sums["data"]
    print(f"flash={flash} " + " ".join(f"{k}={v}" for k, v in sums.items()))


if __name__ == "__main__":
    main()
