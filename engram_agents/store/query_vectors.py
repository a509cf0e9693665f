"""Recent queries' vectors, so a query asked again is not encoded again. An agent asks the same
thing many times: the LangChain middleware recalls with the user's latest message before every
model call of a tool loop, chat engines re-read their memory on retries, and a server's clients
repeat what their users repeat. Encoding is most of a recall's CPU (MiniLM: ~2.5–4.5 ms of a
~3 ms-plus recall on this project's CPU), while a cached vector costs a dict lookup.

A vector is kept as the encoder first gave it for that text. In-process recall encodes each query
alone, so the cached vector is the one a fresh encode would give; the server encodes concurrent
queries in one batch, where an int8 encoder's output already depends a little on the batch.
The texts are dropped after every delete or forget: a query may quote what was erased."""

from __future__ import annotations

import numpy as np

from engram_agents.recent import Recent
from engram_agents.store.encoders import Encoder, encode_checked


class QueryVectors:
    """`encode(texts)`: each text's normalized vector, as `encode_checked` gives it, encoding only
    the texts not among the `size` most recently used (each distinct one once per call)."""

    def __init__(self, encoder: Encoder, size: int) -> None:
        self.encoder = encoder
        self._recent: Recent[str, np.ndarray] | None = Recent(size) if size else None

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._recent is None:
            return encode_checked(self.encoder, texts)
        found = [self._recent.get(text) for text in texts]
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        if missing:
            fresh = dict(zip(missing, encode_checked(self.encoder, missing), strict=True))
            for text, vector in fresh.items():
                vector.setflags(write=False)  # shared by every later recall of the text
                self._recent.put(text, vector)
            found = [fresh[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        return np.stack(found) if found else encode_checked(self.encoder, [])

    def clear(self) -> None:
        """Drop every kept text: after an erasure, since a query may quote what was erased."""
        if self._recent is not None:
            self._recent.clear()
