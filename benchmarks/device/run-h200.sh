#!/usr/bin/env bash
# The H200 run of issue 11, from a packed runtime (see docs/gpu.md): the CUDA provider unpacked by an earlier
# call into $1 (default /tmp/ortcuda); everything this prints goes to $OUT/device-log.txt.
set -uo pipefail
libs=${1:-/tmp/ortcuda}
kvlink() { echo "\$ kvlink $*"; node packages/core/dist/cli/main.js "$@"; echo "(exit $?)"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
ls -la "$libs"
kvlink doctor --no-probe
kvlink setup --gpu cuda --provider-dir "$libs"
suggested=$(node packages/core/dist/cli/main.js doctor --no-probe --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cuda"].get("suggestedLibraryPath",""))')
[ -n "$suggested" ] && export LD_LIBRARY_PATH=$suggested
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
kvlink doctor --require cuda
kvlink tiny-model /tmp/kvl-ask --layers 30 --hidden 576 --heads 9 --kv-heads 3 --vocab 1024 --intermediate 1536 --max-positions 8192 --signature kvlink --quant q4
for ep in cuda cpu; do
  kvlink ask --model /tmp/kvl-ask --no-store --docs examples/docs/*.md --question "Who built the Harrow Point lighthouse?" --execution-provider $ep --threads 16 --json
done
kvlink ask --model /tmp/kvl-ask --no-store --docs examples/docs/*.md --question "Who built it?" --execution-provider cuda --no-tf32 --json
# the same model with float16 past KV inputs (half the bytes uploaded per step)
kvlink tiny-model /tmp/kvl-ask16 --layers 30 --hidden 576 --heads 9 --kv-heads 3 --vocab 1024 --intermediate 1536 --max-positions 8192 --signature kvlink --quant q4 --past-kv fp16
kvlink ask --model /tmp/kvl-ask16 --no-store --docs examples/docs/*.md --question "Who built the Harrow Point lighthouse?" --execution-provider cuda --threads 16 --json
THREADS=16 EPS=${EPS:-cpu,cuda} node benchmarks/device/cuda-bench.mjs
