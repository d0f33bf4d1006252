"""Checks that a libws built with -Ddefault_alloc=false refers to no heap function: the
static library's undefined symbols include none of malloc, calloc, realloc, free.

usage: python3 no_heap.py NM LIBWS.a
"""
import subprocess
import sys

HEAP = {"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign"}
out = subprocess.check_output([sys.argv[1], "-u", sys.argv[2]], text=True)
used = sorted({line.split()[-1].split("@")[0] for line in out.splitlines()
               if line.strip() and not line.endswith(":")} & HEAP)
ok = not used
print(("ok" if ok else "not ok") + " - libws without default_alloc uses no heap function"
      + ("" if ok else "  # uses: " + ", ".join(used)))
print(f"{int(ok)} passed, {int(not ok)} failed")
sys.exit(0 if ok else 1)
