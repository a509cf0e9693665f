"""Recent queries' vectors, so a query asked again is not encoded again. An agent asks the same
thing many times: the LangChain middleware recalls with the user's latest message before every
model call of a tool loop, chat engines re-read their memory on retries, and a server's clients
repeat what their users repeat. Encoding is most of a recall's CPU (MiniLM: ~2.5–4.5 ms of a
~3 ms-plus recall on this project's CPU), while a cached vector costs a dict lookup.

A vector is kept per user and text: a store shared by tenants must not let one user learn, from
how fast a recall returns, that another asked the same thing. It is kept as the encoder first gave
it. In-process recall encodes each query alone, so the cached vector is the one a fresh encode
would give; the server encodes concurrent queries in one batch, where an int8 encoder's output
already depends a little on the batch. The kept texts are dropped after every delete or forget in
this process: a query may quote what was erased."""

from __future__ import annotations

import numpy as np

from engram_agents.recent import Recent
from engram_agents.store.encoders import Encoder, encode_checked


class QueryVectors:
    """`encode(texts, users)`: each text's normalized vector, as `encode_checked` gives it,
    encoding only the (user, text) pairs not among the `size` most recently used, and each
    distinct text once per call."""

    def __init__(self, encoder: Encoder, size: int) -> None:
        self.encoder = encoder
        self._recent: Recent[tuple[str, str], np.ndarray] | None = Recent(size) if size else None

    def encode(self, texts: list[str], users: list[str]) -> np.ndarray:
        if self._recent is None:
            return encode_checked(self.encoder, texts)
        keys = list(zip(users, texts, strict=True))
        found = [self._recent.get(key) for key in keys]
        missing = list(dict.fromkeys(t for (_, t), v in zip(keys, found, strict=True) if v is None))
        if missing:
            fresh = dict(zip(missing, encode_checked(self.encoder, missing), strict=True))
            for vector in fresh.values():
                vector.setflags(write=False)  # shared by every later recall of the text
            for key, vector in zip(keys, found, strict=True):
                if vector is None:
                    self._recent.put(key, fresh[key[1]])
            found = [fresh[t] if v is None else v for (_, t), v in zip(keys, found, strict=True)]
        return np.stack(found) if found else encode_checked(self.encoder, [])

    def clear(self) -> None:
        """Drop every kept text: after an erasure, since a query may quote what was erased."""
        if self._recent is not None:
            self._recent.clear()
