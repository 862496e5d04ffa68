"""Meaning, offline: word vectors from the ``wordllama`` package, whose wheel carries them.

The model is WordLlama's ``l2_supercat`` (256 dimensions, 16 MB): static
vectors for the tokens of a Llama tokenizer, so a phrase's vector is the mean
of its tokens' vectors and any number of phrases of one answer cost a few
array sums. It is loaded from the package's own folder with downloads
disabled; nothing is fetched at run time (a test blocks the network to prove
it). When it cannot load, grading goes on by words alone and says so once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import GraderError

if TYPE_CHECKING:
    from .normalize import Token

MODEL = "l2_supercat"
DIMENSIONS = 256


class SemanticUnavailable(GraderError):
    """The word-vector model could not be loaded (not installed, or its files are missing)."""


@dataclass(frozen=True, eq=False)  # hashed by identity: the word cache is keyed on it
class WordVectors:
    """A token embedding matrix and the tokenizer that indexes it."""

    matrix: np.ndarray  # (vocabulary, DIMENSIONS), float16 as the wheel has it: a word's vector is float32
    tokenizer: object  # tokenizers.Tokenizer

    def word(self, word: str) -> np.ndarray:
        """The vector of one word: the mean of its tokens' vectors (unnormalised, so phrases can sum them)."""
        return _word_vector(self, word)

    def words(self, words: list[str]) -> np.ndarray:
        """One row per word (zeros for a word with no token)."""
        if not words:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([_word_vector(self, w) for w in words])


@lru_cache(maxsize=131072)
def _word_vector(vectors: WordVectors, word: str) -> np.ndarray:
    encoding = vectors.tokenizer.encode(word, add_special_tokens=False)  # type: ignore[attr-defined]  # a tokenizers.Tokenizer
    if not encoding.ids or (len(word) > 1 and not any(c.isascii() for c in word) and _spelt_out(encoding.tokens)):
        return np.zeros(DIMENSIONS, dtype=np.float32)
    return vectors.matrix[encoding.ids].mean(axis=0, dtype=np.float32)  # each float16 exact in float32: as if converted first


def _spelt_out(tokens: list[str]) -> bool:
    """Whether the vocabulary has a word only letter by letter (or byte by byte): most of its tokens one character.

    Such a word's vector is the mean of its letters', so any two words of a script the vocabulary barely knows
    (Greek, Hebrew, Arabic, Korean, Chinese, Japanese, Thai) come out close, and would stand for each other "by
    meaning". Only words with no ASCII character are asked about (those letters are the vocabulary's own, and
    an English text's symbols, "δt", "μs", keep their vectors), of two characters or more (a lone "λ" is a symbol).
    """
    pieces = [t.lstrip("\u2581") for t in tokens]  # "\u2581" marks a word's start, on its own or on its first piece
    pieces = [p for p in pieces if p]
    return 2 * sum(len(p) == 1 or p.startswith("<0x") for p in pieces) > len(pieces)


def _files() -> tuple[Path, Path]:
    """The wheel's weights and tokenizer files (found without importing the package); ``SemanticUnavailable`` says
    why they are not there."""
    from importlib.util import find_spec

    spec = find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise SemanticUnavailable("meaning tier off: the wordllama package is not installed")
    folder = Path(spec.origin).parent
    weights, tokenizer = folder / "weights" / f"{MODEL}_{DIMENSIONS}.safetensors", folder / "tokenizers" / f"{MODEL}_tokenizer_config.json"
    if not (weights.is_file() and tokenizer.is_file()):
        raise SemanticUnavailable(f"meaning tier off: the {MODEL} word vectors are not in {folder}")
    return weights, tokenizer


def unavailable_reason() -> str | None:
    """Why the word vectors cannot load, found without loading them (None when they can)."""
    try:
        _files()
    except SemanticUnavailable as exc:
        return exc.message
    return None


@lru_cache(maxsize=1)
def load() -> WordVectors:
    """The bundled word vectors, loaded once; ``SemanticUnavailable`` if they cannot be.

    Read straight from the wheel's two files, not through ``WordLlama.load``:
    importing the package pulls in an HTTP client and its configuration system
    (0.12 s, in every ``--jobs`` worker too) and reconfigures logging, and its
    loader tries the network when a file is missing.
    """
    weights, tokenizer_file = _files()
    try:
        from safetensors import safe_open
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise SemanticUnavailable(f"meaning tier off: {exc.name}, which wordllama needs, is not installed") from None
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        with safe_open(str(weights), framework="np") as tensors:
            matrix = tensors.get_tensor("embedding.weight")
    except Exception as exc:  # noqa: BLE001 - tokenizers and safetensors raise their own errors for a damaged file
        raise SemanticUnavailable(f"meaning tier off: cannot load the {MODEL} word vectors: {exc}") from None
    tokenizer.no_padding()  # one word at a time, as WordLlama's inference encodes with padding and truncation off
    tokenizer.no_truncation()
    # Kept in float16: converting the whole matrix cost every process 0.05 s and 16 MB more (a --jobs worker too).
    return WordVectors(np.ascontiguousarray(matrix), tokenizer)


def unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def text_vector(vectors: WordVectors, tokens: list[Token]) -> np.ndarray:
    """The unit vector of a text from its content tokens (zeros for none)."""
    if not tokens:
        return np.zeros(DIMENSIONS, dtype=np.float32)
    vocabulary: dict[str, int] = {}
    columns = [vocabulary.setdefault(t.word, len(vocabulary)) for t in tokens]
    return unit(_summed(vectors.words(list(vocabulary)), columns))


# Rows summed at most this many at a time: ``rows[columns]`` is a row per word of the text, and an answer is untrusted
# text of any length (a 50 MB one, six million words, took 6.6 GB as one array and 7.8 GB in all).
SUM_BLOCK = 4096


def _summed(rows: np.ndarray, columns: list[int]) -> np.ndarray:
    """``rows[columns].sum(axis=0)``, in memory bounded by ``SUM_BLOCK`` (the same sum for a text no longer)."""
    if len(columns) <= SUM_BLOCK:
        return rows[columns].sum(axis=0)
    return sum(rows[columns[i : i + SUM_BLOCK]].sum(axis=0) for i in range(0, len(columns), SUM_BLOCK))


def reference_vector(vectors: WordVectors, tokens: list[Token], asked: Collection[str]) -> np.ndarray:
    """The unit vector of a reference's content words whose stems the question lacks (all of them if it has every
    one): what the question already says is no evidence that an answer knows the rest."""
    return text_vector(vectors, [t for t in tokens if t.stem not in asked] or tokens)


def similarities(vectors: WordVectors, reference: np.ndarray, answers: list[list[Token]], asked: Collection[str]) -> list[float]:
    """Cosine of each answer's content words whose stems the question lacks (their vectors summed, as the
    reference's are) with ``reference``, at least 0; 0 for an answer with no such word.

    Leaving the question's words out of both sides ("question demotion") is what made the similarity worth weighing
    for questions a calibration never saw: every training split's unseen-question figure rose (eval/RESULTS.md).
    """
    vocabulary: dict[str, int] = {}
    columns = [[vocabulary.setdefault(t.word, len(vocabulary)) for t in tokens if t.stem not in asked] for tokens in answers]
    if not vocabulary:
        return [0.0] * len(answers)
    rows = vectors.words(list(vocabulary))
    sums = np.stack([_summed(rows, cols) if cols else np.zeros(DIMENSIONS, dtype=np.float32) for cols in columns])
    return [max(0.0, float(u @ reference)) if cols else 0.0 for u, cols in zip(unit(sums), columns)]
