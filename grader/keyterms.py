"""Key terms: from highlighted markdown to matchable phrasings, or derived from prose.

How a highlighted term is read (documented in the README):

* ``dispatcher: entry point``: a short head before a colon names the idea and the
  rest explains it. The head earns 75% of the term, the explanation 25%, so
  ``dispatcher`` alone counts as found and the explanation adds the rest.
* ``manager (hypervisor)``: a parenthetical at the end of a short term is a
  synonym; either phrasing earns the term. Elsewhere (``process that (theorically)
  runs``) a parenthetical is optional and is dropped. ``(re)written`` accepts
  ``rewritten`` and ``written``.
* Chinese and Japanese full-width colons and parentheses (``调度器：入口点``) are read as these.
* ``one/few``: a slash between two words of three or more letters gives
  alternatives (``translates one`` or ``translates few``); ``I/O`` and ``C/S`` stay
  as written.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

from .models import KeyTerm, TermPart
from .normalize import Token, content_tokens, fold, is_spaceless, is_spaceless_in, normalize, phrase_words, stem, stemming_in, stemming_language, stopwords, tokenize

HEAD_WEIGHT = 0.75
MAX_ALTERNATIVES = 8

# Linear-time patterns: a scan stops where another match could start ("[" in
# link text, "]" in a destination, "<" in a tag), so hostile text such as
# "[[[[..." is not rescanned from every start.
_MATH = re.compile(r"\$+([^$]*)\$+")
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^)\]]*\)")
_WIKILINK = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")
_TAG_LINK = re.compile(r"#\[\[[^\[\]]*\]\]")  # Logseq's and Obsidian's tag of several words, "#[[BD VIII - Linear Regression]]"
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`+|~~)")
_LATEX_CMD = re.compile(r"\\([A-Za-z]+)")
# LaTeX commands whose name is no word a reader says: the word it is read as.
_LATEX_SAID = {"infty": "infinity"}
_EDGE_PUNCT = " \t.,;:=!?-–—*_\\\"'`"


def without_comments(text: str) -> str:
    """Text with its HTML comments (``<!-- any 2 -->``: a note to grader or to the author) blanked, in one pass."""
    out, start = [], 0
    while (opening := text.find("<!--", start)) != -1:
        closing = text.find("-->", opening + 4)
        if closing == -1:
            break
        out.append(text[start:opening] + " ")
        start = closing + 3
    out.append(text[start:])
    return "".join(out)


def clean_markdown(text: str) -> str:
    """Plain text of a markdown fragment: math, links, tags and emphasis removed.

    A step runs only when the character it needs is in the text: most
    fragments (a question, a term) need none, and a deck has thousands.
    """
    if "<!--" in text:
        text = without_comments(text)
    if "[" in text:
        if "#[[" in text:  # a tag files the card under a page: no words of its answer
            text = _TAG_LINK.sub(" ", text)
        text = _WIKILINK.sub(lambda m: m.group(2) or m.group(1), text)
        text = _LINK.sub(r"\1", text)
    if "$" in text:
        text = _MATH.sub(r"\1", text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "\\" in text:
        text = _LATEX_CMD.sub(lambda m: _LATEX_SAID.get(m[1], m[1]), text).replace("\\", " ")
    text = text.replace("$", "")
    if "*" in text or "_" in text or "`" in text or "~" in text:  # four searches cost less than one scan of the pattern
        text = _EMPHASIS.sub("", text)
    text = text.replace("==", " ")
    return " ".join(text.split())


def clean_term(raw: str) -> str:
    """The display text of a highlighted span."""
    return clean_markdown(raw).strip(_EDGE_PUNCT).strip()


def parse_term(text: str) -> KeyTerm | None:
    """Turn a cleaned highlight into a KeyTerm, or None if nothing matchable is left."""
    alternatives = _alternatives(text)
    return KeyTerm(text=text, alternatives=alternatives) if alternatives else None


def parse_terms(highlights: Iterable[str]) -> list[KeyTerm]:
    """Key terms from highlighted spans, in order, each wording (its normalised text) once."""
    terms: dict[str, KeyTerm] = {}
    for raw in highlights:
        text = clean_term(raw)
        words = normalize(text)  # empty for a text without words, which no phrasing of it can have
        if words and words not in terms and (alternatives := _alternatives(text, words)):
            terms[words] = KeyTerm(text=text, alternatives=alternatives)
    return list(terms.values())


# Chinese and Japanese write a term's colon and parentheses full-width: read as the ASCII ones.
_FULL_WIDTH_PUNCTUATION = str.maketrans("：（）", ":()")


def _alternatives(text: str, words: str | None = None) -> list[list[TermPart]]:
    """The phrasings that earn a term, each a list of weighted parts; none if the text has no words.

    ``words``: the text normalised, when the caller has it already.
    """
    if not text.isascii():
        text = text.translate(_FULL_WIDTH_PUNCTUATION)
    head, sep, rest = text.partition(":")
    if sep and 0 < phrase_words(content_tokens(head)) <= 4 and content_tokens(rest):
        parts = [(head.strip(), HEAD_WEIGHT), (rest.strip(), 1 - HEAD_WEIGHT)]
    elif "(" not in text and "/" not in text:  # most terms: one phrasing, the text itself (as ``_variants`` has it)
        has_words = normalize(text) if words is None else words
        return [[TermPart(text=text.strip() or text, weight=1.0)]] if has_words else []
    else:
        parts = [(text, 1.0)]
    # A variant is checked and built once, not once per combination it is in: None when it has no words.
    per_part = [
        [TermPart(text=v, weight=weight) if normalize(v) else None for v in _variants(phrase)]
        for phrase, weight in parts
    ]
    alternatives = []
    for combo in itertools.islice(itertools.product(*per_part), MAX_ALTERNATIVES):
        alt = [part for part in combo if part is not None]
        if alt:
            alternatives.append(alt)
    return alternatives


_TRAILING_GLOSS = re.compile(r"^(?P<main>.+?)\s*\((?P<gloss>[^()]+)\)\s*$")
# A gloss that gives an example ("smoothing (e.g. laplacian)") is no synonym: the term is its main words. One that
# restates them ("(i.e. more samples)") is, without its "i.e." (whose letters would be words of the term).
_EXAMPLE_GLOSS = re.compile(r"^\s*(?:e\.?\s?g\b\.?|for (?:example|instance)\b|such as\b)", re.IGNORECASE)
_RESTATING_MARK = re.compile(r"^\s*i\.?\s?e\b\.?[\s,:]*", re.IGNORECASE)
_OPTIONAL_AFFIX = re.compile(r"\((\w{1,6})\)(?=\w)")
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)")
_SLASH = re.compile(r"\b([A-Za-z]{3,})/([A-Za-z]{3,})\b")


def _variants(phrase: str) -> list[str]:
    """The phrasings a single phrase allows (synonym glosses, optional bits, slashes)."""
    if "(" not in phrase and "/" not in phrase:  # most phrases: nothing to expand
        return [phrase.strip() or phrase]
    variants = [phrase]
    gloss = _TRAILING_GLOSS.match(phrase)
    if gloss and phrase_words(content_tokens(gloss["main"])) <= 3:
        if _EXAMPLE_GLOSS.match(gloss["gloss"]):
            variants = [gloss["main"]]
        else:
            variants = [gloss["main"], _RESTATING_MARK.sub("", gloss["gloss"]) or gloss["gloss"]]
    expanded: list[str] = []
    for v in variants:
        if _OPTIONAL_AFFIX.search(v):
            expanded += [_OPTIONAL_AFFIX.sub(r"\1", v), _OPTIONAL_AFFIX.sub("", v)]
        else:
            expanded.append(v)
    expanded = [x for v in expanded for x in (_PARENTHETICAL.sub("", v).strip() or v, *_acronym_variants(v))]
    out: list[str] = []
    for v in expanded:
        m = _SLASH.search(v)
        if m:
            out += [v[: m.start()] + m[1] + v[m.end():], v[: m.start()] + m[2] + v[m.end():]]
        else:
            out.append(v)
    return list(dict.fromkeys(out))


# "Chomsky Normal Form (CNF)": an acronym in parentheses right after the words it stands for.
_ACRONYM_AFTER = re.compile(r"\(([A-Z]{2,6})\)")


def _acronym_variants(phrase: str) -> list[str]:
    """The phrase with its acronyms in place of the words they stand for ("CFG in CNF" for "CFG in Chomsky Normal Form
    (CNF)"), where the words before an acronym in parentheses begin with its letters."""
    out = []
    for m in _ACRONYM_AFTER.finditer(phrase):
        letters = m[1]
        words = list(re.finditer(r"[^\W\d_]+", phrase[: m.start()]))[-len(letters) :]
        if len(words) == len(letters) and "".join(w[0][0] for w in words).upper() == letters:
            out.append(_PARENTHETICAL.sub("", phrase[: words[0].start()] + letters + phrase[m.end() :]).strip())
    return out


# --- Derived terms for cards whose author highlighted nothing -----------------

# Punctuation ends a phrase: ASCII, curly quotes and guillemets, and the full-width and ideographic punctuation of
# Chinese and Japanese (a clause of theirs has no space to cut it at).
_PHRASE_BREAK = re.compile(r"[.,;:!?()\[\]{}\n\"“”„‚‘«»‹›，。、；：！？（）［］｛｝「」『』【】《》〈〉]|\s-\s|\s–\s")
MAX_DERIVED_TERMS = 6
MAX_ITEM_WORDS = 4
OTHER_WORD_WEIGHT = 0.25
LIST_ITEM = re.compile(r"^[ \t>]*(?:[-*+]|\d+[.)])[ \t]+(?P<item>.+)$", re.MULTILINE)  # an item of a list, bulleted or numbered
_IMAGE_OR_MATH = re.compile(r"!?\[[^\[\]]*\]\([^)\]]*\)|\$\$.*?\$\$|\$[^$\n]*\$", re.DOTALL)
MAX_PHRASE_WORDS = 3
# Words that open remarks rather than carry the answer.
REMARK_WORDS = frozenset({"note", "without", "within", "example", "also", "see", "slides", "etc", "lol"})


@lru_cache(maxsize=None)
def _derive_stopwords(language: str) -> frozenset[str]:
    """The words no derived term is made of, in a deck stemmed in ``language``: its stopwords (``normalize.stopwords``:
    in a German deck "der", "und", "nicht" too) and the words that open remarks."""
    with stemming_in(language):
        return stopwords() | REMARK_WORDS


def document_frequencies(texts: Iterable[str]) -> tuple[dict[str, int], int]:
    """How many of the texts each stem occurs in: distinctiveness within a deck."""
    freq: Counter[str] = Counter()
    n = 0
    language = stemming_language()
    for text in texts:
        n += 1
        freq.update(_content_stems(text, language))
    return dict(freq), n


def _content_stems(text: str, language: str) -> set[str]:
    """The stems of a text's content words, found a run between spaces at a time: no word spans a space."""
    return set().union(*(_run_stems(run, language) for run in text.split()))


@lru_cache(maxsize=65536)
def _run_stems(run: str, language: str) -> frozenset[str]:
    """The content stems of a run of text between spaces in a stemming language (cached: a deck repeats its runs)."""
    return frozenset(t.stem for t in content_tokens(run))


def derive_key_terms(
    answer: str, doc_freq: Mapping[str, int] | None = None, n_docs: int = 1, question: str = ""
) -> list[KeyTerm]:
    """Key terms for an unhighlighted answer.

    A list answer is the author's own cut into ideas: each item becomes a term
    (a long item earns credit by how much of it is covered, like a long
    highlight). Prose is cut into candidate phrases at punctuation and stopwords
    (as in RAKE); each phrase scores the sum of its words' inverse document
    frequency within the deck, so words every card uses count for little and
    words the question already gives count for less. Formulas are dropped: they
    are not recalled word by word. Words are read in the language they are
    stemmed in (``normalize.stemming_in``): its stopwords cut phrases, its stems key them.
    ``doc_freq`` and ``n_docs`` are what ``document_frequencies`` gives (in that language): a count of answers, 0 or more.
    """
    if n_docs < 0:
        raise ValueError(f"n_docs must be a number of answers, 0 or more, not {n_docs}")
    language = stemming_language()
    text = _IMAGE_OR_MATH.sub(" ", answer)
    items = [re.sub(r"\s+([,;.])", r"\1", clean_markdown(m["item"])) for m in LIST_ITEM.finditer(text)]
    items = [i.strip(_EDGE_PUNCT) for i in items if content_tokens(i)]
    if len(items) >= 2:
        phrases = []
        for item in items:
            if phrase_words(content_tokens(item)) <= MAX_ITEM_WORDS:
                phrases.append(item)
            else:  # a whole sentence: each of its words, so each idea in it can be found
                phrases += _content_words(item, language)
    else:
        lines = "\n".join(clean_markdown(line) for line in text.split("\n"))
        phrases = _distinctive_phrases(lines, doc_freq or {}, n_docs, question, language)
    terms: dict[str, KeyTerm] = {}
    for phrase in phrases:
        _add_derived(terms, phrase, 1.0, language)
    if len(items) < 2:
        # Prose beyond its most distinctive phrases still says something: its
        # other words are light terms, so covering more of the reference scores higher.
        covered = {stem for key in terms for stem in key.split()}
        for word in _content_words(clean_markdown(text), language):
            if len(word) > 1 and (stem(word) not in covered if not is_spaceless(word) else not covered.issuperset(_stems(word, language))):
                _add_derived(terms, word, OTHER_WORD_WEIGHT, language)
    abbreviated = _abbreviation_letters(answer)
    return [t for t in terms.values() if t.text.casefold() not in abbreviated] or list(terms.values())


_LATIN_ABBREVIATION = re.compile(r"\b(?:e\.\s?g|i\.\s?e)\b\.?", re.IGNORECASE)
_LONE_LETTER = re.compile(r"(?<![\w.])[^\W\d_](?![\w.])")


def _abbreviation_letters(text: str) -> frozenset[str]:
    """The letters a text writes only inside "e.g." or "i.e.": no terms, though cutting phrases at dots makes them
    words ("e" and "g"). A letter it also writes alone ("rock E", "bulb A") stays a term."""
    if "." not in text:
        return frozenset()
    inside = {c for m in _LATIN_ABBREVIATION.finditer(text) for c in m[0].casefold() if c.isalpha()}
    return frozenset(inside - {m[0].casefold() for m in _LONE_LETTER.finditer(_LATIN_ABBREVIATION.sub(" ", text))}) if inside else frozenset()


def _add_derived(terms: dict[str, KeyTerm], phrase: str, weight: float, language: str) -> None:
    key = " ".join(_stems(phrase, language))
    if key in terms:  # items often repeat words ("you need to know ...")
        return
    alternatives = _alternatives(phrase)
    if alternatives:
        terms[key] = KeyTerm(text=phrase, alternatives=alternatives, derived=True, weight=weight)


def _content_words(text: str, language: str) -> list[str]:
    """The words a derived term can be, one per stem, in order: found a run between spaces at a time, as stems are."""
    seen: dict[str, str] = {}
    for run in text.split():
        for word, word_stem in _run_words(run, language):
            seen.setdefault(word_stem, word)
    return list(seen.values())


@lru_cache(maxsize=65536)
def _run_words(run: str, language: str) -> tuple[tuple[str, str], ...]:
    """The words of a run between spaces that a derived term can be, with their stems (cached, as ``_run_stems``).

    Text of a script written without spaces has no words to cut (it is read as pairs of characters, which are no
    terms): each of its stretches between punctuation is one, as written, its stem the stretch folded.
    """
    tokens = content_tokens(run)
    common = _derive_stopwords(language)
    if is_spaceless_in(run):
        return tuple((written, fold(written)) for written in _spaceless_stretches(run, tokens, common))
    return tuple((t.word, t.stem) for t in tokens if t.word not in common and not t.word.isdigit())


def _spaceless_stretches(run: str, tokens: list[Token], common: frozenset[str]) -> list[str]:
    """The words of a run, with each stretch of overlapping pairs of characters as one word (see ``_run_words``);
    ``common``: the words none is made of."""
    words: list[str] = []
    spans: list[list[int]] = []
    for t in tokens:
        if t.word in common or t.word.isdigit():
            continue
        if spans and is_spaceless(t.word) and t.start < spans[-1][1] and is_spaceless(words[-1]):
            spans[-1][1] = t.end
            words[-1] = run[spans[-1][0] : t.end]
        else:
            spans.append([t.start, t.end])
            words.append(run[t.start : t.end] if is_spaceless(t.word) else t.word)
    return words


def _distinctive_phrases(text: str, doc_freq: Mapping[str, int], n_docs: int, question: str, language: str) -> list[str]:
    question_stems = _content_stems(question, language)
    candidates: dict[str, tuple[float, str]] = {}
    for chunk in _PHRASE_BREAK.split(text):
        phrase: list[str] = []
        for word in chunk.split() + [""]:
            is_content = _carries_meaning(word, language)
            if is_content and len(phrase) < MAX_PHRASE_WORDS:
                phrase.append(word)
                continue
            if phrase:
                candidate = " ".join(phrase).strip(_EDGE_PUNCT)
                stems = _stems(candidate, language)
                key = " ".join(stems)
                score = sum(_idf(s, doc_freq, n_docs) * (0.3 if s in question_stems else 1.0) for s in stems)
                if key and (key not in candidates or candidates[key][0] < score):
                    candidates[key] = (score, candidate)
            phrase = [word] if is_content else []
    ranked = sorted(candidates.values(), key=lambda c: -c[0])
    keep = max(1, min(MAX_DERIVED_TERMS, math.ceil(len(ranked) / 2)))
    return [candidate for _, candidate in ranked[:keep]]


@lru_cache(maxsize=65536)
def _carries_meaning(word: str, language: str) -> bool:
    """Whether a word can be part of a derived phrase in a stemming language: it has words, none a stopword or a number."""
    toks = tokenize(word)
    common = _derive_stopwords(language)
    return bool(toks) and all(t.word not in common and not t.word.isdigit() for t in toks)


@lru_cache(maxsize=16384)
def _stems(phrase: str, language: str) -> tuple[str, ...]:
    """The stems of a phrase's words in a stemming language (cached: a phrase is scored as a candidate, then keyed as a term)."""
    return tuple(t.stem for t in tokenize(phrase))


def _idf(stem: str, doc_freq: Mapping[str, int], n_docs: int) -> float:
    return math.log((n_docs + 1) / (doc_freq.get(stem, 0) + 0.5))
