"""A run's results as a text table, a PNG chart and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = (
    ("accuracy", "accuracy", "{:.0%}"),
    ("stale_rate", "stale", "{:.0%}"),
    ("evidence_recall", "evidence", "{:.0%}"),
    ("context_tokens", "ctx tokens", "{:.0f}"),
    ("latency_s", "s/turn", "{:.2f}"),
    ("memory_bytes", "memory KB", "{:.0f}"),
)


def table(result: dict[str, Any]) -> str:
    head = ["mode", *(title for _, title, _ in COLUMNS)]
    rows = []
    for mode, m in result["modes"].items():
        cells = [mode]
        for key, _, fmt in COLUMNS:
            value = m[key] / 1024 if key == "memory_bytes" else m[key]
            cells.append("n/a" if value is None else fmt.format(value))
        rows.append(cells)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    title = f"{result['scenario']} ({result['framework']}, {result['probes']} probes)"
    return "\n".join([title, *lines])


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The one-line JSON object: everything but the per-probe records."""
    return {k: v for k, v in result.items() if k != "records"}


def figure(result: dict[str, Any]):
    """Accuracy per day per mode, as a matplotlib figure (the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    shown: set[int] = set()
    for mode, m in result["modes"].items():
        by_day = {int(d): v for d, v in m["accuracy_by_day"].items()}  # JSON keys are strings
        days = sorted(by_day)
        ax.plot(days, [by_day[d] for d in days], marker="o", label=mode)
        shown.update(days)
    ax.set_xticks(sorted(shown))  # days are whole: no 2.5 between day 2 and day 3
    ax.set_xlabel("day")
    ax.set_ylabel("answer accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"{result['scenario']}: accuracy per day ({result['framework']})")
    ax.legend()
    fig.tight_layout()
    return fig


def chart(result: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig = figure(result)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result['scenario']}-{result['framework']}"
    data = out / f"{stem}.json"
    data.write_text(json.dumps(result, indent=2, ensure_ascii=False), "utf-8")
    return data, chart(result, out / f"{stem}.png")
