#!/usr/bin/env bash
# Builds evald's fuzz targets and runs each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]      (default 15)
#
# Every libFuzzer target (clang, ASan + UBSan) runs on a copy of its seed
# corpus (tests/fuzz/corpus/<target>/) plus any kept crash
# (tests/fuzz/crashes/<target>/, replayed first as a regression), then the
# Python differential fuzzer of the io_cases input parser runs as long.
# Nothing is written into the repository: binaries, corpus copies, logs and
# new crash inputs go to tests/fuzz/build/ (git-ignored). Prints executions
# and crashes per target; exits 1 on any crash or property failure, 77 when
# clang with libFuzzer is not installed (a skip, which CI counts as failed).
#
# Environment: CC (default clang), FUZZ_BUILD_DIR, FUZZ_JOBS (parallel
# compiles, default 2), FUZZ_TARGETS (a space-separated subset, e.g.
# "fuzz_json io_input"), FUZZ_ARGS (extra libFuzzer flags).
#
# Flag and file lists are split on purpose (CFLAGS, $units), CFLAGS carries
# literal quotes for C string macros, and the sh -c scripts expand their own
# variables:
# shellcheck disable=SC2086,SC2016,SC2089,SC2090
set -euo pipefail

SECONDS_PER_TARGET=${1:-15}
case $SECONDS_PER_TARGET in
'' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$HERE/build}
CC=${CC:-clang}
JOBS=${FUZZ_JOBS:-2}
# The interpreter the sandbox runs the harness with (config key "python").
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

ALL_TARGETS="fuzz_json fuzz_path fuzz_job fuzz_workdir fuzz_base64 fuzz_query fuzz_assignment io_input"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}

# The src/ files each target links (util.c and log.c go into all of them).
sources_of() {
	case $1 in
	fuzz_json) echo common/jsonx api/http common/config ;;
	fuzz_path) echo common/path ;;
	fuzz_job) echo common/job common/jsonx common/path ;;
	# workdir.c frees with sb_files_free from sandbox.c, which pulls in the
	# seccomp filter and cgroup code; they are linked, never called.
	fuzz_workdir) echo executor/workdir executor/sandbox executor/filter executor/cgroup \
		common/path common/config ;;
	fuzz_base64) echo ;;
	fuzz_query) echo api/http common/config common/jsonx ;;
	# assignment.c also stores assignments: store.c and hiredis are linked,
	# never called.
	fuzz_assignment) echo common/assignment common/config common/jsonx common/path \
		common/store ;;
	esac
}

# libFuzzer flags per target: path and workdir inputs must be able to pass
# the 4096-byte path limit.
max_len_of() {
	case $1 in
	fuzz_path) echo 8192 ;;
	fuzz_workdir) echo 16384 ;;
	fuzz_assignment) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# config.c wants the install directories; they are never used here.
CFLAGS="-std=gnu11 -g -O1 $SAN -D_GNU_SOURCE -I$ROOT/src -I$HERE"
CFLAGS="$CFLAGS -DPKGDATADIR=\"/usr/share/evald\" -DSYSCONFDIR=\"/etc\""
PKGS="json-c libsodium uuid libseccomp hiredis"

toolchain_ok() {
	command -v "$CC" >/dev/null 2>&1 || return 1
	local t
	t=$(mktemp -d)
	printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' \
		>"$t/t.c"
	"$CC" -fsanitize=fuzzer,address,undefined "$t/t.c" -o "$t/t" >/dev/null 2>&1
	local rc=$?
	rm -rf "$t"
	return $rc
}

# Builds the C targets of $TARGETS into $BUILD. Returns 0 or 1.
build() {
	local obj=$BUILD/obj stamp=$BUILD/.stamp flags missing=0 t s
	flags="$CC $CFLAGS $PKGCFLAGS $PKGLIBS"
	mkdir -p "$obj"
	for t in $TARGETS; do
		if [ "$t" != io_input ] && [ ! -x "$BUILD/$t" ]; then
			missing=1
		fi
	done
	# Rebuild everything when a target is missing, any C source or header
	# changed, or the flags did.
	if [ "$missing" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$flags" ] &&
		[ -z "$(find "$ROOT/src" "$HERE" -path "$BUILD" -prune -o \
			\( -name '*.[ch]' -newer "$stamp" \) -print -quit)" ]; then
		return 0
	fi
	echo "building fuzz targets in ${BUILD#"$ROOT"/}"
	rm -f "$stamp"
	local units="common/util common/log"
	for t in $TARGETS; do
		[ "$t" = io_input ] && continue
		units="$units $(sources_of "$t")"
	done
	units=$(printf '%s\n' $units | sort -u)
	# Library code: instrumented for coverage, without libFuzzer's main.
	printf '%s\n' $units | xargs -P "$JOBS" -I{} sh -c '
		$CC $CFLAGS $PKGCFLAGS -fsanitize=fuzzer-no-link -c "$ROOT/src/$1.c" \
			-o "$BUILD/obj/$(echo "$1" | tr / _).o"' sh {} || return 1
	for t in $TARGETS; do
		[ "$t" = io_input ] && continue
		local objs=""
		for s in common/util common/log $(sources_of "$t"); do
			objs="$objs $obj/$(echo "$s" | tr / _).o"
		done
		echo "$t $objs"
	done | xargs -P "$JOBS" -L1 sh -c '
		t=$1; shift
		$CC $CFLAGS $PKGCFLAGS -fsanitize=fuzzer "$HERE/$t.c" "$@" \
			$PKGLIBS -lm -o "$BUILD/$t"' sh || return 1
	echo "$flags" >"$stamp"
}

# Runs one libFuzzer target; appends "target executions crashes" to SUMMARY.
run_target() {
	local t=$1 dir=$BUILD/run/$1 rc=0 execs crashes
	rm -rf "$dir"
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp "$HERE/corpus/$t/"* "$dir/corpus/" 2>/dev/null || true
	if compgen -G "$HERE/crashes/$t/*" >/dev/null; then
		cp "$HERE/crashes/$t/"* "$dir/corpus/"
	fi
	local dict=()
	if [ -f "$HERE/dict/$t.dict" ]; then
		dict=(-dict="$HERE/dict/$t.dict")
	fi
	echo "== $t (${SECONDS_PER_TARGET}s)"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$BUILD/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
		-rss_limit_mb=2048 -max_len="$(max_len_of "$t")" -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} \
		"$dir/corpus" >"$dir/log" 2>&1 || rc=$?
	execs=$(awk -F: '/^stat::number_of_executed_units/ { gsub(/ /, "", $2); n = $2 }
		END { print n + 0 }' "$dir/log")
	if [ "$execs" -eq 0 ]; then
		# A crash stops libFuzzer before its final stats: take the last
		# progress line ("#1234 ...").
		execs=$(awk '/^#[0-9]+/ { n = substr($1, 2) } END { print n + 0 }' "$dir/log")
	fi
	crashes=$(find "$dir/artifacts" -type f | wc -l)
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1 # died without an artifact (e.g. the build is broken)
	fi
	if [ "$crashes" -gt 0 ]; then
		echo "   FAILED (exit $rc); from $dir/log:"
		# What failed, and the frames in evald's own code.
		grep -E -A1 'property failed|runtime error|ERROR: ' "$dir/log" |
			grep -v '^--' | head -12 | sed 's/^/   | /'
		grep -E '^ +#[0-9]+ .*/(src/[a-z]+|tests/fuzz)/[a-z_0-9]+\.c:' "$dir/log" | head -8 | sed 's/^/   | /'
		local a k known
		for a in "$dir/artifacts"/*; do
			[ -f "$a" ] || continue
			known=""
			for k in "$HERE/crashes/$t"/*; do
				if [ -f "$k" ] && cmp -s "$a" "$k"; then
					known=$k
				fi
			done
			if [ -n "$known" ]; then
				echo "   a kept crash still reproduces: ${known#"$ROOT"/}"
			else
				echo "   new crash input: $a"
				echo "   keep it: cp '$a' tests/fuzz/crashes/$t/"
			fi
		done
		echo "   reproduce: $BUILD/$t <input>"
		FAILED=1
	fi
	SUMMARY="$SUMMARY$(printf '%-13s %12s %8s' "$t" "$execs" "$crashes")\n"
}

run_python() {
	local dir=$BUILD/run/io_input rc=0 execs crashes
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "== io_input (${SECONDS_PER_TARGET}s, Python differential)"
	"$PY" "$HERE/fuzz_io_input.py" --seconds "$SECONDS_PER_TARGET" \
		--corpus "$HERE/corpus/io_input" --crashes "$HERE/crashes/io_input" \
		--artifacts "$dir" >"$dir/log" 2>&1 || rc=$?
	execs=$(awk '/^executions:/ { print $2 }' "$dir/log")
	crashes=$(awk '/^mismatches:/ { print $2 }' "$dir/log")
	execs=${execs:-0} crashes=${crashes:-0}
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1
	fi
	if [ "$crashes" -gt 0 ]; then
		echo "   FAILED (exit $rc):"
		head -40 "$dir/log" | sed 's/^/   | /'
		FAILED=1
	fi
	SUMMARY="$SUMMARY$(printf '%-13s %12s %8s' io_input "$execs" "$crashes")\n"
}

cd "$ROOT"
start=$(date +%s)
NEED_C=0
for t in $TARGETS; do
	if [ "$t" != io_input ]; then
		NEED_C=1
	fi
done
if [ "$NEED_C" = 1 ]; then
	if ! toolchain_ok; then
		echo "fuzz: $CC with libFuzzer is missing:" \
			"apt-get install clang libclang-rt-14-dev (skipped)" >&2
		exit 77
	fi
	PKGCFLAGS=$(pkg-config --cflags $PKGS)
	PKGLIBS=$(pkg-config --libs $PKGS)
	export CC CFLAGS PKGCFLAGS PKGLIBS HERE BUILD ROOT
	if ! build; then
		echo "fuzz: the build failed" >&2
		exit 1
	fi
fi

FAILED=0
SUMMARY=""
for t in $TARGETS; do
	if [ "$t" = io_input ]; then
		run_python
	else
		run_target "$t"
	fi
done

printf '\n%-13s %12s %8s\n' target executions crashes
printf '%b' "$SUMMARY"
printf 'fuzz: %ss per target, %ss in all: %s\n' "$SECONDS_PER_TARGET" \
	"$(($(date +%s) - start))" "$([ "$FAILED" = 0 ] && echo ok || echo FAILED)"
exit "$FAILED"
