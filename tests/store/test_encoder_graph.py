"""The embedded encoder's cheaper path gives the vectors of the path it replaced, bit for bit:
the lean ONNX graph against the int8 export, the backend tokenizer against the transformers
call, on random texts and padded batches."""

from __future__ import annotations

import shutil

import numpy as np
import onnx

from engram_agents.store import onnx_graph
from engram_agents.store.encoders import OnnxInt8Encoder, minilm_path
from engram_agents.store.onnx_graph import lean_graph, ort_session

WORDS = [
    "the", "dentist", "moved", "to", "Thursday", "at", "3", "pm", "Pixel", "greyhound", "café",
    "naïve", "東京", "🙂", "re-booked", "Dr.", "O'Neil", "$42.50", "e-mail:", "ana@example.com",
    "quarterly", "report", "—", "ok", "?!", "\t", "sub-word-ish-tokenization", "123456789",
]  # fmt: skip


def random_texts(n: int, seed: int, most: int = 40) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(1, most))) for _ in range(n)] + ["", " "]


def test_the_lean_graph_is_used_and_has_no_nan_guards(minilm):
    assert minilm.graph_file != minilm.model_file and minilm.graph_file.exists()
    ops = [node.op_type for node in onnx.load(str(minilm.graph_file)).graph.node]
    export = [node.op_type for node in onnx.load(str(minilm.model_file)).graph.node]
    assert "IsNaN" not in ops and "GatherND" not in ops and export.count("IsNaN") == 6
    assert len(ops) < len(export) - 40


def test_the_lean_graph_gives_the_exports_outputs_bit_for_bit(minilm):
    lean, export = ort_session(minilm.graph_file), ort_session(minilm.model_file)
    rng = np.random.default_rng(7)
    for batch, width in [(1, 3), (1, 19), (5, 30), (16, 28), (3, 258)]:
        ids = rng.integers(1000, 30000, (batch, width), dtype=np.int64)
        mask = (np.arange(width) < rng.integers(2, width + 1, (batch, 1))).astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        np.testing.assert_array_equal(lean.run(None, feed)[0], export.run(None, feed)[0])


def test_tokens_are_the_transformers_calls_ids_and_offsets(minilm):
    texts = random_texts(60, seed=1, most=400)
    ours = minilm.tokenize(texts)
    theirs = minilm.tokenizer(
        texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    for tokens, ids, offsets in zip(
        ours, theirs["input_ids"], theirs["offset_mapping"], strict=True
    ):
        assert tokens.ids.tolist() == ids
        assert tokens.offsets.tolist() == [list(o) for o in offsets]
    assert max(len(t.ids) for t in ours) > minilm.max_tokens  # no truncation


def test_vectors_equal_the_export_graphs_on_random_texts(minilm):
    reference = OnnxInt8Encoder(minilm_path())
    reference.session = ort_session(reference.model_file)  # the graph the encoder used to run
    for seed, most in [(2, 12), (3, 40), (4, 400)]:
        texts = random_texts(37, seed, most)
        np.testing.assert_array_equal(minilm.encode(texts), reference.encode(texts))
    np.testing.assert_array_equal(minilm.encode(["one query"]), reference.encode(["one query"]))


def test_a_rewrite_that_changes_outputs_is_not_used(minilm, tmp_path, monkeypatch):
    export = tmp_path / "model.int8.onnx"
    shutil.copy(minilm.model_file, export)
    monkeypatch.setattr(onnx_graph, "_same_outputs", lambda model_file, lean: False)
    assert lean_graph(export) == export
    assert (tmp_path / onnx_graph.LEAN_VERSION / "skipped").exists()
    monkeypatch.undo()
    assert lean_graph(export) == export  # remembered: not rebuilt on every load


def test_sessions_leave_the_residual_add_and_layer_norm_unfused(minilm):
    """ORT's SkipLayerNormalization kernel took a fifth of a short batch's CPU here (s40): the
    encoder's session runs exactly what a session without that fusion runs, not the fused."""
    import onnxruntime

    def plain(disabled: list[str]):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        return onnxruntime.InferenceSession(
            str(minilm.graph_file), options, ["CPUExecutionProvider"], disabled_optimizers=disabled
        )

    rng = np.random.default_rng(11)
    ids = rng.integers(1000, 30000, (4, 21), dtype=np.int64)
    mask = (np.arange(21) < rng.integers(2, 22, (4, 1))).astype(np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    ours = ort_session(minilm.graph_file).run(None, feed)[0]
    np.testing.assert_array_equal(ours, plain(list(onnx_graph.UNFUSED)).run(None, feed)[0])
    assert "SkipLayerNormFusion" in onnx_graph.UNFUSED
    assert not np.array_equal(ours, plain([]).run(None, feed)[0])  # the fusion changes numbers
