"""Pydantic models for everything that crosses a boundary: decks, grades, reports."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Verdict(str, Enum):
    correct = "correct"
    partial = "partial"
    incorrect = "incorrect"
    self_graded = "self-graded"


class KeyTerm(BaseModel):
    """One key term of a card, as the author highlighted it (or as derived).

    ``alternatives`` are the phrasings any one of which earns the term; each is a
    list of ``Part``s so that ``dispatcher: entry point`` can weigh its head more
    than its explanation.
    """

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="The term as shown to the user, markdown removed.")
    # Not empty, nor an empty phrasing: the matcher weighs a term by its first phrasing's parts.
    alternatives: list[Annotated[list[TermPart], Field(min_length=1)]] = Field(
        min_length=1, description="Ways to express the term; each is a list of weighted parts."
    )
    derived: bool = Field(False, description="True when derived from an unhighlighted answer.")
    weight: float = Field(1.0, gt=0, allow_inf_nan=False, description="Share of the card's score, relative to its other terms.")


class TermPart(BaseModel):
    """A phrase inside a key term and its share of the term's credit."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="Words an answer must say.")
    weight: float = Field(1.0, gt=0, allow_inf_nan=False, description="Share of the term's credit, relative to its other parts.")


class ReferenceAnswer(BaseModel):
    """Another complete answer the author accepts, with key terms of its own (highlighted or derived)."""

    model_config = ConfigDict(frozen=True)

    answer: str
    key_terms: list[KeyTerm]


class Card(BaseModel):
    """A recall question with its reference answer and key terms."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable id: hash of the normalised question, unique in the deck.")
    number: int = Field(description="Position in the deck, counting from 1.")
    question: str
    answer: str = Field(description="Reference answer as written (markdown).")
    key_terms: list[KeyTerm] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list, description="Image paths in the answer.")
    question_images: list[str] = Field(
        default_factory=list, description="Image paths in the question, shown with it (its text and id are as without them)."
    )
    line: int = Field(1, description="Line of the card in its deck file.")
    required: int | None = Field(
        None, ge=1, description="How many of the key terms make a complete answer ('any 2'); None: all of them."
    )
    reference_answers: list[ReferenceAnswer] = Field(
        default_factory=list,
        description="Further acceptable answers besides ``answer``: an answer is graded against each, and the best grade counts.",
    )
    language: str = Field("english", description="The language its answers' words are stemmed in (its deck's: see ``language.py``).")

    @property
    def gradable(self) -> bool:
        """A card with key terms is graded; one without is self-graded."""
        return bool(self.key_terms)

    @property
    def reference_texts(self) -> list[str]:
        """Every acceptable answer as written, the card's own first: what an answer may be compared with as a whole."""
        return [self.answer, *(r.answer for r in self.reference_answers)]

    def as_graded(self, grade: Grade) -> Card:
        """The card as its keyword grade saw it: with the reference answer whose terms the grade used.

        A card with further reference answers is graded against each and the
        best grade counts; whatever reads that grade further (the LLM's rubric,
        the harness's calibration) must see the same reference. The result's
        ``reference_answers`` are the others, the card's own answer among them.
        """
        graded_terms = [t.term for t in grade.terms]
        if not self.reference_answers or graded_terms == [t.text for t in self.key_terms]:
            return self
        references = [ReferenceAnswer(answer=self.answer, key_terms=self.key_terms), *self.reference_answers]
        for chosen in references:
            if graded_terms == [t.text for t in chosen.key_terms]:
                others = [r for r in references if r is not chosen]
                update = {"answer": chosen.answer, "key_terms": chosen.key_terms, "required": None, "reference_answers": others}
                return self.model_copy(update=update)
        return self


class Deck(BaseModel):
    """The cards of one deck file, in order."""

    model_config = ConfigDict(frozen=True)

    path: str
    title: str
    cards: list[Card]
    language: str | None = Field(None, description="The language the deck says it is in (``language:``), if it says.")


# How a term's words were found in an answer, from the strictest to the loosest.
HowFound = Literal["exact", "stem", "typo", "compound", "meaning"]


# Why the words an answer says of a key term earn it nothing: said of the other side of what the question contrasts,
# swapped with another term's, only inside another term's mention, with the opposite of one of its words, or with the
# two things it orders the other way round.
Refusal = Literal["other side", "swapped", "inside another term", "opposite", "reversed"]


class TermMatch(BaseModel):
    """How one key term fared in an answer."""

    term: str
    found: bool
    credit: float = Field(ge=0.0, le=1.0, description="Share of the term the answer covers.")
    span: tuple[int, int] | None = Field(
        None, description="Character offsets [start, end) of the matching text in the answer."
    )
    matched_text: str | None = None
    derived: bool = False
    how: HowFound | None = Field(
        None, description="How its words were found, the loosest of them: exact, stem, typo, compound or meaning."
    )
    refused: Refusal | None = Field(
        None,
        description="Why the words the answer says of it (span, matched_text) earn it nothing: 'other side' (said of the "
        "other side of what the question contrasts), 'swapped' (with another term), 'inside another term' (only within "
        "another term's mention), 'opposite' (said with the opposite of one of its words: \"maximises\" for \"minimises\"), "
        "'reversed' (the two things it orders, around \"than\", \"then\", \"before\" or \"instead of\", said the other way "
        "round). Null otherwise.",
    )


class Grade(BaseModel):
    """The keyword grade of one answer to one card."""

    card: str = Field(description="Card id.")
    number: int
    score: float = Field(ge=0.0, le=1.0)
    verdict: Verdict
    terms: list[TermMatch] = Field(default_factory=list)
    answered: bool = Field(True, description="False for a non-answer: nothing, or 'I don't know' and the like.")
    similarity: float | None = Field(
        None, description="Closeness in meaning of the whole answer to the reference (cosine), with the semantic tier."
    )
    foreign_terms: list[str] = Field(
        default_factory=list,
        description="Other cards' key terms the answer names, when they cost it credit: naming 3 or more, and no fewer than its own "
        "card's, keeps only its own card's share.",
    )

    @classmethod
    def nothing_recalled(cls, card: Card, *, answered: bool = True) -> Grade:
        """The grade of an answer that recalls none of the card's terms (revealed, or "I don't know")."""
        if not card.gradable:
            return cls(card=card.id, number=card.number, score=0.0, verdict=Verdict.self_graded)
        terms = [TermMatch(term=t.text, found=False, credit=0.0, derived=t.derived) for t in card.key_terms]
        return cls(card=card.id, number=card.number, score=0.0, verdict=Verdict.incorrect, terms=terms, answered=answered)

    @property
    def matched(self) -> list[str]:
        return [t.term for t in self.terms if t.found]

    @property
    def missing(self) -> list[str]:
        return [t.term for t in self.terms if not t.found]


def check_types(card: Card, answers: Sequence[str]) -> None:
    """Refuse what a library caller may pass to grading by mistake with a TypeError that names it (an answer read as
    JSON null, bytes from a socket, one string where a list of answers belongs), not an AttributeError deep in the
    matcher or a grading process's traceback."""
    if not isinstance(card, Card):
        raise TypeError(f"card must be a grader.Card, not {type(card).__name__}")
    if isinstance(answers, str):
        raise TypeError("answers must be a list of strings, not one string")
    for answer in answers:
        if not isinstance(answer, str):
            raise TypeError(f"an answer must be a str, not {type(answer).__name__}")


class PlainCard(BaseModel):
    """A card in a plain YAML or JSON deck, for people who don't write the markdown."""

    model_config = ConfigDict(extra="forbid")

    question: str
    answer: str = ""
    key_terms: list[str] | None = None
    required: int | None = Field(None, ge=1, strict=True, description="How many key terms make a complete answer; all when absent.")
    reference_answers: list[str] | None = Field(
        None, description="Further acceptable answers, any one of which is a complete answer (key terms highlighted or derived)."
    )


class PlainDeck(BaseModel):
    """A plain YAML or JSON deck: a title and a list of cards."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    language: str | None = Field(None, description="The language its answers are stemmed in, as Snowball names it: german, russian.")
    cards: list[PlainCard]

    @field_validator("language")
    @classmethod
    def _stemmed(cls, language: str | None) -> str | None:
        from .normalize import STEMMING_LANGUAGES

        if language is None:
            return None
        if language.lower() not in STEMMING_LANGUAGES:  # "German" is german, as a markdown deck's front matter reads it
            raise ValueError(f"unknown language {language!r} (one of: {', '.join(sorted(STEMMING_LANGUAGES))})")
        return language.lower()


class AnswerRow(BaseModel):
    """One row of an answers file: which card, the answer, and fields to pass through."""

    line: int
    card: str | None = None
    question: str | None = None
    answer: str
    extra: dict[str, Any] = Field(default_factory=dict)


KeyTerm.model_rebuild()
