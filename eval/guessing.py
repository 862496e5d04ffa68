"""Lists of guesses: how the grader treats an answer that names a card's key terms among many other cards' terms.

    .venv/bin/python eval/guessing.py                  # the bundled deck and every deck in ../shared/decks-corpus
    .venv/bin/python eval/guessing.py DECK.md ...      # these decks

No dataset holds such answers, so they are made from real decks: for every card
with two or more highlighted key terms, one answer names its own terms and,
shuffled among them, 0 / 1 / 2 / 3 times as many terms of the deck's other cards,
comma-separated ("sharing, live migration, emulation, docker daemon, ...").
Each is graded zero-shot (settings as shipped) by a grader that knows the deck
(the rule on: ``KeywordGrader.use_deck``) and by one that does not (the rule
off), and the verdicts are counted. Own terms alone must stay correct; the more
foreign terms, the less an answer should earn.

Answers the rule must leave alone are counted too: every highlighted card's own
reference answer graded as an answer, and the labelled seed sets. Reads the
decks and sets where they are; writes nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.decks import load_deck  # noqa: E402
from grader.evaluation import load_eval_set  # noqa: E402
from grader.grading import KeywordGrader  # noqa: E402
from grader.models import Card  # noqa: E402

BUNDLED = ROOT / "decks" / "virtualization.md"
CORPUS = ROOT.parent / "shared" / "decks-corpus"
SEED_SETS = (ROOT / "eval" / "seed_dev.jsonl", ROOT / "eval" / "seed_test.jsonl")
FOREIGN_RATIOS = (0, 1, 2, 3)


def highlighted(cards: Iterable[Card], least: int = 2) -> list[Card]:
    """The cards whose key terms the author highlighted, ``least`` or more of them."""
    return [c for c in cards if len(c.key_terms) >= least and not any(t.derived for t in c.key_terms)]


def guessing_answers(cards: list[Card], ratio: int, seed: int = 0) -> list[tuple[Card, str]]:
    """One answer per highlighted card: its own terms and ``ratio`` times as many of the other cards' terms,
    shuffled with a fixed seed."""
    rng = random.Random(seed)
    out = []
    for card in highlighted(cards):
        own = [t.text for t in card.key_terms]
        mine = {t.lower() for t in own}
        others = sorted({t.text for c in cards if c is not card for t in c.key_terms if not t.derived and t.text.lower() not in mine})
        if len(others) < ratio * len(own):
            continue
        listed = own + rng.sample(others, ratio * len(own))
        rng.shuffle(listed)
        out.append((card, ", ".join(listed)))
    return out


def changed(pairs: list[tuple[Card, str]], cards: list[Card]) -> tuple[int, int]:
    """How many of the answers the rule lowers, and how many of those change verdict."""
    knowing, plain = KeywordGrader(), KeywordGrader()
    knowing.use_deck(cards)
    lowered = flipped = 0
    for card, answer in pairs:
        with_rule, without = knowing.grade(card, answer), plain.grade(card, answer)
        lowered += with_rule.score < without.score
        flipped += with_rule.verdict != without.verdict
    return lowered, flipped


def shares(counts: Counter[str], n: int) -> str:
    return " / ".join(f"{counts[v] / n:.0%}" for v in ("correct", "partial", "incorrect"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("decks", nargs="*", type=Path, help="markdown decks (default: the bundled deck and the corpus)")
    args = parser.parse_args()
    paths = args.decks or [BUNDLED, *sorted(CORPUS.glob("*/*.md"))]
    decks = [load_deck(p) for p in paths]
    print(f"{len(decks)} decks; answers: a card's own highlighted terms and N times as many of its deck's other cards' terms")
    print(f"{'N':>3} {'answers':>8}  {'rule on: correct / partial / incorrect':<40} rule off")
    for ratio in FOREIGN_RATIOS:
        on, off = Counter[str](), Counter[str]()
        n = 0
        for deck in decks:
            knowing = KeywordGrader()
            knowing.use_deck(deck.cards)
            plain = KeywordGrader()
            for card, answer in guessing_answers(deck.cards, ratio):
                on[knowing.grade(card, answer).verdict.value] += 1
                off[plain.grade(card, answer).verdict.value] += 1
                n += 1
        print(f"{ratio:>3} {n:>8}  {shares(on, n):<40} {shares(off, n)}")
    lowered = flipped = n = 0
    for deck in decks:
        pairs = [(c, c.answer) for c in highlighted(deck.cards, least=1)]
        low, flip = changed(pairs, deck.cards)
        lowered, flipped, n = lowered + low, flipped + flip, n + len(pairs)
    print(f"reference answers graded as answers: {n}; the rule lowers {lowered}, changes the verdict of {flipped}")
    for path in SEED_SETS:
        if path.exists():
            evalset = load_eval_set(path)
            pairs = [(evalset.cards[it.question_id], it.answer) for it in evalset.items]
            low, flip = changed(pairs, load_deck(BUNDLED).cards)
            print(f"{path.name}: {len(pairs)} answers; the rule lowers {low}, changes the verdict of {flip}")


if __name__ == "__main__":
    main()
