"""The real embedded encoder (loaded once per session) and the encoder adapters."""

from __future__ import annotations

import numpy as np

from engram_agents.memory import EngramMemory


def test_semantic_recall_and_supersede_with_minilm(tmp_path, minilm):
    mem = EngramMemory(tmp_path / "m.db", encoder=minilm)
    old = mem.remember("My dentist appointment is on 5 June at 3 pm", "u", event_time="2024-05-01")
    mem.remember_many(
        ["We adopted a rescue greyhound called Pixel", "The quarterly report is due Friday"], "u"
    )
    new = mem.remember("My dentist appointment moved to 9 June at 3 pm", "u")
    assert new.history[0].engram_id == old.id
    hits = mem.recall("when do I see the dentist?", "u", k=3)
    assert hits[0].engram.id == new.id
    assert old.id not in {h.engram.id for h in hits}
    pet = mem.recall("what kind of dog do we have?", "u", k=1)[0]
    assert "greyhound" in pet.engram.text
    assert pet.similarity > 0.3


class LangChainLike:
    """Duck-typed LangChain Embeddings: the core never imports LangChain."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class LlamaIndexLike:
    def __init__(self, inner) -> None:
        self.inner = inner

    def get_text_embedding(self, text: str) -> list[float]:
        return self.inner.encode([text])[0].tolist()


def test_framework_embedding_objects_replace_the_encoder(tmp_path, hashing):
    for n, wrapper in enumerate((LangChainLike(hashing), LlamaIndexLike(hashing))):
        mem = EngramMemory(tmp_path / f"m{n}.db", encoder=wrapper)
        assert mem.store.encoder.dim == hashing.dim
        e = mem.remember("Lunch with Ana at the taqueria", "u")
        assert mem.recall("taqueria lunch", "u", k=1)[0].engram.id == e.id
        vector = mem.store._index("u").vectors[0]
        assert np.isclose(np.linalg.norm(vector), 1.0)


def test_a_terse_update_supersedes_only_the_fact_it_changes(tmp_path, minilm):
    mem = EngramMemory(tmp_path / "m.db", encoder=minilm)
    physio = mem.remember(
        "Physio with Anna Berg on Monday, 4 May at 5 pm at the Oak Street clinic", "u"
    )
    vet = mem.remember("The vet, Dr. Moss, sees our cat on Tuesday, 5 May at 5 pm", "u")
    update = mem.remember("Anna's clinic called: physio is now Thursday at 9", "u")
    active = {e.id for e in mem.list("u")}
    assert physio.id not in active and {vet.id, update.id} <= active
    assert [v.engram_id for v in update.history] == [physio.id]
    assert mem.recall("when is my physio?", "u", k=1)[0].engram.id == update.id
