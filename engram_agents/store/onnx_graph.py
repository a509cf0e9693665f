"""The int8 MiniLM graph with the exporter's overhead taken out, for fewer nodes per run.

The dynamo export spells attention out node by node, and ONNX Runtime's fusions miss three
pieces of it: a NaN guard after every softmax (`Where(IsNaN(p), 0, p)`, two passes over the
(batch, heads, seq, seq) scores), the key transpose done as Transpose-Reshape-Transpose-Reshape
(with the Shape/Slice/Concat nodes that compute those shapes), and a padding mask built by
gathering (batch, 1, seq, seq) entries. Each rewrite only moves the same numbers (a softmax
over finite scores with a kept [CLS] key never gives NaN; a transpose is a transpose; the mask
is the same key mask, broadcast instead of gathered), so the lean graph's outputs are checked
to be bit-identical to the export's before it is used; where a pattern is not found it is left
as it is, and where the check fails the export itself is used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engram_agents.cache import building

LEAN_VERSION = "lean-v1"  # bump when a rewrite changes: the folder is the cache key


def lean_graph(model_file: Path) -> Path:
    """`model_file` rewritten (once, into a folder beside it) if the rewrite is bit-identical
    on a probe batch, else `model_file` itself."""
    target = model_file.parent / LEAN_VERSION
    lean, skipped = target / "model.onnx", target / "skipped"
    if lean.exists():
        return lean
    if skipped.exists():
        return model_file
    import onnx

    model = onnx.load(str(model_file))
    changed = _drop_nan_guards(model.graph) + _direct_key_transpose(model.graph)
    changed += _broadcast_key_mask(model.graph)
    _drop_dead_nodes(model.graph)
    with building(target) as tmp:
        if changed and _same_outputs(model_file, model.SerializeToString()):
            onnx.save(model, str(tmp / lean.name))
        else:
            (tmp / skipped.name).write_text(f"{changed} rewrites; outputs differed or none\n")
    return lean if lean.exists() else model_file


# ORT's fused residual add + LayerNorm (SkipLayerNormalization) ran ~5 ns per element here,
# about a fifth of a short batch's CPU; left as Add and LayerNormalization, the graph costs
# 15-21 % less CPU on turns and query batches, with vectors as close to float32
# (benchmarks/RESULTS.md, s40). Part of what a cache built from the encoder's outputs keys on.
UNFUSED = ("SkipLayerNormFusion",)


def ort_session(graph: Path | bytes, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session on `graph` (a file or its bytes) with `threads` intra-op
    threads (0: one per core) that sleep rather than spin when idle: a spinning thread burns
    CPU time that a busy or shared CPU lacks; the fusions in `UNFUSED` are left out."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    source = graph if isinstance(graph, bytes) else str(graph)
    return onnxruntime.InferenceSession(
        source, options, providers=["CPUExecutionProvider"], disabled_optimizers=list(UNFUSED)
    )


def _producers(graph: Any) -> dict[str, Any]:
    return {out: node for node in graph.node for out in node.output}


def _perm(node: Any) -> list[int]:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), [])


def _drop_nan_guards(graph: Any) -> int:
    """`Where(IsNaN(p), 0, p)` -> `p`."""
    producer, renamed, dropped = _producers(graph), {}, 0
    for where in graph.node:
        guard = producer.get(where.input[0]) if where.op_type == "Where" else None
        if guard is not None and guard.op_type == "IsNaN" and guard.input[0] == where.input[2]:
            renamed[where.output[0]] = where.input[2]
            dropped += 1
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
    return dropped


def _direct_key_transpose(graph: Any) -> int:
    """`Reshape(Transpose(Reshape(Transpose(k, 0213)), 021))` (k as batch, seq, heads, dim to
    batch, heads, dim, seq) -> `Transpose(k, 0231)`, where it feeds a scaled scores MatMul."""
    from onnx import helper

    producer, done = _producers(graph), 0
    for matmul in [n for n in graph.node if n.op_type == "MatMul"]:
        scale = producer.get(matmul.input[1])
        if scale is None or scale.op_type != "Mul":
            continue
        chain, name = [], scale.input[0]
        for op in ("Reshape", "Transpose", "Reshape", "Transpose"):
            node = producer.get(name)
            if node is None or node.op_type != op:
                break
            chain.append(node)
            name = node.input[0]
        if len(chain) < 4 or _perm(chain[1]) != [0, 2, 1] or _perm(chain[3]) != [0, 2, 1, 3]:
            continue
        key = helper.make_node(
            "Transpose", [chain[3].input[0]], [f"{scale.input[0]}_keys_t"], perm=[0, 2, 3, 1]
        )
        graph.node.insert(list(graph.node).index(scale), key)
        scale.input[0] = key.output[0]
        done += 1
    return done


def _broadcast_key_mask(graph: Any) -> int:
    """The additive attention bias every softmax reads, `Where(mask, 0, min)` over gathered
    (batch, 1, seq, seq) entries -> the same `Where` over `attention_mask` as (batch, 1, 1, seq)."""
    from onnx import TensorProto, helper, numpy_helper

    producer = _producers(graph)
    adds = [producer.get(n.input[0]) for n in graph.node if n.op_type == "Softmax"]
    biases = {a.input[1] for a in adds if a is not None and a.op_type == "Add"}
    if not adds or None in adds or len(biases) != 1:
        return 0
    where = producer.get(biases.pop())
    if (
        where is None
        or where.op_type != "Where"
        or "attention_mask" not in {i.name for i in graph.input}
    ):
        return 0
    graph.initializer.append(numpy_helper.from_array(np.array([1, 2], np.int64), "key_bias_axes"))
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["key_kept"], to=TensorProto.BOOL),
        helper.make_node("Where", ["key_kept", *where.input[1:]], ["key_bias_rows"]),
        helper.make_node("Unsqueeze", ["key_bias_rows", "key_bias_axes"], ["key_bias"]),
    ]
    for node in reversed(nodes):
        graph.node.insert(0, node)
    for add in adds:
        add.input[1] = "key_bias"
    return 1


def _drop_dead_nodes(graph: Any) -> None:
    while True:
        used = {name for node in graph.node for name in node.input}
        used |= {out.name for out in graph.output}
        dead = [node for node in graph.node if not any(out in used for out in node.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


def _same_outputs(model_file: Path, lean: bytes) -> bool:
    """Both graphs, on a padded probe batch of token ids, give bit-identical outputs (a lean
    graph that fails to load or run is as unusable as one that differs)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, (3, 21), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 9:], mask[2, 4:] = 0, 0
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    export = ort_session(model_file)
    feed = {k: v for k, v in feed.items() if k in {i.name for i in export.get_inputs()}}
    try:
        outputs = ort_session(lean).run(None, feed)
    except Exception:  # onnxruntime raises its own error types for graphs it cannot run
        return False
    return all(np.array_equal(a, b) for a, b in zip(export.run(None, feed), outputs, strict=True))
