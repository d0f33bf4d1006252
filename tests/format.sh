#!/usr/bin/env bash
# Checks that every C source and header follows the project's .clang-format: prints
# "ok - format FILE" / "not ok - format FILE" (with the diff) per file and a final
# "N passed, N failed". Fix with: clang-format -i FILE
set -u
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "not ok - clang-format is not installed"; echo "0 passed, 1 failed"; exit 1; }
passed=0
failed=0
for f in $(git ls-files 'include/*.h' 'lib/*.[ch]' 'examples/*.[ch]' 'tests/*.[ch]' 'fuzz/*.[ch]' 2>/dev/null || find include lib examples tests fuzz -name '*.[ch]'); do
    if out=$(clang-format "$f" | diff -u "$f" -); then
        echo "ok - format $f"
        passed=$((passed + 1))
    else
        echo "not ok - format $f"
        printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
