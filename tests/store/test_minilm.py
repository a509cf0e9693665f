"""The real embedded encoder (loaded once per session) and the encoder adapters."""

from __future__ import annotations

import numpy as np
import pytest

from engram_agents.memory import EngramMemory
from engram_agents.store import encoders
from engram_agents.store.encoders import OnnxInt8Encoder, SentenceTransformerEncoder, minilm_path
from engram_agents.store.errors import InvalidInputError


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


def test_asking_about_an_update_keeps_it(tmp_path, minilm):
    """A user who asks what changed ("... now?") must still be told: the question is kept
    beside the update, it does not supersede it."""
    mem = EngramMemory(tmp_path / "m.db", encoder=minilm)
    mem.remember("I have a weekly 1:1 with Daniel every Wednesday at 2 pm", "u")
    update = mem.remember("Daniel wants to move our weekly 1:1 to Thursdays, same time", "u")
    mem.remember([{"role": "user", "content": "Which day is my 1:1 with Daniel now?"}], "u")
    assert update.id in {e.id for e in mem.list("u")}
    hits = mem.recall("Which day is my 1:1 with Daniel now?", "u", k=3)
    assert update.id in {h.engram.id for h in hits}


def test_past_questions_rank_below_the_facts_that_answer_them(tmp_path, minilm):
    """A user's earlier questions resemble a new question more than the fact does (here both
    score higher on similarity and on tags); they must not take its place at the top."""
    mem = EngramMemory(tmp_path / "m.db", encoder=minilm)
    mem.remember_many(
        [
            "My dentist is Dr. Lindqvist, on Thursday at 9:15 am.",
            "The design review with Sofia is on Tuesday at 1 pm.",
            "I go to the gym on Tuesdays and Thursdays at 7 am.",
            "For video calls default to Zoom links please.",
        ],
        "u",
    )
    asked = mem.remember_many(
        ["What time does our daily standup start?", "What time is standup these days?"], "u"
    )
    fact = mem.remember(
        "Our team standup is every weekday at 10:00 and takes fifteen minutes.", "u"
    )
    hits = mem.recall("What time is our standup?", "u", k=7)
    assert hits[0].engram.id == fact.id
    questions = {a.id for a in asked}
    for hit in hits:
        said = "a question, ranked below statements" in hit.explanation
        assert said == (hit.engram.id in questions)


SENTENCES = [
    "My dentist appointment moved to Tuesday at 3 pm",
    "When do I see the dentist?",
    "We format everything with black, line length 100.",
    "Which code formatter does the project use?",
    "Caroline went to the LGBTQ support group yesterday and felt accepted.",
    "What did Caroline do at the support group?",
    "The wifi password at the cabin is blue-otter-42",
    "ok",
]


def test_default_cpu_encoder_is_int8_onnx_and_agrees_with_sentence_transformers(minilm):
    assert isinstance(minilm, OnnxInt8Encoder) and minilm.dim == 384
    reference = SentenceTransformerEncoder(minilm_path())
    ours, theirs = minilm.encode(SENTENCES), reference.encode(SENTENCES)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    cosine = (ours * theirs).sum(1) / np.linalg.norm(theirs, axis=1)
    assert cosine.mean() > 0.985 and cosine.min() > 0.95, cosine  # "ok": 2 tokens, least averaged
    # each question finds the statement it asks about, as with the float32 model
    for q in (1, 3, 5):
        scores = ours[[0, 2, 4, 6]] @ ours[q]
        assert [0, 2, 4, 6][int(scores.argmax())] == q - 1
    # activations are quantized per batch, so a text's vector moves a little with its batch
    # mates (and stays in the same place whatever order they come in)
    alone = np.vstack([minilm.encode([s]) for s in SENTENCES])
    assert (alone * ours).sum(1).min() > 0.95
    np.testing.assert_allclose(minilm.encode(SENTENCES[::-1])[::-1], ours, atol=1e-6)


def test_the_int8_export_is_built_once_and_then_read_from_the_cache(minilm):
    built = minilm.model_file.stat().st_mtime_ns
    again = OnnxInt8Encoder(minilm_path())
    assert again.model_file == minilm.model_file and again.model_file.stat().st_mtime_ns == built
    np.testing.assert_array_equal(again.encode(SENTENCES[:2]), minilm.encode(SENTENCES[:2]))


def test_an_encoder_that_cannot_be_exported_falls_back_with_a_warning(monkeypatch):
    def broken(path):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setattr(encoders, "int8_onnx_model", broken)
    with pytest.warns(RuntimeWarning, match="exporter unavailable"):
        fallback = encoders.default_encoder.__wrapped__()
    assert isinstance(fallback, SentenceTransformerEncoder)


def test_a_model_without_mean_pooling_is_refused_by_name(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    with pytest.raises(InvalidInputError, match="does not mean-pool"):
        encoders.int8_onnx_model(tmp_path)
