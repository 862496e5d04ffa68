"""Plain YAML and JSON decks: a title and a list of cards, each a question, an answer and optional key terms."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import yaml
from pydantic import ValidationError

from ..cardtext import DeckSchemaError, Finding, ParsedDeck, build_cards, highlights, image_paths, question_image_paths
from ..errors import DeckError
from ..files import MAX_FILE_BYTES, has_lone_surrogate, lone_surrogate_line, untitled
from ..keyterms import clean_markdown
from ..models import Deck, PlainCard, PlainDeck


def parse_plain(text: str, path: str, suffix: str) -> ParsedDeck:
    """Cards of a YAML or JSON deck (see ``PlainDeck``).

    ``key_terms`` is optional: without it, terms are highlighted ``==spans==`` of
    the answer or, failing those, derived from it (no lint finding: nothing is
    missing). Written, it is the card's terms as they are: ``[]`` makes a
    self-graded card, and a blank entry is left out and reported. Every schema
    error is reported, not only the first.
    """
    try:
        data, lines, field_lines = _load(text, suffix)
    except json.JSONDecodeError as exc:
        raise DeckError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; it knows only the offset
        raise DeckError(f"invalid YAML: character #x{exc.character:04x} is not allowed", path=path, line=text.count("\n", 0, exc.position) + 1) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DeckError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path, line=mark.line + 1 if mark else None) from None
    except ValueError:  # either parser: an integer longer than Python converts (4,300 digits)
        raise DeckError(f"a number has more than {sys.get_int_max_str_digits():,} digits", path=path) from None
    except RecursionError:  # both parsers recurse per level: "[[[[..." exhausts the stack
        raise DeckError("nested too deeply to be a deck", path=path) from None
    if has_lone_surrogate(data):  # a "\ud800" escape: a string no file or database can hold
        raise DeckError("contains an escaped lone surrogate (like \\ud800), which is not text", path=path, line=lone_surrogate_line(text))
    if _text_size(data) > MAX_FILE_BYTES:  # YAML aliases: a few KB naming one list thousands of times
        raise DeckError(f"its aliases (*) repeat text to more than {MAX_FILE_BYTES // 1024 // 1024} MB, the limit of a deck", path=path)
    if isinstance(data, list):
        data = {"cards": data}
    try:
        plain = PlainDeck.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            message = _message(err)
            loc = err["loc"]
            line = lines[loc[1]] if len(loc) >= 2 and loc[0] == "cards" and isinstance(loc[1], int) and loc[1] < len(lines) else 1
            if len(loc) >= 3 and loc[0] == "cards" and isinstance(loc[1], int) and loc[1] < len(field_lines):  # the field's own line
                line = field_lines[loc[1]].get(str(loc[2]), line)
            problems.append(Finding(line, f"{where}: {message}" if where else message))
        raise DeckSchemaError(problems, path=path) from None
    lines = (lines + [1] * len(plain.cards))[: len(plain.cards)]
    raw = []
    findings: list[Finding] = []
    for i, card in enumerate(plain.cards):
        if card.key_terms is None:
            terms = highlights(card.answer, lines[i], [])
        else:  # as written: an empty list is a self-graded card, and a blank entry is left out
            terms = [t for t in card.key_terms if t.strip()]
            if blank := [str(k) for k, t in enumerate(card.key_terms, start=1) if not t.strip()]:
                what = f"blank entries ({', '.join(blank)}): they are" if len(blank) > 1 else f"a blank entry ({blank[0]}): it is"
                left = "" if terms else "; with no term left, the card can only be self-graded"
                findings.append(Finding(lines[i], f"key_terms has {what} left out{left}"))
        raw.append((lines[i], clean_markdown(card.question), card.answer.strip(), image_paths(card.answer), terms, question_image_paths(card.question)))
    title = plain.title or untitled(path)
    cards = build_cards(
        raw,
        findings,
        derived_note=False,
        required=[c.required for c in plain.cards],
        reference_answers=[c.reference_answers or [] for c in plain.cards],
        terms_as_given=[c.key_terms is not None for c in plain.cards],
    )
    return ParsedDeck(Deck(path=path, title=title, cards=cards, language=plain.language), findings)


def _text_size(value: object) -> int:
    """Characters of text in parsed YAML or JSON as if every alias were written out, which is what the cards will
    hold and be parsed from. Each shared container is measured once, without recursion; one that holds itself
    (``&a [*a]``) counts nothing for the copy inside it."""
    sizes: dict[int, int] = {}

    def size(item: object) -> int:
        return len(item) if isinstance(item, str) else sizes.get(id(item), 0)

    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, measured_inside = stack.pop()
        if not isinstance(item, (dict, list)) or (id(item) in sizes and not measured_inside):
            continue
        inside = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        if measured_inside:
            sizes[id(item)] = sum(map(size, inside))
        else:
            sizes[id(item)] = 0  # until measured: only a container holding itself meets it so
            stack.append((item, True))
            stack.extend((child, False) for child in inside)
    return size(value)


# What a value that is not a mapping should have been, by the model pydantic names in its message.
_MAPPINGS = {
    "PlainCard": "a card, with 'question' and 'answer'",
    "PlainDeck": "a deck: a mapping with 'cards' (and 'title'), or a list of cards",
}
_KINDS = {bool: "true or false", int: "a number", float: "a number", str: "text", list: "a list", type(None): "nothing"}


def _message(err: Any) -> str:
    """pydantic's message, but in the deck's words where it names one of our classes or a field it does not know."""
    model = (err.get("ctx") or {}).get("class_name")
    if err["type"] == "model_type" and model in _MAPPINGS:
        return f"should be {_MAPPINGS[model]}, not {_KINDS.get(type(err['input']), type(err['input']).__name__)}"
    if err["type"] == "extra_forbidden":  # "Extra inputs are not permitted" said nothing of what a typo should have been
        return _unknown_field(str(err["loc"][-1]), in_card=len(err["loc"]) > 1)
    return err["msg"]


def _unknown_field(name: str, *, in_card: bool) -> str:
    import difflib

    model, owner = (PlainCard, "a card") if in_card else (PlainDeck, "a deck")
    fields = list(model.model_fields)
    near = difflib.get_close_matches(name, fields, n=1)
    guess = f": did you mean '{near[0]}'?" if near else ""
    return f"unknown field{guess} ({owner}'s fields are {', '.join(fields)})"


_JSON_QUESTION = re.compile(r'(?<!\\)"question"\s*:')  # a key: inside a string its quotes would be escaped


def _load(text: str, suffix: str) -> tuple[Any, list[int], list[dict[str, int]]]:
    """The parsed deck, the line each card starts on as far as it can be told (YAML: its node; JSON: its
    ``"question"`` key, as the parser gives no positions), and (YAML) the line of each of a card's fields, so that a
    misspelt field is reported where it is written."""
    if suffix == ".json":
        data = json.loads(text)
        lines, line, pos = [], 1, 0
        for m in _JSON_QUESTION.finditer(text):
            line, pos = line + text.count("\n", pos, m.start()), m.start()
            lines.append(line)
        return data, lines, []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    if isinstance(node, yaml.MappingNode):
        node = next((value for key, value in node.value if isinstance(key, yaml.ScalarNode) and key.value == "cards"), None)
    if not isinstance(node, yaml.SequenceNode):
        return data, [], []
    fields = [
        {key.value: key.start_mark.line + 1 for key, _ in card.value if isinstance(key, yaml.ScalarNode)} if isinstance(card, yaml.MappingNode) else {}
        for card in node.value
    ]
    return data, [card.start_mark.line + 1 for card in node.value], fields
