"""EngramLM: a local causal LM with Engram layers that can memorize facts per user."""

import enum
import math
import os
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
from platformdirs import user_data_dir

from engram_agents.errors import InvalidInputError
from engram_agents.ids import check_id
from engram_agents.model.chat_format import ChatEncoder
from engram_agents.model.compression import TokenCompressor
from engram_agents.model.config import EngramConfig
from engram_agents.model.facts import Fact
from engram_agents.model.generation import (
    MemoryMix,
    Prompt,
    SamplingParams,
    check_weights,
    generate,
)
from engram_agents.model.loading import default_model_dir, load_base
from engram_agents.model.memorize import (
    ForgetReport,
    MemorizeReport,
    TrainConfig,
    hit_rows_by_fact,
    train,
    written_rows,
)
from engram_agents.model.model import EngramModel
from engram_agents.model.users import (
    UserDeltas,
    atomic_save,
    header,
    pack,
    read_checked,
    unpack,
)
from engram_agents.store.crypto import Cipher

ADAPTER_FORMAT = "engram-adapter/1"
ADAPTER_FILE = "engram_adapter.safetensors"
CONFIG_FILE = "engram_config.json"


class _Current(enum.Enum):
    USER = "current user"


CURRENT = _Current.USER  # stream(user_id=CURRENT): keep whichever user is loaded


class EngramLM:
    """A frozen Hugging Face causal LM plus Engram layers; one user's memory loaded at a time.

    >>> lm = EngramLM.from_default()
    >>> lm.memorize([("When is my dentist appointment?", "Tuesday at 3 pm")], user_id="ana")
    >>> lm.chat([{"role": "user", "content": "When is my dentist appointment?"}])
    """

    def __init__(
        self,
        model,
        tokenizer,
        config: EngramConfig | None = None,
        storage_dir: str | os.PathLike | None = None,
    ) -> None:
        self.config = config or EngramConfig()
        self.tokenizer = tokenizer
        self.encoder = ChatEncoder(tokenizer)
        self.model = EngramModel(model, self.config, TokenCompressor(tokenizer))
        self.storage_dir = Path(storage_dir or Path(user_data_dir("engram-agents")) / "users")
        self._users = UserDeltas(self.model, self.storage_dir / self.model_id)
        self._lock = threading.RLock()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        config: EngramConfig | None = None,
        adapter: str | os.PathLike | None = None,
        storage_dir: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
    ) -> "EngramLM":
        """Any local Hugging Face causal-LM folder (Llama, Qwen2/3, GPT-2, ...); never downloads.

        With `adapter`, the Engram config and shared tables saved by `save_adapter` are loaded.
        """
        if adapter is not None:
            config = EngramConfig.model_validate_json(
                _read_text(Path(adapter) / CONFIG_FILE, "adapter config")
            )
        model, tok = load_base(path, torch.device(device) if device else None)
        lm = cls(model, tok, config, storage_dir)
        if adapter is not None:
            tensors, _ = read_checked(lm.model, Path(adapter) / ADAPTER_FILE, ADAPTER_FORMAT)
            unpack(lm.model, tensors)
            lm._users = UserDeltas(lm.model, lm._users.root)  # the adapter is the new shared state
        return lm

    @classmethod
    def from_default(cls, **kwargs) -> "EngramLM":
        """The embedded SmolLM2-135M-Instruct (converted from its GGUF once, then cached)."""
        return cls.from_pretrained(default_model_dir(), **kwargs)

    @property
    def model_id(self) -> str:
        name = Path(str(self.model.base.config._name_or_path or "model")).name
        return f"{name}-{self.config.fingerprint()}"

    @property
    def device(self) -> torch.device:
        return self.model.multipliers.device

    # -- generation -----------------------------------------------------------------------
    def stream(
        self,
        messages,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: str | Iterable[str] | None = None,
        seed: int | None = None,
        prefix: str = "",
        user_id: str | _Current | None = CURRENT,
        memory_weight: float = 0.0,
        tables_weight: float = 0.0,
    ) -> Iterator[str]:
        """Yield the reply to a chat as text pieces, as tokens are decoded.

        `prefix` forces the reply to start with that text (it is not yielded again), e.g. the
        opening of a tool call. `user_id` loads that user's memory (None: the shared tables)
        for this reply, under the same lock as decoding, so threads serving different users
        never mix them up; by default the loaded user stays.

        Where content parts are marked `recalled`, `memory_weight` > 0 decodes toward what
        they add to the prompt, and `tables_weight` > 0 (with a user's tables loaded) adds
        what the tables recall from the prompt without them (`MemoryMix`: one more forward
        pass per token for each). Without recalled parts both change nothing.
        """
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        params = SamplingParams(max_new_tokens, temperature, top_p, stops, seed)
        forced = self.tokenizer.encode(prefix, add_special_tokens=False) if prefix else []

        def prompt(recalled: bool) -> Prompt:
            ids, mask = self.encoder.encode(messages, recalled=recalled)
            return Prompt(ids + forced, mask + [0] * len(forced))

        check_weights(memory_weight, tables_weight)
        full = prompt(True)
        bare = prompt(False) if memory_weight or tables_weight else full  # else: plain
        with self._lock:
            if user_id is not CURRENT:
                self.load_user(user_id)
            mix = None
            if bare.ids != full.ids:  # recalled parts to weigh
                tables = bare if tables_weight and self.user_id is not None else None
                if tables is not None:  # the tables read the question alone, nothing else
                    full, bare = full.unkeyed(), bare.unkeyed()
                if memory_weight or tables is not None:
                    mix = MemoryMix(bare, tables, memory_weight, tables_weight)
            yield from generate(
                self.model,
                self.tokenizer,
                full.ids,
                full.key_mask,
                params,
                self.encoder.stop_token_ids(),
                mix,
            )

    def chat(self, messages, **kwargs) -> str:
        """The reply to a chat (list of {role, content}); kwargs as for `stream`."""
        return "".join(self.stream(messages, **kwargs))

    def count_tokens(self, messages) -> int:
        return len(self.encoder.encode(messages)[0])

    # -- memory ---------------------------------------------------------------------------
    def load_user(self, user_id: str | None) -> None:
        """Apply a user's memory delta; None restores the shared tables bit for bit."""
        with self._lock:
            if user_id != self.user_id:
                self.model.require_device_tables("loading another user's memory")
            if user_id is None:
                self._users.unload()
            elif self._users.user_id != check_id(user_id):
                self._users.load(user_id)

    def unload_user(self) -> None:
        self.load_user(None)

    @property
    def user_id(self) -> str | None:
        return self._users.user_id

    def facts(self, user_id: str) -> list[Fact]:
        with self._lock:
            self.load_user(user_id)
            return list(self._users.facts)

    def memorize(
        self,
        facts: Iterable,
        user_id: str,
        train_config: TrainConfig | None = None,
        progress: Callable[[int, int, float], None] | None = None,
    ) -> MemorizeReport:
        """Write facts into the user's tables (statements, (question, answer) pairs or Facts).

        A fact with the same question as a stored one replaces it. Only new or changed facts are
        trained, alongside a replay of stored ones (`TrainConfig.replay`), so adding facts costs
        time in proportion to what is new. The user's delta is saved and stays loaded.
        """
        if isinstance(facts, str | Fact | dict):
            facts = [facts]
        new = [Fact.coerce(f) for f in facts]
        if not new:
            raise InvalidInputError("memorize needs at least one fact")
        cfg = train_config or TrainConfig()
        with self._lock:
            self.model.require_device_tables("memorize")
            self.load_user(user_id)
            kept = {f.identity(): f for f in self._users.facts}
            fresh = {f.identity(): f for f in new if kept.get(f.identity()) != f}
            if not fresh:
                return MemorizeReport(0, 0, 0, 0.0, 0.0, 0)
            old = [f for key, f in kept.items() if key not in fresh]
            kept.update(fresh)
            self._users.facts = list(kept.values())
            report = self._train(list(fresh.values()), old, cfg, progress)
            self._users.save()
            return report

    def _train(
        self,
        facts: list[Fact],
        others: list[Fact],
        cfg: TrainConfig,
        progress: Callable[[int, int, float], None] | None,
    ) -> MemorizeReport:
        """Train `facts` alongside a replay of `others` (so the dense Engram weights they share
        keep serving those), keeping the shared values of every row it may change."""
        n_replay = min(len(others), math.ceil(cfg.replay * len(facts)))
        replay = random.Random(cfg.seed).sample(others, n_replay)
        return train(
            self.model,
            self.encoder,
            [*facts, *replay],
            cfg,
            progress,
            before_write=self._users.remember_shared,
        )

    def forget(self, fact, user_id: str, train_config: TrainConfig | None = None) -> bool:
        """Remove a fact (matched by its question or statement) from the user's tables and
        delta file (see `forget_many`); returns whether the fact was stored."""
        return self.forget_many([fact], user_id, train_config).facts == 1

    def forget_many(
        self,
        facts: list,
        user_id: str,
        train_config: TrainConfig | None = None,
        progress: Callable[[int, int, float], None] | None = None,
    ) -> ForgetReport:
        """Remove several facts in one pass and one save, leaving no row trained on them.

        Every row their training touched gets its shared value back, rows that remaining facts
        use too included (keeping those would keep what was learned from the forgotten fact
        there); then the remaining facts that used one of those rows are retrained (with a
        replay of the others, as `memorize` does), so they are still recalled. The dense Engram
        weights, which every fact of the user shares, are not reset."""
        targets = {Fact.coerce(f).identity() for f in facts}
        with self._lock:
            self.model.require_device_tables("forget")
            self.load_user(user_id)
            facts = self._users.facts
            gone = [f for f in facts if f.identity() in targets]
            if not gone:
                return ForgetReport(0, 0, 0)
            remaining = [f for f in facts if f.identity() not in targets]
            hits = list(zip(facts, hit_rows_by_fact(self.model, self.encoder, facts), strict=True))
            rows = torch.unique(
                torch.cat(
                    [
                        *(h for f, h in hits if f.identity() in targets),
                        *written_rows(self.model, self.encoder, gone).values(),
                    ]
                )
            )
            touching = [
                f for f, h in hits if f.identity() not in targets and torch.isin(h, rows).any()
            ]
            reset = self._users.release({name: rows for name in self.model.engram})
            self._users.facts = remaining
            training = None
            if touching:
                others = [f for f in remaining if f not in touching]
                training = self._train(touching, others, train_config or TrainConfig(), progress)
            self._users.save()
            return ForgetReport(len({f.identity() for f in gone}), reset, len(touching), training)

    def set_encryption_key(self, key: "str | bytes | Cipher") -> None:
        """Seal the fact list in users' delta files with this key (the memory store's), as the
        encrypted store seals its engrams; deltas saved from now on are sealed, and sealed ones
        need the key to load. `EngramMemory.attach_model` sets it from an encrypted memory."""
        with self._lock:
            self._users.cipher = key if isinstance(key, Cipher) else Cipher(key)

    def memory_path(self, user_id: str) -> Path:
        """The file holding a user's memory delta (it exists once they memorized something)."""
        return self._users.path(user_id)

    def forget_user(self, user_id: str) -> None:
        """Delete everything memorized for a user."""
        with self._lock:
            self._users.delete(check_id(user_id))

    # -- adapters -------------------------------------------------------------------------
    def save_adapter(self, path: str | os.PathLike) -> Path:
        """Save the EngramConfig and the current (shared) Engram state next to each other."""
        with self._lock:
            out = Path(path)
            out.mkdir(parents=True, exist_ok=True)
            rows = {
                n: torch.nonzero(layer.tags).flatten() for n, layer in self.model.engram.items()
            }
            atomic_save(
                pack(self.model, rows), header(self.model, ADAPTER_FORMAT), out / ADAPTER_FILE
            )
            tmp = out / f".{CONFIG_FILE}.tmp"
            tmp.write_text(self.config.model_dump_json(indent=2))
            os.replace(tmp, out / CONFIG_FILE)
            return out


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise InvalidInputError(f"cannot read the {what} at {path}: {e}") from e
