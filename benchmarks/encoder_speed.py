"""CPU time per text of the embedded int8 MiniLM encoder against its previous path, same run,
same texts, rounds interleaved: the baseline runs the int8 export as exported and tokenizes
through the transformers call; the encoder runs the lean graph (`store.onnx_graph`) and the
backend tokenizer. Three loads: one short query per call (what a recall encodes), batches of 16
mixed short texts (what the batcher merges under concurrent callers) and texts that fill the
256-token window (long turns, passages).

    OMP_NUM_THREADS=1 python benchmarks/encoder_speed.py --rounds 7

The last line printed is one JSON object with the machine. Times are CPU seconds of the whole
process (`time.process_time`: the tokenizer's and the long inputs' pool threads count), the
median over rounds; on a shared machine wall time is not comparable, CPU time mostly is."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from engram_agents.store.encoders import OnnxInt8Encoder, default_encoder, minilm_path
from engram_agents.store.onnx_graph import ort_session
from engram_agents_demo.bench.recall import machine

SUBJECTS = ["my sister", "the dentist", "Ana", "our landlord", "the team", "Dr. Moss", "Pixel"]
VERBS = ["moved", "booked", "cancelled", "asked about", "paid for", "forgot", "rescheduled"]
OBJECTS = [
    "the appointment on Thursday at 3 pm",
    "the quarterly report",
    "a table at the taqueria on Oak Street",
    "the flight to Lisbon next month, window seat, with the vegetarian meal",
    "physio",
    "the wifi password at the cabin, which is blue-otter-42",
]
TAILS = ["", " again", " because the clinic called", " and nobody told me until this morning"]


class TransformersCall:
    """The tokenizing the encoder did before: the transformers call, per batch."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def encode_batch(self, texts: list[str], add_special_tokens: bool) -> list:
        out = self.tokenizer(
            texts, add_special_tokens=add_special_tokens, return_offsets_mapping=True
        )
        return out.encodings


def sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}"
        for _ in range(n)
    ]


def cpu_per_text(run: Callable[[list[str]], np.ndarray], calls: list[list[str]]) -> float:
    start = time.process_time()
    for texts in calls:
        run(texts)
    return (time.process_time() - start) / sum(len(c) for c in calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    encoder = default_encoder()
    assert isinstance(encoder, OnnxInt8Encoder), "the embedded encoder is not the int8 ONNX one"
    baseline = OnnxInt8Encoder(minilm_path())
    baseline.session = ort_session(baseline.model_file)
    baseline._backend = TransformersCall(baseline.tokenizer)
    long_text = " ".join(sentences(40, seed=9))
    loads = {
        "query": [[s] for s in sentences(100, seed=1)],
        "batch16": [sentences(16, seed=s) for s in range(2, 14)],
        "window256": [[f"{n} {long_text}" for n in range(8)] for _ in range(2)],
    }
    tokens = {
        name: float(np.mean([len(t.ids) for c in calls for t in encoder.tokenize(c)]))
        for name, calls in loads.items()
    }
    times: dict[str, dict[str, list[float]]] = {n: {"baseline": [], "lean": []} for n in loads}
    identical = True
    for calls in loads.values():  # warm both, and check they agree
        for texts in calls[:2]:
            identical &= bool(np.array_equal(baseline._encode(texts), encoder._encode(texts)))
    for round_ in range(args.rounds):
        for name, calls in loads.items():
            pair = [("baseline", baseline), ("lean", encoder)]
            for label, which in pair[:: 1 if round_ % 2 else -1]:
                times[name][label].append(cpu_per_text(which._encode, calls))
    results = {}
    for name, by in times.items():
        base, lean = statistics.median(by["baseline"]), statistics.median(by["lean"])
        results[name] = {
            "mean_tokens": round(tokens[name], 1),
            "baseline_cpu_ms_per_text": round(base * 1e3, 3),
            "lean_cpu_ms_per_text": round(lean * 1e3, 3),
            "ratio": round(lean / base, 3),
        }
    print(
        json.dumps(
            {
                "encoder_speed": results,
                "identical_vectors": identical,
                "rounds": args.rounds,
                # other processes' load: CPU time holds up better than wall time under it
                "machine": {**machine(), "load_average_1min": os.getloadavg()[0]},
            }
        )
    )


if __name__ == "__main__":
    main()
