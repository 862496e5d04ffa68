"""Zero-shot agreement on the probe sets: answers to the author's other decks, labelled by one judge.

    .venv/bin/python eval/probes.py              # per file, and per set
    .venv/bin/python eval/probes.py --misses     # and every answer whose verdict is not its label

``eval/probes/FOLDER-DECK.jsonl`` holds answers to ``../shared/decks-corpus/FOLDER/DECK.md`` (rows ``{"card": N,
"answer": ..., "verdict": ...}``, N as ``grader cards`` numbers them). The first set (ten decks) helped tune the
grader; the second (``SECOND``) was written and labelled before any of it was graded, and so was the third (``THIRD``),
after the second had been used to tune the grader too, the fourth (``FOURTH``), after all three had, and the fifth
(``FIFTH``, the ten decks left), after all four had. The sixth (every file in ``eval/probes/sixth/``, named the same
way) answers cards none of the others answer, of twelve decks, and was written and labelled blind after all five had
tuned the grader; the seventh (every file in ``eval/probes/seventh/``) likewise answers cards none of the six answers,
of twelve decks, and was written and labelled blind after all six had; the eighth (every file in ``eval/probes/eighth/``)
answers cards none of the seven answer, of twelve decks in eight folders, written and labelled blind after all seven had
tuned the grader; the ninth (every file in ``eval/probes/ninth/``) answers 34 cards none of the eight answer and 5 they do
(CV has no gradable card left unanswered), of twelve decks in eight folders, written and labelled blind after all eight
had tuned the grader; the tenth (every file in ``eval/probes/tenth/``) answers 26 cards none of the nine answer and 11
one of them does (CV and most decks have no gradable card left unanswered), of twelve decks in eight folders, written and
labelled blind after all nine had tuned the grader; the eleventh (every file in ``eval/probes/eleventh/``)
answers 17 cards none of the ten answer and 18 one of them does (most decks have no gradable card left unanswered), of
twelve decks in eight folders, written and labelled blind after all ten had tuned the grader. Each answer is graded as
``grader grade DECK`` grades it, settings as shipped, knowing the deck's other cards (``KeywordGrader.use_deck``: a list
of guesses keeps only its own card's share). Reads the decks where they are; writes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.decks import load_deck  # noqa: E402
from grader.grading import KeywordGrader  # noqa: E402

PROBES = ROOT / "eval" / "probes"
SIXTH = PROBES / "sixth"
SEVENTH = PROBES / "seventh"
EIGHTH = PROBES / "eighth"
NINTH = PROBES / "ninth"
TENTH = PROBES / "tenth"
ELEVENTH = PROBES / "eleventh"
CORPUS = ROOT.parent / "shared" / "decks-corpus"
SECOND = frozenset(
    {
        "aml-gnns",
        "bdt-consensus",
        "big-recommender-systems",
        "cld-distributed-computing",
        "cs-semaphores-and-monitors",
        "cv-blobs",
        "deep-regularization",
        "etm-scheduling-resources-and-costs",
        "nlp-semantics",
        "nlp-syntax",
    }
)
THIRD = frozenset(
    {
        "aml-transformer-networks",
        "bdt-ethereum",
        "big-clustering-intro",
        "big-tree-methods-and-ensembles",
        "cs-faster-mutex",
        "cs-labeled-transition-systems",
        "cv-image-acquisition",
        "deep-multi-layer-perceptron",
        "nlp-vector-semantics",
        "nlp-words-and-corpora",
    }
)
FOURTH = frozenset(
    {
        "aml-detection-and-segmentation",
        "aml-visual-search",
        "big-graph-link-analysis",
        "big-logistic-regression",
        "cs-concurrent-lts",
        "cs-dining-philosophers-and-stm",
        "cs-introduction-to-concurrency",
        "deep-deep-generative-models",
        "deep-linear-regression-convexity-gradients",
        "nlp-lsa-and-word2vec",
    }
)

FIFTH = frozenset(
    {
        "aml-gradient-and-backprop",
        "big-supervised-learning",
        "cs-enhancing-liveness",
        "cs-more-on-atomicity",
        "cs-partition-refinement",
        "cs-universal-objects-and-consensus",
        "deep-data-features-and-more",
        "deep-transformers",
        "nlp-skipgram-cbow-hierarchical-softmax",
        "nlp-transformers-and-pretraining",
    }
)

LATER_SETS = {"second": SECOND, "third": THIRD, "fourth": FOURTH, "fifth": FIFTH}


def probe_files() -> list[tuple[Path, str]]:
    """Every probe file with its set: a top-level file's set by its name, a folder's files all that folder's set."""
    top = [
        (path, next((kind for kind, names in LATER_SETS.items() if path.stem in names), "first"))
        for path in sorted(PROBES.glob("*.jsonl"))
    ]
    sixth = [(path, "sixth") for path in sorted(SIXTH.glob("*.jsonl"))]
    seventh = [(path, "seventh") for path in sorted(SEVENTH.glob("*.jsonl"))]
    eighth = [(path, "eighth") for path in sorted(EIGHTH.glob("*.jsonl"))]
    ninth = [(path, "ninth") for path in sorted(NINTH.glob("*.jsonl"))]
    tenth = [(path, "tenth") for path in sorted(TENTH.glob("*.jsonl"))]
    eleventh = [(path, "eleventh") for path in sorted(ELEVENTH.glob("*.jsonl"))]
    return top + sixth + seventh + eighth + ninth + tenth + eleventh


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"no corpus decks at {CORPUS}")
    misses = "--misses" in sys.argv[1:]
    kinds = ("first", *LATER_SETS, "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh")
    totals = {kind: [0, 0] for kind in kinds}
    for path, kind in probe_files():
        folder, _, name = path.stem.partition("-")
        deck = load_deck(CORPUS / folder.upper() / f"{name}.md")
        grader = KeywordGrader()
        grader.use_deck(deck.cards)  # as ``grader grade DECK`` knows its deck's other cards
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        agree = 0
        for row in rows:
            grade = grader.grade(deck.cards[row["card"] - 1], row["answer"])
            agree += grade.verdict.value == row["verdict"]
            if misses and grade.verdict.value != row["verdict"]:
                print(f"  {path.stem} card {row['card']}: {row['verdict']} graded {grade.verdict.value} ({grade.score:.2f}): {row['answer']}")
        totals[kind][0] += agree
        totals[kind][1] += len(rows)
        print(f"{path.stem} ({kind}): {agree} of {len(rows)}")
    for kind, (agree, count) in totals.items():
        print(f"{kind} set: {agree} of {count} ({agree / count:.1%})")


if __name__ == "__main__":
    main()
