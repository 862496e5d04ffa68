"""The prompt files (``prompts/system.md``, ``prompts/rubric.md``) and the messages built from them.

They are files, not strings in code, so they can be read and changed without
Python; their version is a hash of everything the model is told, so the reply
cache and a run's record change when a prompt does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ..errors import LLMError
from ..models import Card, Grade
from ..resources import bundled, missing
from ..scoring import GradingSettings
from .schema import LLMFeedback, Mode


def prompts_dir() -> Path:
    """Where the prompt files are: the repository's ``prompts/`` or the installed copy."""
    found = bundled("prompts")
    if found is None or not (found / "system.md").is_file():
        raise LLMError("the prompt files are missing from this installation", path=missing("prompts"))
    return found


@dataclass(frozen=True)
class Prompts:
    """The instructions and the rubric template, with the grading thresholds filled in."""

    system: str
    rubric: Template
    schema: str
    version: str

    @classmethod
    def load(cls, settings: GradingSettings, directory: Path | None = None) -> Prompts:
        """The prompts, and their version: a hash of everything the model is told."""
        directory = directory or prompts_dir()
        try:
            system_t = (directory / "system.md").read_text(encoding="utf-8")
            rubric_t = (directory / "rubric.md").read_text(encoding="utf-8")
        except OSError as exc:
            raise LLMError(f"cannot read prompt file: {exc.strerror}", path=exc.filename) from None
        system = Template(system_t).substitute(
            correct=f"{settings.correct_threshold:g}", partial=f"{settings.partial_threshold:g}"
        )
        schema = json.dumps(LLMFeedback.model_json_schema(), ensure_ascii=False)
        version = hashlib.sha256("\0".join([system, rubric_t, schema]).encode()).hexdigest()[:12]
        return cls(system, Template(rubric_t), schema, version)

    def messages(self, card: Card, answer: str, grade: Grade, mode: Mode) -> list[dict[str, str]]:
        """The conversation: instructions, the rubric, then the answer alone in its own message."""
        system = self.system
        if mode == "json_object":
            system += f"\n\nThe JSON object must follow this JSON schema:\n{self.schema}\n"
        hints = []
        for t in grade.terms:
            hint = "found" if t.found else (f"partly ({t.credit:.0%})" if t.credit > 0 else "not found")
            hints.append(f"- {t.term}: {hint}")
        rubric = self.rubric.substitute(
            question=card.question or "(no question)",
            reference=re.sub(r"={2,3}(.+?)={2,3}", r"**\1**", card.answer, flags=re.DOTALL),
            terms="\n".join(f"- {t.text}" for t in card.key_terms),
            keyword="\n".join(hints) or "(none)",
        )
        # The answer cannot close its own delimiter: a tag inside it is defused
        # (brackets are punctuation, so quotes still match after normalisation).
        fenced = re.sub(r"<\s*(/?)\s*student_answer\s*>", r"[\1student_answer]", answer, flags=re.IGNORECASE)
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": rubric},
            {"role": "user", "content": f"<student_answer>\n{fenced}\n</student_answer>"},
        ]
