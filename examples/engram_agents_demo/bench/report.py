"""What a recall benchmark run reports besides its numbers: the margins issue 20's bars are read
by, the table printed without `--json`, and one row per system and question for
`--per-question` (which questions each system missed, and how far down their evidence was)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # bench.recall imports this module
    from engram_agents_demo.bench.recall import Question


def margins(results: dict[str, Any]) -> dict[str, Any]:
    """Per store system, what issue 20's bars read off a run: its overall recall@k minus dense
    retrieval's (same encoder, same run) and minus the best baseline's, and every row (question
    type, conversation) where it is below dense."""
    baselines = [s for s in ("dense", "bm25", "chroma") if s in results]
    out: dict[str, Any] = {}
    for system, entry in results.items():
        if not system.startswith("engram") or not baselines:
            continue
        mine = {m: v for m, v in entry["overall"].items() if m.startswith("recall@")}
        best = {m: max(results[b]["overall"][m] for b in baselines) for m in mine}
        out[system] = {"minus_best_baseline": {m: round(mine[m] - best[m], 2) for m in mine}}
        if dense := results.get("dense"):
            out[system]["minus_dense"] = {m: round(mine[m] - dense["overall"][m], 2) for m in mine}
            out[system]["below_dense"] = [
                f"{row} {m}"
                for row, values in entry.items()
                if row in dense and isinstance(values, dict) and "recall@5" in values
                for m in mine
                if values[m] < dense[row][m]
            ]
    return out


def table(results: dict[str, Any]) -> str:
    lines = [f"{'system':16} {'R@5':>6} {'R@10':>6} {'R@25':>6} {'p50 ms':>8} {'turns/s':>9}"]
    for system, r in results.items():
        if system != "meta":
            o = r["overall"]
            lines.append(
                f"{system:16} {o['recall@5']:6.1f} {o['recall@10']:6.1f} {o['recall@25']:6.1f} "
                f"{r['latency_ms']['p50']:8.2f} {r['ingest_turns_per_s']:9.1f}"
            )
    for system, margin in results["meta"]["margins"].items():
        if "minus_dense" in margin:
            gains = " ".join(f"{v:+6.1f}" for v in margin["minus_dense"].values())
            below = ", ".join(margin["below_dense"]) or "nowhere"
            lines.append(f"{system + ' - dense':16} {gains}   below dense: {below}")
    return "\n".join(lines)


def question_row(
    system: str,
    conversation: str,
    question: Question,
    evidence: list[str],
    ranked: list[str],
    recall: dict[int, float],
) -> dict[str, Any]:
    """One system's answer to one question (a `bench.recall.Question`): the turn ids it ranked,
    best first, where each evidence turn came (1-based; None when not among them) and its
    recall@k in percent."""
    where = {turn_id: n for n, turn_id in enumerate(ranked, 1)}
    return {
        "system": system,
        "conversation": conversation,
        "question": question.text,
        "category": question.category,
        "evidence": evidence,
        "evidence_ranks": [where.get(turn_id) for turn_id in evidence],
        "ranked": ranked,
        **{f"recall@{k}": round(100 * value, 2) for k, value in recall.items()},
    }
