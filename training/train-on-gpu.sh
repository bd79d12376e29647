#!/usr/bin/env bash
# KVLink fine-tuning on a GPU host (PyTorch, transformers, peft, safetensors, tokenizers; the gguf wheel is carried).
#   bash training/train-on-gpu.sh <carry-dir> <out-dir> [train.py flags…]
# <carry-dir> holds what `npm run train:prepare` wrote: gguf.part* (the default model's GGUF in parts), packed/
# (train.jsonl.gz, dev.jsonl.gz, meta.json, tokenizer.json) and gguf-*.whl. The GGUF parts may already have been
# joined under /tmp/kvlink-train by an earlier call (hosts that take one upload per call): they are reused when the
# sha256 matches.
set -euo pipefail
carry=$1; out=$2; shift 2
work=/tmp/kvlink-train
gguf_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$work" "$out"
if [ "$(realpath "$carry")" != "$(realpath "$work")" ]; then for p in "$carry"/gguf.part*; do [ -e "$p" ] && cp "$p" "$work/"; done; fi
if [ ! -f "$work/model.gguf" ] || [ "$(sha256sum "$work/model.gguf" | cut -d' ' -f1)" != "$gguf_sha" ]; then
  cat "$work"/gguf.part* > "$work/model.gguf"
fi
actual=$(sha256sum "$work/model.gguf" | cut -d' ' -f1)
[ "$actual" = "$gguf_sha" ] || { echo "GGUF sha256 $actual, expected $gguf_sha (parts: $(ls "$work"))" >&2; exit 3; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$carry"/gguf-*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 "$(dirname "$0")/kvlink_train/train.py" --gguf-dir "$work" --gguf-file model.gguf --data "$carry/packed" --out "$out" "$@"
