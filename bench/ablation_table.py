"""bench/ablation.py's figures as markdown: the code as it is, then each rule off as differences."""

from __future__ import annotations

from typing import Any

from ablation_rules import RULES

REAL = [f"{s}/{z}" for s in ("usps", "semeion", "uci") for z in ("own", "4x")] + ["uci/4x-nearest"]
BASE = "(code as it is)"


def _signed(v: int) -> str:
    return f"{v:+d}" if v else "0"


def _us(v: float) -> str:
    return f"{v:+.0f}" if abs(v) >= 0.5 else "0"


def markdown(table: dict[str, Any], items: list[Any], command: str) -> str:
    base_fig, base_cpu, _ = table[BASE]
    kinds = [g for g in base_fig if g.startswith("synthetic/")]
    lines = [
        f"Produced by `{command}`.",
        "",
        "The code as it is (right of n; refused in brackets; cost: preprocessing CPU ms per picture):",
        "",
        "| set | right | of | accuracy | refused |",
        "|---|---|---|---|---|",
    ]
    for g, (right, refused, n) in base_fig.items():
        lines.append(f"| {g} | {right} | {n} | {right / n:.2%} | {refused} |")
    lines += [
        "",
        f"Preprocessing CPU time per picture over the whole corpus: small (MNIST 56x56 PNG) "
        f"{base_cpu.get('small base', 0) / 1000:.3f} ms, scan {base_cpu.get('scan base', 0) / 1000:.3f} ms.",
        "",
        "Each rule switched off alone: pictures read right, as a difference from the code as it is (refusals",
        "in brackets when they change); real = the seven real-handwriting columns summed; synthetic = all kinds",
        "summed (the kinds that move most in the last column); files = tests/data photos/scans right (of",
        f"{base_fig.get('files', (0, 0, 0))[2]}); us = CPU us per picture that switching the rule off adds"
        " (negative: the rule's cost), 300 small pictures and 50 scans, best of 3, timed in turn with the code"
        " as it is (noise: ~5% of a picture's time).",
        "",
        "| rule | where | " + " | ".join(REAL) + " | real | MNIST | synthetic | files | us small | us scan | kinds |",
        "|---|---|" + "---|" * (len(REAL) + 8),
    ]
    for rule, (fig, cpu, _) in table.items():
        if rule == BASE:
            continue
        cells, real = [], 0
        for g in REAL:
            d = fig[g][0] - base_fig[g][0]
            dr = fig[g][1] - base_fig[g][1]
            real += d
            cells.append(_signed(d) + (f" ({_signed(dr)})" if dr else ""))
        mn = fig["mnist"][0] - base_fig["mnist"][0]
        syn = {k: fig[k][0] - base_fig[k][0] for k in kinds}
        moved = ", ".join(f"{k.split('/')[1]} {_signed(v)}" for k, v in sorted(syn.items(), key=lambda kv: kv[1]) if v)
        files = fig["files"][0]
        small, scan = cpu["small"], cpu["scan"]
        lines.append(
            f"| {rule} | `{RULES[rule][0]}` | "
            + " | ".join(cells)
            + f" | **{_signed(real)}** | {_signed(mn)} | {_signed(sum(syn.values()))} | {files} | "
            f"{_us(small)} | {_us(scan)} | {moved} |"
        )
    return "\n".join(lines) + "\n"
