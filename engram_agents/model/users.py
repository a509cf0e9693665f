"""Per-user memory as a sparse delta over the shared Engram tables.

A delta holds, for each Engram layer, the rows the user's facts wrote (indices, values, tags) and
the small dense Engram weights, plus the user's fact list (needed to replay and to forget facts;
AES-GCM sealed when the model has the store's key, else plain JSON in the header); it is one
safetensors file written to a temporary name and renamed, so a crash never leaves half a delta.
Loading a delta first records the shared values it overwrites, so unloading restores the shared
tables bit for bit.
"""

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from engram_agents.errors import AdapterError
from engram_agents.ids import check_id
from engram_agents.model.facts import Fact
from engram_agents.model.model import EngramModel
from engram_agents.store.crypto import Cipher
from engram_agents.store.errors import EncryptionError

FORMAT = "engram-user-delta/1"


def atomic_save(tensors: dict[str, Tensor], metadata: dict[str, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class UserDeltas:
    """Loads, applies, saves and unloads users' deltas for one EngramModel."""

    def __init__(self, model: EngramModel, root: Path) -> None:
        self.model = model
        self.root = Path(root)
        self.user_id: str | None = None
        self.facts: list[Fact] = []
        self._shared_dense = {
            name: {n: p.detach().clone() for n, p in layer.dense_parameters().items()}
            for name, layer in model.engram.items()
        }
        self._restore: dict[str, tuple[Tensor, Tensor, Tensor]] = {}
        self.cipher: Cipher | None = None  # set: the fact list is saved encrypted

    def path(self, user_id: str) -> Path:
        digest = hashlib.sha256(check_id(user_id).encode()).hexdigest()[:32]
        return self.root / f"{digest}.safetensors"

    # -- shared state ---------------------------------------------------------------------
    def remember_shared(self, rows_by_layer: dict[str, Tensor]) -> None:
        """Record the shared values of rows about to be overwritten (first write wins)."""
        for name, rows in rows_by_layer.items():
            layer = self.model.engram[name]
            old = self._restore.get(name)
            if old is not None:
                rows = rows[~torch.isin(rows, old[0])]
            vals, tags = layer.table.data[rows].clone(), layer.tags[rows].clone()
            if old is not None:
                rows, vals, tags = (torch.cat(p) for p in zip(old, (rows, vals, tags), strict=True))
            self._restore[name] = (rows, vals, tags)

    def release(self, rows_by_layer: dict[str, Tensor]) -> int:
        """Give rows back their shared values (the user's writes there are dropped); returns
        how many distinct rows the user had written among them."""
        released: set[int] = set()
        with torch.no_grad():
            for name, rows in rows_by_layer.items():
                saved = self._restore.get(name)
                if saved is None:
                    continue
                hit = torch.isin(saved[0], rows)
                layer = self.model.engram[name]
                layer.table.data[saved[0][hit]] = saved[1][hit]
                layer.tags[saved[0][hit]] = saved[2][hit]
                released.update(saved[0][hit].tolist())
        return len(released)

    def unload(self) -> None:
        """Restore the shared tables and dense weights exactly."""
        with torch.no_grad():
            for name, (rows, vals, tags) in self._restore.items():
                layer = self.model.engram[name]
                layer.table.data[rows] = vals
                layer.tags[rows] = tags
            for name, params in self._shared_dense.items():
                for n, p in self.model.engram[name].dense_parameters().items():
                    p.data.copy_(params[n])
        self._restore = {}
        self.user_id, self.facts = None, []

    # -- delta io -------------------------------------------------------------------------
    def load(self, user_id: str) -> None:
        """Apply a user's delta (or none, for a user with no memories yet)."""
        path = self.path(user_id)
        tensors, facts = self._read(path) if path.exists() else ({}, [])
        self.unload()
        if tensors:
            self.remember_shared({n: tensors[f"{n}.rows"] for n in self.model.engram})
            unpack(self.model, tensors)
        self.user_id, self.facts = user_id, facts

    def save(self) -> Path:
        """Write the loaded user's rows (those differing from shared) and dense weights."""
        changed = {}
        for name, layer in self.model.engram.items():
            rows, vals, tags = self._restore.get(name, (torch.empty(0, dtype=torch.long),) * 3)
            if len(rows):
                diff = (layer.tags[rows] != tags) | (layer.table.data[rows] != vals).any(-1)
                rows = rows[diff]
            changed[name] = rows
        path = self.path(self.user_id)
        facts = json.dumps([f.model_dump() for f in self.facts])
        if self.cipher is None:
            meta = {"user_id": self.user_id or "", "facts": facts}
        else:  # the user id and the facts' text stay as unreadable as the encrypted store
            sealed = self.cipher.encrypt(facts.encode(), _bound_to(path))
            meta = {"facts_sealed": base64.b64encode(sealed).decode()}
        atomic_save(pack(self.model, changed), header(self.model, FORMAT, meta), path)
        return path

    def delete(self, user_id: str) -> None:
        if self.user_id == user_id:
            self.unload()
        self.path(user_id).unlink(missing_ok=True)

    def _read(self, path: Path) -> tuple[dict[str, Tensor], list[Fact]]:
        tensors, meta = read_checked(self.model, path, FORMAT)
        facts = meta.get("facts", "[]")
        if "facts_sealed" in meta:
            if self.cipher is None:
                raise EncryptionError(
                    f"{path} holds encrypted facts: give the model the store's key "
                    "(EngramLM.set_encryption_key, or EngramMemory.attach_model(lm) on the "
                    "encrypted memory)"
                )
            blob = base64.b64decode(meta["facts_sealed"])
            facts = self.cipher.decrypt(blob, _bound_to(path)).decode()
        return tensors, [Fact(**f) for f in json.loads(facts)]


def _bound_to(path: Path) -> str:
    """Sealed facts name their file (the user's digest), so they cannot be moved to another."""
    return f"engram-user-delta:{path.name}"


def header(model: EngramModel, fmt: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "format": fmt,
        "config": model.config.model_dump_json(),
        "config_fingerprint": model.config.fingerprint(),
        "total_rows": str(model.total_rows),
        **(extra or {}),
    }


def pack(model: EngramModel, rows_by_layer: dict[str, Tensor]) -> dict[str, Tensor]:
    """The given rows (values, tags) and all dense weights of every Engram layer."""
    tensors: dict[str, Tensor] = {}
    for name, layer in model.engram.items():
        rows = rows_by_layer[name]
        tensors[f"{name}.rows"] = rows
        tensors[f"{name}.values"] = layer.table.data[rows]
        tensors[f"{name}.tags"] = layer.tags[rows]
        for n, p in layer.dense_parameters().items():
            tensors[f"{name}.dense.{n}"] = p.detach()
    return tensors


def unpack(model: EngramModel, tensors: dict[str, Tensor]) -> None:
    with torch.no_grad():
        for name, layer in model.engram.items():
            rows = tensors[f"{name}.rows"].to(layer.tags.device)
            layer.table.data[rows] = tensors[f"{name}.values"].to(layer.table)
            layer.tags[rows] = tensors[f"{name}.tags"].to(layer.tags)
            for n, p in layer.dense_parameters().items():
                p.data.copy_(tensors[f"{name}.dense.{n}"])


def read_checked(model: EngramModel, path: Path, fmt: str) -> tuple[dict[str, Tensor], dict]:
    """Read a packed file and check it fits this model's config and table shapes."""
    try:
        tensors = load_file(path)
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise AdapterError(f"{path} is unreadable: {e}") from e
    if meta.get("format") != fmt:
        raise AdapterError(f"{path} is not a {fmt} file (format {meta.get('format')!r})")
    if meta.get("config_fingerprint") != model.config.fingerprint():
        raise AdapterError(
            f"{path} was trained with a different EngramConfig ({meta.get('config')}) "
            f"than the loaded model ({model.config.model_dump_json()})"
        )
    if meta.get("total_rows") != str(model.total_rows):
        raise AdapterError(
            f"{path} is for tables of {meta.get('total_rows')} rows, "
            f"the model has {model.total_rows}"
        )
    for name, layer in model.engram.items():
        rows, vals = tensors.get(f"{name}.rows"), tensors.get(f"{name}.values")
        if rows is None or vals is None or vals.shape != (len(rows), layer.table.shape[1]):
            raise AdapterError(f"{path} has a malformed entry for Engram layer {name}")
        if len(rows) and (rows.min() < 0 or rows.max() >= model.total_rows):
            raise AdapterError(f"{path} addresses rows outside the table")
        for n, p in layer.dense_parameters().items():
            t = tensors.get(f"{name}.dense.{n}")
            if t is None or t.shape != p.shape:
                raise AdapterError(f"{path}: Engram weight {name}.{n} has the wrong shape")
    return tensors, meta
