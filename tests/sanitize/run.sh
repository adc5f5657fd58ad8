#!/usr/bin/env bash
# Bounded AddressSanitizer + UBSan run (a few minutes): builds FEEDHANDLER_BUILD=asan in a copy of the tree
# (build/sanitize/src, so the checkout's release build is untouched), then runs the decoders' fuzz tests and
# the random-mutation loop over every decoder with the ASan runtime preloaded. Any sanitizer report aborts
# the Python process, which fails this script; so does any error other than a FeedError from a decoder.
#   FEEDHANDLER_SANITIZE_SECONDS  seconds of the mutation loop (default 60)
#   FEEDHANDLER_SANITIZE_DIR      where to build (default <repo>/build/sanitize)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${FEEDHANDLER_SANITIZE_DIR:-$root/build/sanitize}"
seconds="${FEEDHANDLER_SANITIZE_SECONDS:-60}"
python=python

rm -rf "$work/src"
mkdir -p "$work"
"$python" - "$root" "$work/src" <<'PY'
import shutil, sys
root, dest = sys.argv[1], sys.argv[2]
skip = shutil.ignore_patterns("*.so", "*.c", "*.o", "*.html", "__pycache__", "build", ".hypothesis", "*.egg-info")
for name in ("feedhandler", "tests"):
    shutil.copytree(f"{root}/{name}", f"{dest}/{name}", ignore=skip)
for name in ("setup.py", "pyproject.toml"):
    shutil.copy(f"{root}/{name}", f"{dest}/{name}")
PY
cd "$work/src"
echo "sanitize: building FEEDHANDLER_BUILD=asan in $work/src (log: $work/build.log)"
if ! FEEDHANDLER_BUILD=asan nice "$python" setup.py build_ext --inplace > "$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    exit 1
fi

LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export LD_PRELOAD
# leaks: the interpreter keeps its own allocations on purpose; errors abort (exit status != 0)
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
export PYTHONPATH="$work/src"

# the copy is what runs: refuse to test the checkout's release build by mistake
"$python" -c "import feedhandler.sync.book_sync as m, sys; sys.exit(0 if m.__file__.startswith('$work/src') else 'sanitize: imported ' + m.__file__)"

echo "sanitize: decoder fuzz tests under ASan + UBSan"
timeout 600 "$python" -m pytest -q -p no:cacheprovider -x \
    tests/codec tests/book \
    tests/exchanges/binance/test_binance_decoder_fuzz.py \
    tests/exchanges/binance/test_binance_depth_fastpath.py \
    tests/exchanges/binance/test_binance_trade_fastpath.py \
    tests/exchanges/mexc/test_mexc_decoder.py \
    tests/exchanges/gateio/test_gateio_frames.py \
    tests/sync/test_book_sync.py tests/sync/test_book_validity.py

echo "sanitize: ${seconds}s of random mutations through every decoder"
timeout $(( ${seconds%.*} + 300 )) "$python" tests/sanitize/mutate.py --seconds "$seconds"
echo "sanitize: clean"
