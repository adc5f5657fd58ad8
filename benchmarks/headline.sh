#!/bin/bash
# The README's headline figures in one go (about 5 minutes on an idle 2-core machine):
#   bash benchmarks/headline.sh [OUT_DIR]
# Each group's cases run beside their baselines in the same pytest run; read the "ratios within each group"
# block at the end of each file. Run it on a quiet machine: wall-clock figures measure the machine's load too.
set -u
cd "$(dirname "$0")/.."
out=${1:-headline_$(date +%Y%m%dT%H%M)}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1
B="python -m pytest -q -p no:cacheprovider --benchmark-only --benchmark-columns=median,min,rounds"
run() {
    local name=$1; shift
    echo "$(date +%T) $name (load: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/log.txt"
    $B "$@" > "$out/$name.txt" 2>&1 || echo "  $name: pytest exit $?" | tee -a "$out/log.txt"
}
run replay benchmarks/bench_binance.py -k replay
run transport benchmarks/bench_transport.py -k "flood_binance or paced or flood_counting"
run depth benchmarks/bench_book.py -k "depth_apply_best and (ladder-c or sorted-c or sorteddict or order-book)"
run snapshot benchmarks/bench_book.py -k snapshot_load
run consumer benchmarks/bench_consumer.py
run decoders benchmarks/bench_binance.py benchmarks/bench_gateio.py benchmarks/bench_mexc.py -k "not replay"
run exchanges benchmarks/bench_bybit.py benchmarks/bench_okx.py benchmarks/bench_coinbase.py
run export benchmarks/bench_export.py
run workers benchmarks/bench_workers.py
run bus benchmarks/bench_bus.py -k "paired or book_events_nats_publish"
run latency benchmarks/bench_bus_latency.py
echo "results in $out"
