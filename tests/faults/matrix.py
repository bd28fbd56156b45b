"""What the fault suite ran and found: one row per (scenario, point, fault kind)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

TTL_SECONDS = int(os.environ.get("FAULTS_TTL_SECONDS", "12"))


@dataclass
class RunResult:
    scenario: str
    point: str  # caller:service:operation, or "-" for the fault-free run
    kind: str
    fired: int
    violations: list[str]
    steps: list[str]
    seconds: float


@dataclass
class Matrix:
    runs: list[RunResult] = field(default_factory=list)
    points: dict[str, set[str]] = field(default_factory=dict)  # scenario -> points seen fault-free
    candidates: int = 0  # (scenario, point, kind) cases in the full sweep

    def add(self, result: RunResult) -> None:
        self.runs.append(result)

    def markdown(self) -> str:
        faulted = [r for r in self.runs if r.kind != "none"]
        distinct = {p for ps in self.points.values() for p in ps}
        failed = [r for r in self.runs if r.violations]
        pairs = sum(len(p) for p in self.points.values())
        never = sum(1 for r in faulted if not r.fired)
        seconds = sum(r.seconds for r in self.runs)
        lines = [
            f"{len(distinct)} injection points ({pairs} scenario x point), {self.candidates} cases "
            f"(scenario x point x fault) in the full sweep; ran {len(faulted)} faulted and "
            f"{len(self.runs) - len(faulted)} fault-free runs in {seconds:.0f} s; "
            f"{len(failed)} runs broke an invariant; {never} faults never fired.",
            "",
            "| scenario | point | fault | fired | result | steps |",
            "|---|---|---|---|---|---|",
        ]
        for r in sorted(self.runs, key=lambda r: (r.scenario, r.point, r.kind)):
            result = "; ".join(r.violations) if r.violations else "ok"
            lines.append(
                f"| {r.scenario} | {r.point} | {r.kind} | {r.fired} | {result} | {' > '.join(r.steps)} |"
            )
        by_invariant = Counter(v.split(":", 1)[0] for r in failed for v in r.violations)
        if by_invariant:
            lines += [
                "",
                "Violations by invariant: " + ", ".join(f"{k} {n}" for k, n in by_invariant.most_common()),
            ]
        return "\n".join(lines)


MATRIX = Matrix()
