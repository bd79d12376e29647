#!/usr/bin/env bash
# The accuracy harness on a many-core host without Node.js or a registry (the GPU host of ../shared/device/, whose
# 16 CPU cores answer a full test split in minutes where this project's 2-core machine takes hours). ORT runs on
# the CPU there, exactly as `npm run eval` does here; only the number of processes differs.
#
# Here, after the build:
#   npx esbuild eval/run.ts packages/core/src/runtime/runtime.worker.ts --bundle --platform=node --format=esm \
#     --target=node20 --packages=external --entry-names=[name] --outdir=.device-eval/bundle   # harness + worker
#   bash ../shared/device/pack-node-runtime.sh packages/core       # .device/: node + core's production deps
#   training/prepare.sh's GGUF parts (.device-carry/gguf.parta[a-c]) reach /tmp/kvlink-eval over earlier calls.
# There:  bash eval/device/evalOnHost.sh <out-dir> <shards> [eval flags…]
# It joins the GGUF (sha256 checked), converts it with the committed adapter, runs <shards> eval processes of one
# thread each (`--shard i/<shards>`), and writes each shard's folder under <out-dir>; join them here with
#   npx tsx eval/mergeResults.ts --out eval/results/<name> <out-dir>/shard-*
set -euo pipefail
out=$1; shards=$2; shift 2
work=/tmp/kvlink-eval
gguf_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
source .device/prelude.sh >/dev/null
cat "$work"/gguf.part* > "$work/model.gguf"
actual=$(sha256sum "$work/model.gguf" | cut -d' ' -f1)
[ "$actual" = "$gguf_sha" ] || { echo "GGUF sha256 $actual, expected $gguf_sha" >&2; exit 3; }
# EVAL_ADAPTER: another adapter file (a candidate fresh from training) instead of the committed one.
node packages/core/dist/cli/main.js convert "$work/model.gguf" "$work/kvlink5" \
  --lora "${EVAL_ADAPTER:-packages/core/adapters/smollm2-135m-instruct-kvlink5.safetensors}" --json
mkdir -p "$out"
nproc; grep -m1 "model name" /proc/cpuinfo
pids=()
for ((i = 0; i < shards; i++)); do
  # EVAL_TIMEOUT_S: each shard is interrupted (SIGINT: it writes the records done so far) after that many seconds.
  timeout -s INT "${EVAL_TIMEOUT_S:-86400}" node .device-eval/bundle/run.js --model "kvlink5=$work/kvlink5" --threads 1 --shard "$i/$shards" \
    --out "$out/shard-$i" "$@" > "$out/shard-$i.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
tail -n 3 "$out"/shard-*.log | grep -v '^$' | tail -n 40
exit $status
