#!/usr/bin/env python3
"""Counts test cases from meson's JSON test logs: every CMocka case, every TAP "ok"/"not ok"
line of the other test programs, and a program that failed without saying which case failed
(a crash between cases, a sanitizer report, a timeout) as one failure. Arguments not ending
in .json are plain logs whose "ok" / "not ok" lines are counted (fuzzing, valgrind).
Prints one line "N passed, N failed" and exits non-zero when anything failed."""
import json
import re
import sys

# CMocka announces each case on stdout and confirms the ones that pass; a case that started
# and was not confirmed failed (an assertion, or the program died inside it).
CMOCKA_RUN = re.compile(r"^\[ RUN      \] ", re.M)
CMOCKA_OK = re.compile(r"^\[       OK \] ", re.M)
TAP_OK = re.compile(r"^ok\b", re.M)
TAP_NOT_OK = re.compile(r"^not ok\b", re.M)


def count(entry):
    out = entry.get("stdout") or ""
    ok = entry.get("result") == "OK"
    runs = len(CMOCKA_RUN.findall(out))
    p = len(CMOCKA_OK.findall(out))
    f = runs - p
    if runs == 0:
        p = len(TAP_OK.findall(out))
        f = len(TAP_NOT_OK.findall(out))
    if not ok and f == 0:
        f = 1  # a crash, a sanitizer report or a timeout: the program itself failed
    if ok and p == 0 and f == 0:
        p = 1  # a check with no cases of its own (e.g. the header compile check)
    return p, f


def count_text(path):
    """A plain log of TAP-like "ok - ..." / "not ok - ..." lines (fuzz/run.sh, valgrind)."""
    with open(path, errors="replace") as fh:
        out = fh.read()
    return len(TAP_OK.findall(out)), len(TAP_NOT_OK.findall(out))


def main():
    passed = failed = 0
    for path in sys.argv[1:]:
        if not path.endswith(".json"):
            p, f = count_text(path)
            if f:
                print(f"FAILED: {path}: {f} failed", file=sys.stderr)
            passed += p
            failed += f
            continue
        with open(path) as fh:
            for line in fh:
                if not line.strip():
                    continue
                entry = json.loads(line)
                p, f = count(entry)
                if f:
                    print(f"FAILED: {entry.get('name')} ({path}): {f} failed", file=sys.stderr)
                passed += p
                failed += f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
