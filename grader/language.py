"""Which language a deck is written in, for the stemmer its answers are graded with (``normalize.stemming_in``).

A deck may say it (``language:`` in a YAML or JSON deck, a line ``language: german`` in a markdown deck's front
matter or in an Anki deck's description, ``#language:german`` in an Anki text export); otherwise it is read from the
deck's own words, never from an answer: each language's most common function words ("der", "und", "ist"; "и", "в",
"не") are counted among them, and a language other than English is taken only when it clearly wins. Languages Snowball stems but that are
written in another script (Arabic, Hindi, Tamil, ...) are never inferred: their decks stem as they always have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .errors import DeckError
from .normalize import fold

# The words counted: each language's commonest words, written as a deck's words are read (folded), less those
# that are English words too ("a", "in", "is", "per"); a word two other languages share counts for both.
_FUNCTION_WORDS = {
    "english": "the of and is are what which how why does with from this that these there their it was were be",
    "german": "der die das und ist nicht ein eine einen einem einer mit auf sich dem des zu wird werden sind auch wie",
    "french": "le la les et est des du un une dans pour qui que pas sur sont avec ce cette par au aux ou de en",
    "spanish": "el la los las y es del un una con por para que como se su sus al lo esta son entre de en",
    "italian": "il la di che gli della delle dei un una sono con non del nel alla questo anche",
    "portuguese": "os do da das dos uma com para que por sao nao como ao mais ou seu sua de em",
    "dutch": "het een van en niet dat met voor op zijn wordt worden ook bij naar deze de",
    "swedish": "och att det som ar pa av for med inte till den ett har om",
    "danish": "og at det som er pa af for med ikke til den et har om",
    "norwegian": "og at det som er pa av for med ikke til den et har om ikkje",
    "finnish": "ja ei se etta kun mutta tai joka ovat myos niin kuin mika",
    "polish": "w nie na sie jest z do ze ktory jak co od przez oraz lub",
    "czech": "v se na je z ze do pro jako by tak ktery jsou nebo ale",
    "turkish": "ve bir bu da de ile icin olan gibi daha cok ne ya veya",
    "hungarian": "az es hogy nem egy is van meg mint csak ez vagy",
    "romanian": "si de la este care pe cu din nu sunt mai sau",
    "catalan": "el la els les es que de per amb una dels al no com",
    "indonesian": "yang dan di ini itu dengan untuk dari tidak ada dalam akan pada adalah",
    "russian": "и в не на что с по это как из для к от при или так если также",
    "serbian": "је у се да су који за од као и али или",
    "greek": "και το η της του την των στο στην σε με για που ειναι απο οι τα δεν",
}
# Shares of the deck's words: below this, no language but English is taken; and it must have this many times
# English's count, and more than any other.
_LEAST_SHARE = 0.1
_OVER_ENGLISH = 2
# Words read from a deck's start: enough to tell its language, and few enough that a big deck loads as fast.
_WORDS_READ = 3000


_LETTERS = re.compile(r"[^\W\d_]+")


def _words(text: str) -> list[str]:
    """A text's runs of letters, folded (``normalize.fold``): enough to count function words, and no stemming, which
    loading a deck would pay for every word it reads here."""
    return _LETTERS.findall(fold(text))


@lru_cache(maxsize=1)
def _function_words() -> dict[str, frozenset[str]]:
    """Each language's listed words as a deck's words are read (``_words``), English words left out of the others."""
    from .normalize import STOPWORDS

    read = {language: frozenset(_words(words)) for language, words in _FUNCTION_WORDS.items()}
    english = read["english"] | STOPWORDS | {"per", "come", "e"}
    return {language: words if language == "english" else words - english for language, words in read.items()}


def infer_language(texts: Iterable[str]) -> str:
    """The language a deck's texts (questions, answers, terms) are written in, by its function words: English
    unless another has a tenth of the words read, twice English's count and more than any other."""
    words: list[str] = []
    for text in texts:
        words += _words(text)
        if len(words) >= _WORDS_READ:
            break
    counts = {language: sum(w in listed for w in words) for language, listed in _function_words().items()}
    english = counts.pop("english")
    best = max(counts, key=counts.__getitem__)
    others = [n for language, n in counts.items() if language != best]
    clearly = counts[best] >= _LEAST_SHARE * len(words) and counts[best] >= _OVER_ENGLISH * english and counts[best] > max(others)
    return best if clearly and counts[best] >= 2 else "english"


def function_words(language: str) -> str:
    """A language's commonest function words, as counted here ("der die das und ..."; none for a language without
    a list): the stopwords of a deck in that language beside English's (``normalize.stopwords``)."""
    return _FUNCTION_WORDS.get(language, "")


# A line that says a deck's language, as a YAML deck does (``language: german``).
_LANGUAGE_LINE = re.compile(r"^language[ \t]*:[ \t]*[\"']?([^\"'\s#]*)[\"']?[ \t]*(?:#.*)?$", re.MULTILINE | re.IGNORECASE)
# What YAML reads as no value (``language:``, ``language: ~``): no language said, as a YAML deck takes it.
_NO_VALUE = {"", "~", "null", "Null", "NULL"}


def declared_language(text: str, path: str | Path, first_line: int | None) -> str | None:
    """The language a ``language: german`` line of a deck's text says, as Snowball names it, if it has one (an empty
    ``language:``, as YAML's null, says none).

    An unknown name is a ``DeckError`` naming the file, and the line when the text is lines of the file starting
    at ``first_line`` (an Anki package's deck description is not).
    """
    from .normalize import STEMMING_LANGUAGES

    said = _LANGUAGE_LINE.search(text)
    if said is None or said[1] in _NO_VALUE:
        return None
    if said[1].lower() not in STEMMING_LANGUAGES:
        line = None if first_line is None else first_line + text.count("\n", 0, said.start())
        raise DeckError(f"language: unknown language {said[1]!r} (one of: {', '.join(sorted(STEMMING_LANGUAGES))})", path=path, line=line)
    return said[1].lower()
