"""Graded examples for the prompt (few-shot): the answers to the same question nearest to the one being graded.

Retrieved examples beat random ones ("Language Models are Few-Shot Graders",
2025). Nearness is a similarity function ``(a, b) -> float`` in [0, 1]:
``token_similarity`` (rapidfuzz's token-set ratio) for now; the semantic
tier's ``similarity`` is meant to replace it (pass ``similarity=``). The
examples reach the model fenced as data (``prompts.fence``), never as
instructions, and an example with the very answer being graded is never shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..match import token_similarity
from ..models import Card
from ..normalize import normalize
from .prompts import Example

Similarity = Callable[[str, str], float]


class NearestExamples:
    """The ``k`` graded answers to a card's question most similar to an answer (an ``ExampleSource``)."""

    def __init__(self, graded: Iterable[tuple[str, Example]], k: int, similarity: Similarity = token_similarity):
        """``graded``: (question text, graded answer) pairs; questions are matched after normalisation."""
        self.k = k
        self.similarity = similarity
        self._pool: dict[str, list[Example]] = {}
        for question, example in graded:
            if example.answer.strip():
                self._pool.setdefault(normalize(question), []).append(example)
        self._chosen: dict[tuple[str, str], list[Example]] = {}

    def __len__(self) -> int:
        return sum(len(pool) for pool in self._pool.values())

    def nearest(self, card: Card, answer: str) -> list[Example]:
        key = (card.id, answer)
        chosen = self._chosen.get(key)
        if chosen is None:
            own = normalize(answer)
            pool = [e for e in self._pool.get(normalize(card.question), []) if normalize(e.answer) != own]
            ranked = sorted(enumerate(pool), key=lambda ie: (-self.similarity(answer, ie[1].answer), ie[0]))
            chosen = self._chosen[key] = [e for _, e in ranked[: self.k]]
        return chosen
