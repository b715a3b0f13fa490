"""Reading a number: the path through its candidate digits (preprocess.number) the network reads most surely.

Each candidate scores the log of the network's confidence in it plus its shape's log-prior and the
segment checker's log-odds that it is one whole digit; a reading is a path from the line's first
part to its last, and its score the candidates' sum. Log-odds, not the log: a reading takes its
candidates as whole and those it passes over as not, so a touching pair judged no digit speaks for
the 1 cut from it (a 1 judged alone as doubtfully as the pair was lost to it, the reading with
fewer digits being likelier).
The best few readings are kept at every part (a k-best Viterbi walk), so how far the best
stands above the best with another text - the segmentation's own margin - is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .preprocess import Lattice

WHOLE_WEIGHT = 1.0  # the checker's log-odds count as much as the digit network's
WHOLE_CLIP = 1e-6  # the checker's answers are taken within [this, 1 - this]: no candidate is ruled out outright
KEEP = 4  # readings kept per part: enough for the runner-up with another text
SURE_MARGIN = math.log(4.0)  # the best reading is at least 4 times likelier than any with another text, or unsure
SURE_WIDTH = 1.1  # a digit of a number wider than this share of its height may be two touching: unsure...
WIDE_WHOLE = 0.9  # ...unless it stands alone (paper round it) and the segment checker judges it one digit this surely
SURE_WHOLE = 0.5  # every digit of a number is more likely one whole digit than not (segment_check), or unsure
NUMBER_DOUBT = 0.4  # a number's digits may leave this share of the doubt one digit may (cut candidates read too surely)
ONE_WHOLE = 0.05  # a reading of one digit judged whole less than this: 1% of Semeion's digits, most numbers read as one


@dataclass(frozen=True)
class Digit:
    digit: int
    confidence: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 on the picture
    probabilities: list[float]

    def record(self) -> dict[str, object]:
        """As ``dataclasses.asdict`` gives it, without its deep copy (a tenth of the cost)."""
        return {
            "digit": self.digit,
            "confidence": self.confidence,
            "box": self.box,
            "probabilities": self.probabilities,
        }


@dataclass(frozen=True)
class Reading:
    text: str
    digits: list[Digit]
    margin: float  # log-score of the best reading over the best with another text (inf: no other)
    marks: tuple[tuple[int, str], ...]  # marks left out: (digits before it, what)
    whole: float = 1.0  # the least likely of its digits to be one whole digit (segment_check)
    off_line: int = 0  # digit-sized pieces off the line read (another line of writing), left out
    wide: float = 0.0  # the widest of its digits the checker is not sure are one whole digit (width / height)
    slashes: int = 0  # its digits read from a stroke like a date's slash (preprocess.number.slashed)

    @property
    def sure(self) -> bool:
        """The segmentation is sure: no other text comes close, and no digit may be two touching (a
        digit of a number too wide, or any digit judged no whole one; a picture's one digit is as
        wide as its writer made it - USPS and Semeion stretch theirs - and only the checker judges it)."""
        if len(self.digits) == 1:
            return self.margin >= SURE_MARGIN and self.whole >= ONE_WHOLE
        return self.margin >= SURE_MARGIN and self.wide <= SURE_WIDTH and self.whole >= SURE_WHOLE

    def trusted(self, low_confidence: float) -> bool:
        """``ok``: the segmentation sure, nothing digit-sized left off its line, no digit read from a
        stroke like a date's slash (read as a 1, it would pass), and the whole reading
        right with at least ``low_confidence`` - for a number, with NUMBER_DOUBT of the doubt left
        (0.95 -> 0.98): its digits' answers on cut
        candidates are surer than they are right (rendered numbers of other writers: 0.56% of the
        pictures ``ok`` with a wrong text at 0.95, 0.36% at 0.98; docs/numbers.md)."""
        least = low_confidence if len(self.digits) == 1 else 1 - NUMBER_DOUBT * (1 - low_confidence)
        trusted = self.sure and not self.off_line and not self.slashes
        return trusted and math.prod(d.confidence for d in self.digits) >= least

    @property
    def confidence(self) -> float:
        return min(d.confidence for d in self.digits)


def read_number(lattice: Lattice, probs: np.ndarray, whole: np.ndarray | None = None) -> Reading | None:
    """The best reading of ``lattice`` given the network's answers on its candidates ((S, 10)) and
    how likely each is one whole digit (segment_check; ``None``: weigh shapes only); None when no
    path crosses it (every candidate of some part too small to read)."""
    confidence = probs.max(axis=1)
    final: list[tuple[float, str, tuple[int, ...]]]
    if lattice.size == 1 and lattice.spans[0] == (0, lattice.parts):  # (a picture of one digit: no walk)
        final = [(0.0, str(int(probs[0].argmax())), (0,))]
    else:
        final = _walk(lattice, probs, confidence, whole)
    if not final:
        return None
    best_score, text, path = final[0]
    margin = best_score - final[1][0] if len(final) > 1 else math.inf
    digits = [
        Digit(
            int(probs[s].argmax()),
            round(float(confidence[s]), 6),
            (int(lattice.boxes[s][0]), int(lattice.boxes[s][1]), int(lattice.boxes[s][2]), int(lattice.boxes[s][3])),
            [round(float(v), 6) for v in probs[s]],
        )
        for s in path
    ]
    before = [sum(1 for s in path if lattice.spans[s][1] <= at) for at, _ in lattice.marks]
    marks = tuple((n, kind) for n, (_, kind) in zip(before, lattice.marks))
    least_whole = 1.0 if whole is None else min(float(whole[s]) for s in path)
    doubtful = [d for d, s in zip(digits, path) if whole is None or whole[s] < WIDE_WHOLE or not lattice.alone[s]]
    wide = max(((d.box[2] - d.box[0]) / max(d.box[3] - d.box[1], 1) for d in doubtful), default=0.0)
    slashes = sum(1 for s in path if lattice.slash and lattice.slash[s])
    return Reading(text, digits, margin, marks, least_whole, lattice.off_line, wide, slashes)


def _walk(
    lattice: Lattice, probs: np.ndarray, confidence: np.ndarray, whole: np.ndarray | None
) -> list[tuple[float, str, tuple[int, ...]]]:
    """The best readings (score, text, candidates) from the line's first part to its last, one per text."""
    score = np.log(np.maximum(confidence, 1e-12)) + lattice.prior
    if whole is not None:
        sure = np.clip(whole, WHOLE_CLIP, 1 - WHOLE_CLIP)
        score = score + WHOLE_WEIGHT * (np.log(sure) - np.log1p(-sure))
    ending: list[list[tuple[float, str, tuple[int, ...]]]] = [[] for _ in range(lattice.parts + 1)]
    ending[0] = [(0.0, "", ())]
    by_start: dict[int, list[int]] = {}
    for s, (i, _) in enumerate(lattice.spans):
        by_start.setdefault(i, []).append(s)
    for i in range(lattice.parts):
        if not ending[i]:
            continue
        for s in by_start.get(i, []):
            j = lattice.spans[s][1]
            digit = str(int(probs[s].argmax()))
            for total, text, path in ending[i]:
                ending[j].append((total + float(score[s]), text + digit, (*path, s)))
        for j in {lattice.spans[s][1] for s in by_start.get(i, [])}:
            ending[j] = _best_distinct(ending[j])
    return _best_distinct(ending[lattice.parts])


def _best_distinct(readings: list[tuple[float, str, tuple[int, ...]]]) -> list[tuple[float, str, tuple[int, ...]]]:
    """The KEEP best readings, one per text (the best path of each)."""
    out: list[tuple[float, str, tuple[int, ...]]] = []
    seen: set[str] = set()
    for r in sorted(readings, key=lambda r: -r[0]):
        if r[1] not in seen:
            seen.add(r[1])
            out.append(r)
            if len(out) == KEEP:
                break
    return out
