#!/usr/bin/env bash
# Bounded AddressSanitizer + UBSan run (a few minutes): builds FEEDHANDLER_BUILD=asan in a copy of the tree
# (build/sanitize/src, so the checkout's release build is untouched), then runs the decoders' fuzz tests and
# the random-mutation loop over every decoder with the ASan runtime preloaded. Any sanitizer report aborts
# the Python process, which fails this script; so does any error other than a FeedError from a decoder.
#
# Only the modules that parse wire bytes or hold books are instrumented (codec, kernel, book, sync, every
# exchange decoder); the others (transport, sinks, shm, recording...) are the checkout's release build,
# copied into the copy (uninstrumented code runs fine under the preloaded runtime). The checkout's
# generated C (build/cython-release) is reused when it is newer than its .pyx: the C does not depend on
# the compiler flags, so only the compiler runs again.
#   FEEDHANDLER_SANITIZE_SECONDS  seconds of the mutation loop (default 60)
#   FEEDHANDLER_SANITIZE_DIR      where to build (default <repo>/build/sanitize)
#   FEEDHANDLER_SANITIZE_ALL=1    instrument every module
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${FEEDHANDLER_SANITIZE_DIR:-$root/build/sanitize}"
seconds="${FEEDHANDLER_SANITIZE_SECONDS:-60}"
python="${PYTHON:-python}"
instrumented='feedhandler/codec/*,feedhandler/kernel/*,feedhandler/book/*,feedhandler/sync/*,feedhandler/exchanges/*/*decoder.pyx'
[ "${FEEDHANDLER_SANITIZE_ALL:-0}" = 1 ] && instrumented='*'
start=$SECONDS

lib="$(gcc -print-file-name=libasan.so)"
if [ "$lib" = libasan.so ] || [ ! -e "$lib" ]; then
    echo "sanitize: gcc's libasan.so is not installed (gcc -print-file-name=libasan.so)" >&2
    exit 3
fi

rm -rf "$work/src"
mkdir -p "$work"
# copy the tree; prints the .pyx files to build with ASan (the instrumented ones, and any other whose
# release module is missing or older than its .pyx)
only="$("$python" - "$root" "$work/src" "$instrumented" <<'PY'
import fnmatch, glob, os, shutil, sys
root, dest, patterns = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
skip = shutil.ignore_patterns("*.so", "*.c", "*.o", "*.html", "__pycache__", "build", ".hypothesis", "*.egg-info")
for name in ("feedhandler", "tests"):
    shutil.copytree(f"{root}/{name}", f"{dest}/{name}", ignore=skip)
for name in ("setup.py", "pyproject.toml"):
    shutil.copy2(f"{root}/{name}", f"{dest}/{name}")
if os.path.isdir(f"{root}/build/cython-release"):   # same C as asan mode (same directives): mtimes kept
    shutil.copytree(f"{root}/build/cython-release", f"{dest}/build/cython-asan")
build = []
for pyx in sorted(glob.glob("feedhandler/**/*.pyx", root_dir=root, recursive=True)):
    released = glob.glob(f"{root}/{pyx[:-4]}.cpython-*.so")
    if any(fnmatch.fnmatch(pyx, p) for p in patterns) or not released \
            or os.path.getmtime(released[0]) < os.path.getmtime(f"{root}/{pyx}"):
        build.append(pyx)
    else:
        shutil.copy2(released[0], os.path.join(dest, os.path.dirname(pyx), os.path.basename(released[0])))
print(",".join(build))
PY
)"
cd "$work/src"
echo "sanitize: building $(echo "$only" | tr ',' '\n' | wc -l) modules with FEEDHANDLER_BUILD=asan in $work/src (log: $work/build.log)"
if ! FEEDHANDLER_BUILD=asan FEEDHANDLER_ONLY="$only" nice "$python" setup.py build_ext --inplace -j 2 \
        > "$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    exit 1
fi
echo "sanitize: built in $((SECONDS - start)) s"

export LD_PRELOAD="$lib"
# leaks: the interpreter keeps its own allocations on purpose; errors abort (exit status != 0)
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
export PYTHONPATH="$work/src"

# the copy is what runs, instrumented: refuse to test the checkout's release build by mistake
"$python" - "$work/src" <<'PY'
import sys
import feedhandler.exchanges.binance.decoder as m
ok = m.__file__.startswith(sys.argv[1]) and b"__asan_init" in open(m.__file__, "rb").read()
sys.exit(0 if ok else f"sanitize: imported {m.__file__}, not the instrumented copy")
PY

echo "sanitize: decoder, codec, book, sync and kernel fuzz tests under ASan + UBSan"
timeout 900 "$python" -m pytest -q -p no:cacheprovider -x \
    tests/codec tests/book tests/kernel \
    tests/exchanges/binance/test_binance_decoder_fuzz.py \
    tests/exchanges/binance/test_binance_depth_fastpath.py \
    tests/exchanges/binance/test_binance_trade_fastpath.py \
    tests/exchanges/binance/test_binance_private.py \
    tests/exchanges/mexc/test_mexc_decoder.py \
    tests/exchanges/gateio/test_gateio_frames.py \
    tests/exchanges/okx/test_okx_frames.py \
    tests/exchanges/bybit/test_bybit_decoder.py \
    tests/exchanges/coinbase/test_coinbase_decoder.py \
    tests/sync/test_book_sync.py tests/sync/test_book_validity.py tests/sync/test_snapshot_decoder.py
echo "sanitize: tests done at $((SECONDS - start)) s"

echo "sanitize: ${seconds}s of random mutations through every decoder"
timeout $(( ${seconds%.*} + 300 )) "$python" tests/sanitize/mutate.py --seconds "$seconds"
echo "sanitize: clean in $((SECONDS - start)) s"
