#!/usr/bin/env python3
"""The shared library's dynamic symbols are exactly the functions ws.h declares: nothing
internal leaks out (a program cannot come to depend on it), and nothing public is missing.

usage: exports.py NM LIBWS.SO WS.H
Prints one `ok - ...` / `not ok - ...` line per check, then `N passed, N failed`."""
import re
import subprocess
import sys


def declared(header):
    """Names of the functions ws.h declares: ws_name( outside comments. Function pointer
    types, (*ws_name_fn)(, do not match."""
    with open(header) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return set(re.findall(r"\b(ws_[A-Za-z0-9_]+)\s*\(", text))


def exported(nm, lib):
    """Defined dynamic symbols of lib, by name (text, data, weak alike)."""
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            names.add(fields[2].split("@")[0])
    return names


def main():
    nm, lib, header = sys.argv[1:4]
    api = declared(header)
    syms = exported(nm, lib)
    results = []

    def check(name, bad):
        results.append(not bad)
        detail = f"  # {', '.join(sorted(bad))}" if bad else ""
        print(f"{'ok' if not bad else 'not ok'} - {name}{detail}")

    check("ws.h declares functions at all", set() if len(api) >= 50 else {f"{len(api)} found"})
    check("every dynamic symbol of the shared library is declared in ws.h", syms - api)
    check("every function ws.h declares is exported", api - syms)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
