#!/usr/bin/env bash
# scripts/tidy.sh — the rules a grep can check: layering of #includes per
# folder (DESIGN.md, "Layers"), and a warning-free clang build of every file.
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0
failed=0
check() { # check NAME CONDITION-OUTPUT
	if [ -z "$2" ]; then
		echo "ok   $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1"
		echo "$2" | sed 's/^/     /'
		failed=$((failed + 1))
	fi
}

std_headers='assert|ctype|errno|float|inttypes|limits|math|setjmp|stdarg|stdbool|stddef|stdint|stdio|stdlib|string|time'

# harpoon: pure; only the C standard library, util/check.h and itself.
bad=$(grep -nE '^#include' src/harpoon/*.[ch] | grep -vE "<($std_headers)\.h>|\"harpoon/|\"util/check\.h\"")
check "harpoon includes only the C library, util/check.h and harpoon/" "$bad"
bad=$(grep -nE '(^|[^._>a-z])(time|clock_gettime|gettimeofday|rand|srand|fopen|printf|pthread_[a-z_]+)\(' src/harpoon/*.c)
check "harpoon reads no clock, makes no IO, no threads, no libc randomness" "$bad"
# util: depends on nothing above it.
bad=$(grep -nE '^#include "' src/util/*.[ch] | grep -v '"util/')
check "util includes only util/" "$bad"
# storage: util, its own files, and harpoon.h for the plain record types.
if ls src/storage/*.[ch] >/dev/null 2>&1; then
	bad=$(grep -nE '^#include "' src/storage/*.[ch] | grep -vE '"(util/|storage/|harpoon/harpoon\.h")')
	check "storage includes only util/, storage/ and harpoon/harpoon.h" "$bad"
fi
# net: the wire codecs and the peer transport; util, and harpoon.h for the
# message types the peer codec carries.
if ls src/net/*.[ch] >/dev/null 2>&1; then
	bad=$(grep -nE '^#include "' src/net/*.[ch] | grep -vE '"(util/|net/|harpoon/harpoon\.h")')
	check "net includes only util/, net/ and harpoon/harpoon.h" "$bad"
	bad=$(grep -nE '^#include "' src/net/resp*.[ch] | grep -vE '"(util/|net/resp)')
	check "the RESP codec includes only util/ and itself (the client library uses it)" "$bad"
fi
# server: the wiring; anything below it, nothing of the simulator or the client.
if ls src/server/*.[ch] >/dev/null 2>&1; then
	bad=$(grep -nE '^#include "' src/server/*.[ch] | grep -vE '"(util|harpoon|storage|net|server)/')
	check "server includes only util/, harpoon/, storage/, net/ and server/" "$bad"
fi
# client (librasputin) and cli: util and the RESP codec only, plus the public header.
if ls src/client/*.[ch] src/cli/*.[ch] >/dev/null 2>&1; then
	bad=$(grep -nE '^#include "' src/client/*.[ch] src/cli/*.[ch] 2>/dev/null |
		grep -vE '"(util/|net/resp\.h"|client/|cli/|rasputin\.h")')
	check "client and cli include only util/, net/resp.h, client/, cli/ and rasputin.h" "$bad"
fi
# sim: may use harpoon, storage and util, nothing else of ours.
bad=$(grep -nE '^#include "' src/sim/*.[ch] | grep -vE '"(util|harpoon|storage|sim)/')
check "sim includes only util/, harpoon/, storage/ and sim/" "$bad"

flags="-std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Wmissing-prototypes -Werror -Isrc -Iinclude -Itests/unit"
out=$(for f in src/*/*.c tests/unit/*.c tests/cluster/*.c examples/*.c; do clang $flags -fsyntax-only "$f" 2>&1; done)
check "clang 14 builds every file warning-free with -Werror" "$out"

echo "tidy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
