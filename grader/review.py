"""Grading by groups: a teacher marks groups of similar answers, and the marks teach the grader the rest.

As in Gradescope's answer groups and the clustering approach of Basu, Jacobs
and Vanderwende (TACL 2013, "Powergrading"): the answers to each question are
grouped by what they say (the semantic tier's text vectors, else their content
words) and by what the grader found in them (each key term's credit); the
teacher accepts or overrides a whole group with one key, or splits it when it
mixes answers that deserve different marks. Largest groups come first.

Every mark also trains the grader for the rest of the class: a per-question
calibration (the cut points of ``grader eval --train --per-question``, fitted
on the teacher's verdicts) re-grades the answers nobody has looked at, and the
marks bound them from both sides. An unreviewed answer whose raw score lies
between two answers the teacher gave the same verdict gets that verdict too
(a calibration is monotone in the raw score); one that is not bracketed so is
*uncertain*, and the review goes on with the groups that hold most of them.

Decisions go to a sidecar JSON Lines file the moment they are made (flushed and
synced), so a review can stop at any point, Ctrl-C included, and resume; an undo
is a line of its own, and nothing a teacher decided is ever rewritten.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: decisions files are not locked
    fcntl = None  # type: ignore[assignment]  # None stands for the module Windows lacks

from .errors import GraderError
from .models import Card, Grade, Verdict

if TYPE_CHECKING:
    from .answers import RowValues
    from .scoring import GradeFacts, GradingSettings
    from .semantic import WordVectors

# Verdicts as ordered classes: what calibration fits and what the teacher decides.
CLASSES = (Verdict.incorrect, Verdict.partial, Verdict.correct)
CLASS_OF = {v: i for i, v in enumerate(CLASSES)}
NO_CLASS = -1  # a self-graded card: the grader proposes nothing
# The score an answer gets when a teacher's verdict differs from the grader's (the same verdict keeps the grader's score).
NOMINAL_SCORE = {Verdict.correct: 1.0, Verdict.partial: 0.5, Verdict.incorrect: 0.0}
NON_ANSWER_RANK = -1.0  # non-answers sit below every real attempt on the calibration axis (as in ``grader eval``)

# Two answers are grouped when both what they say and what the grader found in them are this alike
# (measured on the training splits: eval/review_sim.py, eval/RESULTS.md "Grading by groups").
GROUP_SIMILARITY = 0.7
# Without the semantic tier, word overlap is lower for the same closeness: this groups about as many answers together.
GROUP_SIMILARITY_WORDS = 0.55
# Marks that must agree before they settle the answers scored beyond them (``bounds``).
SUPPORT = 2
# Pairs of answers whose similarity is worked out at once (a block of rows, 8 MB of float64 each temporary), however
# many answers a question has.
SIMILARITY_BLOCK = 1 << 20
# A similarity this close to a grouping threshold is worked out again as the first pass over a question's rows worked
# it out (``Levels``): a cosine's last bits depend on the shape of the matrices BLAS multiplies, and this is far beyond
# the rounding of a 256-term dot product of unit vectors in float64 (about 1e-13).
DOUBT = 1e-9
# Splitting a group regroups it this much more strictly, step by step, before it falls back to scores.
SPLIT_STEPS = (0.5, 0.75, 0.9)


# --- similarity and grouping ------------------------------------------------------------------


class Similarity:
    """How alike each pair of answers to one question is, 0 to 1: the mean of their closeness in meaning
    (or in content words, without the semantic tier) and their agreement on each key term's credit.

    Non-answers ("I don't know") are alike among themselves and unlike every real answer. Worked out for the rows
    and columns asked (``pairs``), never as one n x n array: 10,000 answers to one question took 1.4 GB so.
    """

    def __init__(self, answers: Sequence[str], grades: Sequence[Grade | GradeFacts], vectors: WordVectors | None):
        from .normalize import content_tokens

        self.n = len(answers)
        # An answer's tokens and vector are worked out once for every answer with its text (most repeat another).
        texts: dict[str, int] = {}
        text = np.array([texts.setdefault(a, len(texts)) for a in answers], dtype=np.intp)
        distinct = [content_tokens(a) for a in texts]
        del texts
        tokens = [distinct[i] for i in text]
        self.empty = np.array([not t for t in tokens], dtype=bool)
        self.vectors: np.ndarray | None = None
        if vectors is not None:
            from .semantic import DIMENSIONS, text_vector

            v = np.stack([text_vector(vectors, t) for t in distinct])[text] if self.n else np.zeros((0, DIMENSIONS), dtype=np.float32)
            # In float64, a pair's cosine comes out the same whichever block of rows it is worked out in (a float32
            # product's last bit depends on how the BLAS library cuts the matrices).
            self.vectors = v.astype(np.float64)
            # Words the vectors do not know (a script they spell letter by letter: see ``semantic``) are no empty
            # answer: such an answer is compared with every other by its words.
            self.by_words = np.flatnonzero(~v.any(axis=1) & ~self.empty)
        else:
            self.by_words = np.arange(self.n)
        self.read_by_words = np.zeros(self.n, dtype=bool)
        self.read_by_words[self.by_words] = True
        if self.by_words.size:
            self.words: _WordSets | None = _WordSets([{t.stem for t in ts} for ts in distinct], text)
        else:
            self.words = None
        facts = _as_facts(grades)
        self.credits = _credits(facts)
        self.said = np.array([f[2] for f in facts], dtype=bool)  # answered
        # Answers alike in all ``pairs`` reads of them (the same words in the same order, so the same vector and set of
        # words; the same credits; answered or not) are of one kind: alike to every answer alike, worked out once.
        spelt: dict[tuple[tuple[str, str], ...], int] = {}
        words = np.array([spelt.setdefault(tuple((t.word, t.stem) for t in ts), len(spelt)) for ts in distinct], dtype=np.intp)[text]
        kinds: dict[tuple[int, bytes, bool], int] = {}
        self.kind = np.array([kinds.setdefault((int(w), c.tobytes(), bool(a)), len(kinds)) for w, c, a in zip(words, self.credits, self.said)], dtype=np.intp)
        self._place = np.full(self.n, -1, dtype=np.intp)  # scratch for ``same``: each answer's column, or -1

    def block_rows(self) -> int:
        """How many rows ``rows`` is asked for at once."""
        return max(1, SIMILARITY_BLOCK // max(1, self.n))

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The similarity of answers ``start`` to ``stop`` with every answer (rows x n)."""
        return self.pairs(slice(start, min(stop, self.n)))

    def pairs(self, rows: np.ndarray | slice, columns: np.ndarray | None = None) -> np.ndarray:
        """The similarity of answers ``rows`` with answers ``columns`` (every answer when None), rows x columns."""
        cols = np.arange(self.n) if columns is None else np.asarray(columns, dtype=np.intp)
        every = cols.size == self.n and bool((cols[1:] > cols[:-1]).all())  # every answer, in order
        asked = np.arange(self.n)[rows] if isinstance(rows, slice) else np.asarray(rows, dtype=np.intp)
        # What they say first: closeness in meaning, else (and for the answers the vectors cannot read) in words.
        if self.vectors is None:
            assert self.words is not None  # made for every answer when there are no vectors
            sim = self.words.overlap(asked, cols)
        else:
            if every or 2 * cols.size > self.n:  # most columns: with all of them, not a copy of most vectors each block
                sim = self.vectors[rows] @ self.vectors.T
                sim = np.clip(sim if every else sim[:, cols], 0.0, 1.0)
            else:  # the columns' vectors copied a few at a time: all of them took 2 KB a column
                mine = self.vectors[rows]
                sim = np.empty((mine.shape[0], cols.size))
                step = max(1, SIMILARITY_BLOCK // mine.shape[1])
                for start in range(0, cols.size, step):
                    sim[:, start : start + step] = mine @ self.vectors[cols[start : start + step]].T
                np.clip(sim, 0.0, 1.0, out=sim)
            sim[np.ix_(self.empty[asked], self.empty[cols])] = 1.0  # two answers with no content words say the same nothing
            if self.words is not None:
                local = np.flatnonzero(self.read_by_words[asked])
                sim[local, :] = self.words.overlap(asked[local], cols)
                local = np.flatnonzero(self.read_by_words[cols])
                sim[:, local] = self.words.overlap(asked, cols[local])
        # Then the mean with their agreement on the key terms.
        if self.credits.shape[1]:
            diff = np.zeros_like(sim)
            for column in self.credits.T:
                diff += np.abs(column[asked, None] - column[None, cols])
            sim += 1.0 - diff / self.credits.shape[1]
        else:
            sim += 1.0
        sim /= 2
        said = self.said
        sim[np.ix_(~said[asked], ~said[cols])] = 1.0
        sim[np.ix_(said[asked], ~said[cols])] = 0.0
        sim[np.ix_(~said[asked], said[cols])] = 0.0
        sim[self.same(asked, cols)] = 1.0
        return sim

    def same(self, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where in a rows x columns block an answer meets itself."""
        self._place[columns] = np.arange(columns.size)
        at = self._place[rows]
        self._place[columns] = -1
        found = np.flatnonzero(at >= 0)
        return found, at[found]


class _WordSets:
    """Answers' sets of words, for the Jaccard similarity of two (two empty sets are alike).

    One row per distinct text, not per answer (``text``: each answer's): a class repeats its answers, and 50,000
    answers to one question held a row each, most of the memory a review took without the semantic tier.
    """

    def __init__(self, words: list[set[str]], text: np.ndarray):
        said_by = np.bincount(text, minlength=len(words))  # how many answers have each text
        counts: Counter[str] = Counter()
        for ws, times in zip(words, said_by):
            counts.update(dict.fromkeys(ws, int(times)))
        # Only a word two answers share is ever in both of them: the rest count in an answer's size alone.
        shared = {w: i for i, w in enumerate(sorted(w for w, c in counts.items() if c > 1))}
        self.matrix = np.zeros((len(words), max(1, len(shared))), dtype=np.float32)  # 0 and 1: their products add up exactly
        for i, ws in enumerate(words):
            self.matrix[i, [shared[w] for w in ws if w in shared]] = 1.0
        self.text = text
        self.size = np.array([len(ws) for ws in words], dtype=np.float64)[text]

    def overlap(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """The similarity of each set of ``rows`` with each of ``columns`` (rows x columns)."""
        mine = self.matrix[self.text[rows]]
        if columns.size == self.size.size:
            both = (mine @ self.matrix.T)[:, self.text[columns]].astype(np.float64)
        else:  # the columns' sets copied a few at a time: all of them were as many floats as the answers' sets
            both = np.empty((rows.size, columns.size))
            step = max(1, SIMILARITY_BLOCK // self.matrix.shape[1])
            for start in range(0, columns.size, step):
                both[:, start : start + step] = mine @ self.matrix[self.text[columns[start : start + step]]].T
        either = self.size[rows, None] + self.size[None, columns] - both
        return np.where(either > 0, both / np.maximum(either, 1.0), 1.0)


def _as_facts(grades: Sequence[Grade | GradeFacts]) -> list[GradeFacts]:
    """Grades as their plain values (``scoring.GradeFacts``), however they come."""
    from .scoring import grade_facts

    return [grade_facts(g) if isinstance(g, Grade) else g for g in grades]


def _credits(facts: Sequence[GradeFacts]) -> np.ndarray:
    """Each answer's credit per key term (answers x terms)."""
    width = max((len(f[3]) for f in facts), default=0)
    out = np.zeros((len(facts), width))
    for i, (_, _, _, terms, _, _) in enumerate(facts):
        out[i, : len(terms)] = [t[2] for t in terms]
    return out


def grouping_thresholds(threshold: float) -> tuple[float, ...]:
    """The similarity two answers need to be grouped, then to stay together at each step of a split."""
    return (threshold, *(threshold + (1.0 - threshold) * step for step in SPLIT_STEPS))


class _Mixed(Exception):
    """The answers of a kind are not all at one level with another kind's (a cosine's last bits told them apart)."""


class Levels:
    """For pairs of answers, how many of ``thresholds`` their similarity reaches (an answer is at the top level with
    itself): all grouping needs of the similarity.

    Worked out for the rows and columns asked, when asked, and never held whole: grouping takes memory in proportion to
    the answers, where one byte a pair held for a question's grouping took 2.5 GB for 50,000 answers to one question.
    A pair is at the level the question's first pass over its rows (``Similarity.rows``) puts it at, however it is
    asked for: one whose similarity is within ``DOUBT`` of a threshold is worked out so again.

    Answers of one kind (``Similarity.kind``) are at the top level with each other and at one level with any answer,
    so grouping may ask for one answer of each kind (``kinds``): a pair near a threshold is then worked out so for
    every answer of the two kinds, and ``_Mixed`` is raised if they differ.
    """

    kind: np.ndarray | None = None  # each answer's kind, where grouping may work out one answer of each

    def __init__(self, similarity: Similarity, thresholds: Sequence[float]):
        self.similarity = similarity
        self.thresholds = np.sort(np.asarray(thresholds, dtype=np.float64))  # a level counts those reached, in any order
        self.top = len(thresholds)
        s = similarity
        # The answers read by their vectors: only between two of them does a similarity depend on how it is worked out.
        self._by_vectors = None if s.vectors is None else s.said & ~s.empty & ~s.read_by_words
        # Bounds that tell a level for sure (odd: within ``DOUBT`` of a threshold), where the thresholds are further apart.
        edges = np.ravel(np.column_stack([self.thresholds - DOUBT, self.thresholds + DOUBT]))
        self._edges = edges if bool((np.diff(edges) > 0).all()) else None
        self._sizes = np.bincount(s.kind, minlength=s.n)
        self._of_kind = np.argsort(s.kind, kind="stable")  # each kind's answers, a kind after the other
        self._kind_start = np.r_[0, np.cumsum(self._sizes)]
        self._checked: dict[tuple[int, int], int] = {}  # the level of every pair of two kinds, or -1: not one
        self.kind = s.kind if self._kinds_at_top() else None

    def _kinds_at_top(self) -> bool:
        """Whether answers of one kind are at the top level with each other beyond doubt (not with a top threshold
        about 1, say): then a kind's answers are taken together, as one."""
        many = np.flatnonzero(self._sizes > 1)
        first, second = self._of_kind[self._kind_start[many]], self._of_kind[self._kind_start[many] + 1]
        step = max(1, int(SIMILARITY_BLOCK**0.5))
        for start in range(0, many.size, step):
            sim = np.diagonal(self.similarity.pairs(first[start : start + step], second[start : start + step]))
            if (sim < self.thresholds[-1] + DOUBT).any():
                return False
        return bool(many.size)

    def block(self, rows: np.ndarray, columns: np.ndarray, *, by_columns: bool = False, kinds: bool = False) -> np.ndarray:
        """The level of each answer of ``rows`` with each of ``columns`` (rows x columns, uint8).

        With ``by_columns``, each level is the one the column's own row has (for the levels of many answers with a
        few: the few as rows, not a copy of the many's vectors). The similarity is symmetric in everything but a
        cosine's last bits, and a pair where those could tell is worked out in the column's row. With ``kinds``, each
        level is every answer's of the two kinds (or ``_Mixed``).
        """
        rows, columns = np.asarray(rows, dtype=np.intp), np.asarray(columns, dtype=np.intp)
        out, (a, b) = self._levels(rows, columns)
        if a.size:
            out[a, b] = self._as_first(columns[b], rows[a], kinds) if by_columns else self._as_first(rows[a], columns[b], kinds)
        out[self.similarity.same(rows, columns)] = self.top
        return out

    def both(self, rows: np.ndarray, columns: np.ndarray, *, kinds: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The levels of ``rows`` with ``columns`` as the rows have them and as the columns do (``block`` and its
        ``by_columns``, both rows x columns), from one similarity: the pairs of both halves of the matrix at once."""
        rows, columns = np.asarray(rows, dtype=np.intp), np.asarray(columns, dtype=np.intp)
        out, (a, b) = self._levels(rows, columns)
        other = out.copy()
        if a.size:
            out[a, b] = self._as_first(rows[a], columns[b], kinds)
            other[a, b] = self._as_first(columns[b], rows[a], kinds)
        same = self.similarity.same(rows, columns)
        out[same] = other[same] = self.top
        return out, other

    def _levels(self, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The levels of ``rows`` x ``columns``, and where a level depends on a cosine's last bits (to work out again)."""
        sim = self.similarity.pairs(rows, columns)
        if self._by_vectors is None:  # words and credits: exact sums of exact values, the same however worked out
            return np.searchsorted(self.thresholds, sim, side="right").astype(np.uint8), _NO_PAIRS
        if self._edges is not None:
            at = np.searchsorted(self._edges, sim, side="right")
            a, b = np.nonzero(at & 1)
            at >>= 1
            out = at.astype(np.uint8)
            del at
        else:
            out = np.searchsorted(self.thresholds + DOUBT, sim, side="right").astype(np.uint8)
            a, b = np.nonzero(out != np.searchsorted(self.thresholds - DOUBT, sim, side="right"))
        if not a.size:
            return out, _NO_PAIRS
        out[a, b] = np.searchsorted(self.thresholds, sim[a, b], side="right")
        first = self._by_vectors[rows[a]] & self._by_vectors[columns[b]]
        return out, (a[first], b[first])

    def _as_first(self, rows: np.ndarray, columns: np.ndarray, kinds: bool = False) -> np.ndarray:
        """The levels of some pairs (rows[k], columns[k]) as the first pass over the rows has them (with ``kinds``,
        as it has every pair of their kinds)."""
        step = self.similarity.block_rows()
        first = rows // step * step
        out = np.empty(rows.size, dtype=np.uint8)
        for start in np.unique(first):
            here = np.flatnonzero(first == start)
            sim = self.similarity.rows(int(start), int(start) + step)[rows[here] - start, columns[here]]
            out[here] = np.searchsorted(self.thresholds, sim, side="right")
        if kinds and self.kind is not None:
            u, v = self.kind[rows], self.kind[columns]
            for k in np.flatnonzero((u != v) & (self._sizes[u] * self._sizes[v] > 1)):  # a kind with itself: at the top
                out[k] = self._kinds_level(int(u[k]), int(v[k]))
        return out

    def _kinds_level(self, u: int, v: int) -> int:
        """The level of kind ``u``'s answers with kind ``v``'s as the first pass has them (``_Mixed`` if not one)."""
        if (u, v) not in self._checked:
            rows, columns = (self._of_kind[self._kind_start[k] : self._kind_start[k + 1]] for k in (u, v))
            step = self.similarity.block_rows()
            seen: set[int] = set()
            for start in np.unique(rows // step * step):
                here = rows[(rows >= start) & (rows < start + step)]
                sim = self.similarity.rows(int(start), int(start) + step)[np.ix_(here - start, columns)]
                seen.update(np.unique(np.searchsorted(self.thresholds, sim, side="right")).tolist())
                if len(seen) > 1:
                    break
            self._checked[u, v] = seen.pop() if len(seen) == 1 else -1
        if self._checked[u, v] < 0:
            raise _Mixed
        return self._checked[u, v]


_NO_PAIRS = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp))


@dataclass
class _Kinds:
    """A grouping's members as kinds of alike answers (``Levels.kind``): each kind worked out once, for all its members."""

    first: np.ndarray  # each kind's first member, as a position in the members (in order)
    weight: np.ndarray  # how many members each kind has
    merged: bool  # whether any kind has more than one member
    by_kind: np.ndarray  # the members' positions, a kind after the other

    @classmethod
    def of(cls, levels: Levels, members: np.ndarray) -> _Kinds:
        if levels.kind is None:
            return cls.one_by_one(members.size)
        ids, first, of = np.unique(levels.kind[members], return_index=True, return_inverse=True)
        if ids.size == members.size:
            return cls.one_by_one(members.size)
        order = np.argsort(first)  # kinds in the order of their first members: ties go to the earlier answer, as before
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        of = rank[of.ravel()]
        return cls(first[order], np.bincount(of, minlength=order.size), True, np.argsort(of, kind="stable"))

    @classmethod
    def one_by_one(cls, n: int) -> _Kinds:
        every = np.arange(n)
        return cls(every, np.ones(n, dtype=np.intp), False, every)

    def positions(self, kinds: np.ndarray) -> np.ndarray:
        """The members' positions of ``kinds`` (in order), as a group holds them."""
        if not self.merged:
            return kinds
        sizes = self.weight[kinds]
        start = (np.cumsum(self.weight) - self.weight)[kinds]  # where each kind's positions begin in ``by_kind``
        return np.sort(self.by_kind[np.repeat(start - (np.cumsum(sizes) - sizes), sizes) + np.arange(sizes.sum())])

    def count(self, near: np.ndarray, axis: int, weight: np.ndarray) -> np.ndarray:
        """How many members ``near`` (kinds x kinds, bool) holds along ``axis``, each kind counted by ``weight``."""
        if not self.merged:
            return near.sum(axis=axis)
        w = weight.astype(np.float64)  # counts of a few thousand: exact in float64, and a product BLAS does
        return np.rint(near @ w if axis == 1 else w @ near).astype(np.intp)


def _degrees(levels: Levels, members: np.ndarray, at: Sequence[int], kinds: _Kinds) -> np.ndarray:
    """How many of ``members`` each kind's members are alike to (themselves included) at each level of ``at``
    (len(at) x kinds): one pass over half the pairs, a block of rows with the rows after them at a time, each pair's
    level as each of its two rows has it."""
    rows = members[kinds.first]
    out = np.zeros((len(at), rows.size), dtype=np.intp)
    step = max(1, SIMILARITY_BLOCK // rows.size)
    for start in range(0, rows.size, step):
        stop = min(rows.size, start + step)
        as_rows, as_columns = levels.both(rows[start:stop], rows[start:], kinds=kinds.merged)
        after = as_columns[:, stop - start :]  # the pairs with rows after the block, counted for those rows here
        for k, level in enumerate(at):
            out[k, start:stop] += kinds.count(as_rows >= level, 1, kinds.weight[start:])
            out[k, stop:] += kinds.count(after >= level, 0, kinds.weight[start:stop])
        del as_rows, as_columns, after  # not held while the next block is worked out
    return out


def cluster(levels: Levels, members: np.ndarray, level: int, degree: np.ndarray | None = None) -> list[np.ndarray]:
    """Groups of ``members`` (indices into ``levels``), largest first.

    Each group is the answer alike to most others still ungrouped, with all of
    those alike to it: every member is at ``level`` or above with the group's
    centre, and the biggest groups form first. Deterministic: ties go to the
    earlier answer. ``degree``: the members' degrees at ``level``, if known.

    The levels are worked out as they are needed, a block at a time, for one
    answer of each kind: once for half the pairs, to count each answer's alike
    ones, and then for the rows of each centre and of the answers left against
    those it took.
    """
    members = np.asarray(members, dtype=np.intp)
    if members.size == 0:
        return []
    kinds = _Kinds.of(levels, members)
    try:
        return _cluster(levels, members, level, kinds, degree)
    except _Mixed:  # a kind's answers told apart by a cosine's last bits near a threshold: one by one, as they are
        return _cluster(levels, members, level, _Kinds.one_by_one(members.size), degree)


def _cluster(levels: Levels, members: np.ndarray, level: int, kinds: _Kinds, degree: np.ndarray | None) -> list[np.ndarray]:
    """``cluster``, a kind at a time (``degree``: the members', or the kinds' when given by ``_regrouped``)."""
    rows = members[kinds.first]
    if degree is None:
        degree = _degrees(levels, members, (level,), kinds)[0]
    elif degree.size == members.size:
        degree = degree[kinds.first]  # a copy
    alive = np.ones(rows.size, dtype=bool)
    groups = []
    while alive.any():
        live = np.flatnonzero(alive)
        if degree[live].max() == 1:  # no answer left is alike to another: each its own group, in order, as taken one by one
            groups += [members[kinds.first[i : i + 1]] for i in live]
            break
        centre = int(live[np.argmax(degree[live])])
        taken = live[levels.block(rows[[centre]], rows[live], kinds=kinds.merged)[0] >= level]
        alive[taken] = False
        live = np.flatnonzero(alive)
        if live.size:  # the answers left lose those taken they are alike to (each pair's level as the one left has it)
            step = max(1, SIMILARITY_BLOCK // live.size)
            for start in range(0, taken.size, step):
                some = taken[start : start + step]
                near = levels.block(rows[some], rows[live], by_columns=True, kinds=kinds.merged) >= level
                degree[live] -= kinds.count(near, 0, kinds.weight[some])
        groups.append(members[kinds.positions(taken)])
    groups.sort(key=lambda g: (-g.size, int(g[0])))
    return groups


def split(levels: Levels, members: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
    """A group in smaller groups: regrouped more strictly, else cut at the widest gap in raw score, else one by one."""
    members = np.asarray(members, dtype=np.intp)
    if members.size < 2:
        return [members]
    try:
        parts = _regrouped(levels, members, _Kinds.of(levels, members))
    except _Mixed:  # as in ``cluster``
        parts = _regrouped(levels, members, _Kinds.one_by_one(members.size))
    if parts is not None:
        return parts
    order = members[np.argsort(x[members], kind="stable")]
    gaps = np.diff(x[order])
    if gaps.size and gaps.max() > 0:
        cut = int(np.argmax(gaps)) + 1
        return sorted([order[:cut], order[cut:]], key=lambda g: -g.size)
    return [members[i : i + 1] for i in range(members.size)]


def _regrouped(levels: Levels, members: np.ndarray, kinds: _Kinds) -> list[np.ndarray] | None:
    """A group regrouped at the first stricter level that parts it, if one does."""
    at = range(2, 2 + len(SPLIT_STEPS))
    for level, degree in zip(at, _degrees(levels, members, at, kinds)):
        if degree.max() < members.size:  # no answer alike to all the others: regrouped at this level, more than one group
            return _cluster(levels, members, level, kinds, degree)
    return None


# --- what the marks teach -------------------------------------------------------------------------


def propose(x: np.ndarray, raw: np.ndarray, decided: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each answer's verdict class after the teacher's marks, and whether it is certain.

    ``x`` is the raw score (non-answers at ``NON_ANSWER_RANK``), ``raw`` the
    grader's own class, ``decided`` the teacher's class or -1. With two or
    more verdicts marked, cut points fitted on the marks (calibration's
    ``fit_cuts``, for agreement) re-grade the rest; then every mark bounds the
    answers on its side: one scored at least as high as an answer marked *c*
    is at least *c*, one scored no higher at most *c*. An answer whose bounds
    meet is certain; marks that contradict each other leave it uncertain.
    """
    marked = decided >= 0
    out = raw.copy()
    if len(np.unique(decided[marked])) >= 2:
        from .evaluation.calibration import fit_cuts

        cuts = fit_cuts(x[marked], decided[marked], len(CLASSES), "accuracy")
        out = np.where(raw >= 0, cuts(x), raw)
    lo, hi = bounds(x, x[marked], decided[marked], SUPPORT)
    consistent = lo <= hi
    out = np.where(consistent & (raw >= 0), np.clip(out, lo, hi), out)
    certain = consistent & (lo == hi) & (raw >= 0)
    out[marked] = decided[marked]
    certain[marked] = True
    return out, certain


def bounds(x: np.ndarray, marked_x: np.ndarray, marked_class: np.ndarray, support: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest class a monotone calibration through the marks allows each score.

    A bound needs ``support`` marks behind it: with 2, one surprising mark (a
    right answer the grader scored 0) does not settle every answer above it.
    """
    top = len(CLASSES) - 1
    lo = np.zeros(x.size, dtype=np.intp)
    hi = np.full(x.size, top, dtype=np.intp)
    if marked_x.size == 0:
        return lo, hi
    order = np.argsort(marked_x, kind="stable")
    xs, cs = marked_x[order], marked_class[order]
    at_or_below = np.searchsorted(xs, x, side="right")  # marks with a score <= x: the first this many
    at_or_above = np.searchsorted(xs, x, side="left")  # marks with a score >= x: from this one on
    for c in range(1, top + 1):
        # At least ``support`` marks of class >= c scored no higher: the answer is at least c.
        up = np.r_[0, np.cumsum(cs >= c)]
        lo = np.where(up[at_or_below] >= support, c, lo)
    for c in range(top - 1, -1, -1):
        # At least ``support`` marks of class <= c scored no lower: the answer is at most c.
        down = np.r_[np.cumsum((cs <= c)[::-1])[::-1], 0]
        hi = np.where(down[at_or_above] >= support, c, hi)
    return lo, hi


def calibration_input(grades: Sequence[Grade | GradeFacts]) -> np.ndarray:
    """Raw scores with non-answers ranked below every real attempt."""
    return np.array([score if answered else NON_ANSWER_RANK for score, _, answered, *_ in _as_facts(grades)], dtype=float)


def raw_classes(grades: Sequence[Grade | GradeFacts]) -> np.ndarray:
    return np.array([CLASS_OF.get(Verdict(f[1]), NO_CLASS) for f in _as_facts(grades)], dtype=np.intp)


class QuestionReview:
    """The review of one question's answers: its groups, the teacher's marks, and what they imply.

    The answers are grouped when their groups are first asked for, not before: what the marks imply needs no groups,
    so exporting grades groups nothing, and a review makes one question's levels ready at a time (when they were n x n
    bytes, 100,000 answers to 16 questions held 620 MB of them at once, and took 20 s to group before the first was
    shown; now each answer's vector, 2 KB).
    """

    def __init__(
        self,
        answers: Sequence[str],
        grades: Sequence[Grade | GradeFacts],
        vectors: WordVectors | None,
        *,
        threshold: float | None = None,
        decided: np.ndarray | None = None,
        calibrate: bool = True,
    ):
        self.n = len(answers)
        if threshold is None:
            threshold = GROUP_SIMILARITY if vectors is not None else GROUP_SIMILARITY_WORDS
        self.calibrate = calibrate
        self.x = calibration_input(grades)
        self.raw = raw_classes(grades)
        self._answers, self._grades, self._vectors, self._thresholds = answers, grades, vectors, grouping_thresholds(threshold)
        self._levels: Levels | None = None
        self._pending: list[np.ndarray] | None = None
        self.decided = np.full(self.n, -1, dtype=np.intp) if decided is None else decided.astype(np.intp).copy()
        self.refresh()

    @property
    def levels(self) -> Levels:
        """How alike pairs of answers are (``Levels``): made ready when first needed (each answer's vector and words),
        kept until ``forget_levels``."""
        if self._levels is None:
            self._levels = Levels(Similarity(self._answers, self._grades, self._vectors), self._thresholds)
        return self._levels

    def forget_levels(self) -> None:
        """Let what the levels are worked out from go (a split makes it ready again, the same)."""
        self._levels = None

    @property
    def pending(self) -> list[np.ndarray]:
        """The groups not decided yet, made of the answers the marks so far leave (largest first) when first asked for;
        every change of a mark asks for them first."""
        if self._pending is None:
            self._pending = cluster(self.levels, np.flatnonzero(self.decided < 0), 1)
        return self._pending

    def to_show(self, everything: bool = False) -> bool:
        """Whether a group is left to show: one with an answer still uncertain (or, with ``everything``, any), told
        without grouping the answers (the groups hold every answer not decided)."""
        left = self.decided < 0
        return bool(left.any()) and (everything or not self.certain[left].all())

    def refresh(self) -> None:
        """The proposals and certainty after the marks so far."""
        if self.calibrate:
            self.proposal, self.certain = propose(self.x, self.raw, self.decided)
        else:
            self.proposal = np.where(self.decided >= 0, self.decided, self.raw)
            self.certain = self.decided >= 0

    @property
    def uncertain(self) -> int:
        return int((~self.certain).sum())

    def ordered(self) -> list[np.ndarray]:
        """Pending groups in review order: most uncertain answers first, then largest (at the start: largest first)."""
        return sorted(self.pending, key=lambda g: (-int((~self.certain[g]).sum()), -g.size, int(g[0])))

    def group_proposal(self, members: np.ndarray) -> int:
        """The class the group is shown with: its members' most common proposal (the higher on a tie)."""
        counts = Counter(int(c) for c in self.proposal[members])
        return max(counts, key=lambda c: (counts[c], c))

    def decide(self, members: np.ndarray, cls: int) -> None:
        self._drop(members)  # grouped first, if they were not yet, as the marks before this one left them
        self.decided[members] = cls
        self.refresh()

    def undecide(self, members: np.ndarray) -> None:
        self.pending.append(np.asarray(members, dtype=np.intp))  # as in ``decide``
        self.decided[members] = -1
        self.refresh()

    def split(self, members: np.ndarray) -> list[np.ndarray]:
        parts = split(self.levels, members, self.x)
        self._drop(members)
        self.pending.extend(parts)
        return parts

    def _drop(self, members: np.ndarray) -> None:
        gone = {int(i) for i in members}
        kept = []
        for g in self.pending:
            rest = np.array([i for i in g if int(i) not in gone], dtype=np.intp)
            if rest.size:
                kept.append(rest)
        self._pending = kept


# --- the class under review ------------------------------------------------------------------------


def answer_key(card_id: str, answer: str) -> str:
    """What a decision remembers of an answer besides its line: a digest of its card and text."""
    data = f"{card_id}\n{answer}".encode("utf-8", "surrogatepass")
    return hashlib.sha1(data).hexdigest()[:12]


def sidecar_path(answers: Path) -> Path:
    """Where a review's decisions go by default: beside the answers, ``class.csv`` -> ``class.review.jsonl``."""
    return answers.with_name(f"{answers.stem}.review.jsonl")


@dataclass(slots=True)
class Item:
    """One answer of the class: its row, its card, the grader's grade.

    The row is kept as read (``RowValues``) and the grade packed (``marshal``, exact for its plain values: a bool
    stays a bool, -0.0 stays -0.0), unpacked when read: 0.7 KB and 0.3 KB an answer, where the ``AnswerRow`` and
    the ``Grade`` model with a ``TermMatch`` per term took 9 KB (100,000 answers: 900 MB).
    """

    position: int  # in the answers file, from 0
    row: RowValues
    card: Card
    packed: bytes  # the grade's ``GradeFacts``

    @classmethod
    def graded(cls, position: int, row: RowValues, card: Card, facts: GradeFacts) -> Item:
        return cls(position, row, card, marshal.dumps(facts))

    @property
    def facts(self) -> GradeFacts:
        """The grader's grade, as plain values."""
        facts: GradeFacts = marshal.loads(self.packed)
        return facts

    @property
    def key(self) -> str:
        return answer_key(self.card.id, self.row.answer)


class _FactsOf(Sequence["GradeFacts"]):
    """The grades of some answers, each unpacked when it is read."""

    def __init__(self, items: Sequence[Item]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: Any) -> Any:  # an index or a slice, as a Sequence takes
        return [it.facts for it in self.items[i]] if isinstance(i, slice) else self.items[i].facts


@dataclass
class Decision:
    """A teacher's verdict on some answers of one question (a whole group, or answers picked from one)."""

    id: int
    verdict: Verdict
    action: str  # accept (the verdict proposed) or override
    card: str
    members: list[int]  # item positions
    at: str = ""


@dataclass
class Final:
    """An answer's final grade: the teacher's, else the calibration's (when it differs), else the grader's."""

    verdict: Verdict
    score: float
    graded_by: str  # teacher | calibrated | grader
    uncertain: bool

    def record(self) -> dict[str, Any]:
        return {"final_score": self.score, "final_verdict": self.verdict.value, "graded_by": self.graded_by, "uncertain": self.uncertain}


class DecisionLog:
    """The sidecar JSON Lines file of a review: a header, then one line per decision or undo, appended and synced.

    Lines are only ever added: an undo is a line naming the decision it takes
    back. A last line cut short (a crash while writing it) is dropped before
    anything is appended.
    """

    FORMAT = "grader-review"
    VERSION = 1

    def __init__(self, path: Path):
        self.path = path
        self._out: IO[str] | None = None
        self.next_id = 1
        self.written = 0  # decisions and undos appended by this process

    def read(self) -> tuple[list[dict[str, Any]], int]:
        """The decisions still in force, in order (undone ones left out), and the offset past the last whole line."""
        if not self.path.exists():
            return [], 0
        decisions: dict[int, dict[str, Any]] = {}
        end = 0
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise GraderError(f"cannot read review decisions: {exc.strerror}", path=self.path) from None
        lines = data.split(b"\n")
        for number, raw in enumerate(lines[:-1], start=1):  # the part after the last newline is cut short, or empty
            end += len(raw) + 1
            if not raw.strip():
                continue
            entry = self._entry(raw, number, first=number == 1)
            kind = entry.get("type")
            if kind == "decision":
                decisions[entry["id"]] = entry
                self.next_id = max(self.next_id, entry["id"] + 1)
            elif kind == "undo":
                decisions.pop(entry["undoes"], None)  # an int: _entry checked it
                self.next_id = max(self.next_id, int(entry.get("id", 0)) + 1)
        return list(decisions.values()), end

    def _entry(self, raw: bytes, number: int, *, first: bool) -> dict[str, Any]:
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):
            entry = None
        if not isinstance(entry, dict):
            raise GraderError("not a line of grader review decisions", path=self.path, line=number)
        kind = entry.get("type")
        if first != (kind == "header"):
            problem = "not a file of grader review decisions (no header line)" if first else "a second header line"
            raise GraderError(problem, path=self.path, line=number)
        if kind == "header":
            if entry.get("format") != self.FORMAT:
                raise GraderError("not a file of grader review decisions", path=self.path, line=number)
            if not isinstance(entry.get("version"), int) or entry["version"] > self.VERSION:
                raise GraderError(f"written by a newer grader (version {entry.get('version')}); this one reads {self.VERSION}", path=self.path, line=number)
        elif kind == "decision":
            ok = (
                isinstance(entry.get("id"), int)
                and entry.get("verdict") in {v.value for v in Verdict if v is not Verdict.self_graded}
                and isinstance(entry.get("answers"), list)
                and all(isinstance(a, dict) and isinstance(a.get("line"), int) and isinstance(a.get("key"), str) for a in entry["answers"])
            )
            if not ok:
                raise GraderError("a decision needs an id, a verdict (correct, partial, incorrect) and its answers", path=self.path, line=number)
        elif kind == "undo":
            if not isinstance(entry.get("undoes"), int):
                raise GraderError("an undo names the decision it takes back ('undoes')", path=self.path, line=number)
        else:
            raise GraderError(f"unknown line type {kind!r}", path=self.path, line=number)
        return entry

    def acquire(self) -> None:
        """Open the file for appending, and hold it: a second review of the same decisions is refused.

        Two reviews appending to one file at once numbered their decisions
        alike, and two that both started it wrote over each other's lines,
        leaving a file no review could read. Called before the file is read,
        so what is read is what is appended to.
        """
        if self._out is not None:
            return
        try:
            out = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise GraderError(f"cannot write review decisions: {exc.strerror}", path=self.path) from None
        if fcntl is not None:
            try:
                fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                out.close()
                raise GraderError("another grader review is using these decisions: finish it (or quit it) first", path=self.path) from None
            except OSError:  # a file system without locks: go on as before
                pass
        self._out = out

    def open(self, end: int, header: dict[str, Any]) -> None:
        """Ready to append: a new file gets its header; an old one loses a last line cut short."""
        self.acquire()
        assert self._out is not None
        try:
            os.ftruncate(self._out.fileno(), end)  # appends go to the end of what is left
            if end == 0:
                self._write({"type": "header", "format": self.FORMAT, "version": self.VERSION, **header})
        except OSError as exc:
            raise GraderError(f"cannot write review decisions: {exc.strerror}", path=self.path) from None

    def append(self, entry: dict[str, Any]) -> None:
        try:
            with _finished_first():
                self._write(entry)
                self.written += 1
        except OSError as exc:
            raise GraderError(f"cannot write review decisions: {exc.strerror}", path=self.path) from None

    def _write(self, entry: dict[str, Any]) -> None:
        assert self._out is not None, "log not open"
        self._out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._out.flush()
        os.fsync(self._out.fileno())  # a decision on disk before the next group is shown

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


@contextmanager
def _finished_first() -> Iterator[None]:
    """Ctrl-C inside the block waits until it is done, then stops (main thread only): a decision's line is written
    whole and synced, and the exports are all of this run's."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def _keyed_as(card_id: str, items: list[Item]) -> tuple[dict[tuple[int, str], Item], dict[str, list[Item]]]:
    """Answers by line and digest, and by digest, with the digest made as if their card had the id ``card_id``."""
    by_line: dict[tuple[int, str], Item] = {}
    by_key: dict[str, list[Item]] = {}
    for it in items:
        key = answer_key(card_id, it.row.answer)
        by_line[(it.row.line, key)] = it
        by_key.setdefault(key, []).append(it)
    return by_line, by_key


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class _Question:
    card: Card
    items: list[Item]
    review: QuestionReview


class Review:
    """A class's answers under review: one ``QuestionReview`` per question, decisions logged as they are made."""

    def __init__(
        self,
        items: list[Item],
        vectors: WordVectors | None,
        *,
        log: DecisionLog | None = None,
        threshold: float | None = None,
        notices: list[str] | None = None,
    ):
        self.items = items
        self.log = log
        self.notices = notices if notices is not None else []
        self.decisions: list[Decision] = []
        self.undone_question: int | None = None  # the question the last undo gave answers back to
        by_card: dict[str, list[Item]] = {}
        for item in items:
            by_card.setdefault(item.card.id, []).append(item)
        decided = self._replay(by_card)
        self.questions: list[_Question] = []
        for card_id, its in sorted(by_card.items(), key=lambda kv: kv[1][0].card.number):
            marks = np.array([decided.get(it.position, -1) for it in its], dtype=np.intp)
            review = QuestionReview([it.row.answer for it in its], _FactsOf(its), vectors, threshold=threshold, decided=marks)
            self.questions.append(_Question(its[0].card, its, review))
        self._local = {it.position: (qi, li) for qi, q in enumerate(self.questions) for li, it in enumerate(q.items)}

    def _replay(self, by_card: dict[str, list[Item]]) -> dict[int, int]:
        """The saved decisions matched to answers: by line and digest, else by digest (the file was edited)."""
        if self.log is None:
            return {}
        entries, _ = self.log.read()
        by_line = {(it.row.line, it.key): it for it in self.items}
        by_key: dict[str, list[Item]] = {}
        for it in self.items:
            by_key.setdefault(it.key, []).append(it)
        decided: dict[int, int] = {}
        lost = lost_decisions = 0
        followed: set[int] = set()  # questions whose decisions were found by the card's old id
        renamed: dict[tuple[str, Any], tuple[dict[tuple[int, str], Item], dict[str, list[Item]]]] = {}
        for entry in entries:
            members = []
            card = str(entry.get("card", ""))
            lines, keys = by_line, by_key
            if card not in by_card:
                # The deck's question was edited since (a typo fixed): the card has a new id, and its answers new keys.
                # The answers of the card at the same place in the deck, keyed as they were, are the same answers.
                place = (card, entry.get("question"))
                if place not in renamed:
                    renamed[place] = _keyed_as(card, [it for it in self.items if it.card.number == entry.get("question")])
                lines, keys = renamed[place]
            for a in entry["answers"]:
                it = lines.get((a["line"], a["key"]))
                if it is None:
                    it = next((c for c in keys.get(a["key"], []) if c.position not in decided), None)
                if it is None:
                    lost += 1
                    continue
                decided[it.position] = CLASS_OF[Verdict(entry["verdict"])]
                members.append(it.position)
            lost_decisions += len(members) < len(entry["answers"])
            if card not in by_card and members:
                followed.add(self.items[members[0]].card.number)
            self.decisions.append(Decision(entry["id"], Verdict(entry["verdict"]), str(entry.get("action", "override")), card, members, str(entry.get("at", ""))))
        for n in sorted(followed):
            self.notices.append(f"question {n}'s text has changed in the deck since it was reviewed: your decisions follow its answers")
        if lost:
            self.notices.append(
                f"{lost_decisions} saved decision{'s' if lost_decisions != 1 else ''} name{'s' if lost_decisions == 1 else ''} "
                f"{lost} answer{'s' if lost != 1 else ''} no longer in the answers file (kept in {self.log.path})"
            )
        return decided

    # --- what the teacher sees and does

    def next_group(self, skipped: set[int], everything: bool = False) -> tuple[int, np.ndarray] | None:
        """The next group to show: from the first question (deck order) with one, the group with most uncertain answers.

        Groups whose answers are all certain are left to the calibration unless ``everything``.
        """
        for qi, q in enumerate(self.questions):
            if qi in skipped or not q.review.to_show(everything):
                continue
            for other in self.questions:  # one question's levels at a time (2 KB an answer each)
                if other is not q:
                    other.review.forget_levels()
            for group in q.review.ordered():
                if everything or not q.review.certain[group].all():
                    return qi, group
        return None

    def proposal(self, qi: int, group: np.ndarray) -> Verdict | None:
        cls = self.questions[qi].review.group_proposal(group)
        return CLASSES[cls] if cls >= 0 else None

    def decide(self, qi: int, members: np.ndarray, verdict: Verdict, action: str) -> Decision:
        """Record the teacher's verdict on some answers of question ``qi`` (local indices), on disk first."""
        q = self.questions[qi]
        positions = [q.items[int(i)].position for i in members]
        decision = Decision(self.log.next_id if self.log else len(self.decisions) + 1, verdict, action, q.card.id, positions, _now())
        if self.log is not None:
            self.log.append(
                {
                    "type": "decision", "id": decision.id, "at": decision.at, "verdict": verdict.value, "action": action,
                    "card": q.card.id, "question": q.card.number,
                    "answers": [{"line": self.items[p].row.line, "key": self.items[p].key} for p in positions],
                }
            )  # fmt: skip
            self.log.next_id += 1
        self.decisions.append(decision)
        q.review.decide(np.asarray(members, dtype=np.intp), CLASS_OF[verdict])
        return decision

    def undo(self) -> Decision | None:
        """Take back the last decision still in force (its answers go back to review as one group)."""
        self.undone_question = None
        while self.decisions:
            decision = self.decisions.pop()
            locals_ = [self._local[p] for p in decision.members]
            if not locals_:
                continue
            if self.log is not None:
                self.log.append({"type": "undo", "id": self.log.next_id, "at": _now(), "undoes": decision.id})
                self.log.next_id += 1
            qi = locals_[0][0]
            self.questions[qi].review.undecide(np.array([li for _, li in locals_], dtype=np.intp))
            self.undone_question = qi
            return decision
        return None

    def split(self, qi: int, group: np.ndarray) -> list[np.ndarray]:
        return self.questions[qi].review.split(group)

    # --- where things stand

    @property
    def uncertain(self) -> int:
        return sum(q.review.uncertain for q in self.questions)

    @property
    def decided(self) -> int:
        return sum(int((q.review.decided >= 0).sum()) for q in self.questions)

    def still_open(self) -> str:
        """What is left, counted as the exports count it: a self-graded card's answer nobody marked has no grade
        to be uncertain of (``uncertain`` false), so it is counted apart."""
        unmarked = sum(int(((q.review.raw < 0) & (q.review.decided < 0)).sum()) for q in self.questions)
        left = self.uncertain - unmarked
        text = f"{left} answer{'s' if left != 1 else ''} still uncertain"
        if unmarked:
            text += f", {unmarked} to self-graded cards not marked"
        return text

    def finals(self) -> list[Final]:
        """Every answer's final grade, in file order."""
        out: list[Final | None] = [None] * len(self.items)
        for q in self.questions:
            r = q.review
            for li, item in enumerate(q.items):
                facts = item.facts
                grader_score, grader_verdict = facts[0], Verdict(facts[1])
                if r.decided[li] >= 0:
                    verdict, by = CLASSES[r.decided[li]], "teacher"
                elif r.proposal[li] >= 0 and r.proposal[li] != r.raw[li]:
                    verdict, by = CLASSES[r.proposal[li]], "calibrated"
                else:
                    verdict, by = grader_verdict, "grader"
                score = grader_score if verdict is grader_verdict else NOMINAL_SCORE.get(verdict, 0.0)
                uncertain = bool(not r.certain[li]) and grader_verdict is not Verdict.self_graded
                out[item.position] = Final(verdict, score, by, uncertain)
        return [f for f in out if f is not None]

    def records(self) -> Iterator[dict[str, Any]]:
        """The ``grade --json`` record of every answer, with its final grade added."""
        from .writers import grade_record

        for item, final in zip(self.items, self.finals()):
            yield {**grade_record(item.card, item.row, item.facts), **final.record()}


# --- a review session: commands in, things to show out ----------------------------------------------


KEYS = {"c": Verdict.correct, "p": Verdict.partial, "i": Verdict.incorrect}
HELP = "a accept · c/p/i mark the group correct/partial/incorrect · o mark some (e.g. i 2 5-7) · s split · u undo · n next question · m more · q quit"


class ReviewInputError(GraderError):
    """A scripted review command that is not one."""


@dataclass
class Command:
    kind: str  # accept | mark | split | undo | next | quit | more | help
    verdict: Verdict | None = None
    members: list[int] | None = None  # 1-based numbers within the group shown


def parse_command(line: str) -> Command:
    """One review command: a key (a c p i s u n q m ?), or a verdict and the numbers of answers in the group ("i 2 5-7")."""
    words = line.replace(",", " ").split()
    if words and words[0] == "o":
        words = words[1:]
        if not words:
            raise ValueError("'o' needs a verdict and answer numbers, e.g. 'o i 2 5-7'")
    if not words:
        raise ValueError("an empty line is not a review command")
    head, rest = words[0].casefold(), words[1:]
    simple = {"a": "accept", "s": "split", "u": "undo", "n": "next", "q": "quit", "m": "more", "?": "help"}
    if head in simple and not rest:
        return Command(simple[head])
    if head in KEYS:
        if not rest:
            return Command("mark", KEYS[head])
        members: list[int] = []
        for word in rest:
            low, dash, high = word.partition("-")
            if not low.isdigit() or (dash and not high.isdigit()):
                raise ValueError(f"'{word}' is not an answer number or range")
            members += range(int(low), int(high or low) + 1)
        return Command("mark", KEYS[head], sorted(set(members)))
    raise ValueError(f"'{line.strip()}' is not a review command ({HELP})")


@dataclass
class GroupShown:
    """A group put before the teacher."""

    question: Card
    question_index: int
    questions: int
    members: list[tuple[int, Item, Verdict, float]]  # number in the group, item, current proposal, raw score
    proposal: Verdict | None
    grader: Counter[str]
    groups_left: int
    uncertain_here: int
    uncertain: int
    size: int = 0  # answers in the group (``members`` may show only the first of them)
    show_all: bool = False


@dataclass
class Said:
    """A line for the teacher: what a key did, or a notice."""

    text: str
    tone: str = "plain"  # plain | done | warning


class ReviewIO(Protocol):
    """Where a review's commands come from and where what it shows goes (the terminal, or a script)."""

    interactive: bool

    def command(self) -> str | None: ...  # None: no more input

    def show(self, shown: GroupShown | Said) -> None: ...


def run_review(review: Review, io: ReviewIO, *, everything: bool = False, max_shown: int = 20) -> str:
    """Put groups before the teacher until none is left, the input ends or they quit; ``finished``, ``quit`` or ``ended``.

    A scripted command that is not one is a ``ReviewInputError`` naming its line; at a terminal it is said and asked again.
    """
    skipped: set[int] = set()
    line = 0
    show_all = False
    while True:
        nxt = review.next_group(skipped, everything)
        if nxt is None:
            left = review.uncertain
            io.show(Said(
                f"Reviewed: {review.decided} answer{'' if review.decided == 1 else 's'} decided by you; {review.still_open()}."
                + ("" if left else " Every other answer follows your marks."), "done",
            ))  # fmt: skip
            return "finished"
        qi, group = nxt
        q = review.questions[qi]
        r = q.review
        order = group[np.argsort(-r.x[group], kind="stable")]  # best answers first
        proposal = review.proposal(qi, group)
        members = [(n, q.items[int(li)], CLASSES[r.proposal[li]] if r.proposal[li] >= 0 else Verdict.self_graded, float(r.x[li])) for n, li in enumerate(order, start=1)]
        io.show(GroupShown(
            q.card, qi + 1, len(review.questions), members if show_all else members[:max_shown], proposal,
            Counter(q.items[int(li)].facts[1] for li in group), len(r.pending), r.uncertain, review.uncertain,
            size=len(members), show_all=show_all,
        ))  # fmt: skip
        if len(members) > max_shown and not show_all:
            io.show(Said(f"… and {len(members) - max_shown} more like these (m shows them all)"))
        show_all = False
        text = io.command()
        if text is None:
            return "ended"
        line += 1
        try:
            cmd = parse_command(text)
            if cmd.kind == "mark" and cmd.members:
                bad = [m for m in cmd.members if not 1 <= m <= len(members)]
                if bad:
                    raise ValueError(f"the group has answers 1 to {len(members)}, not {', '.join(map(str, bad))}")
            if cmd.kind == "accept" and proposal is None:
                raise ValueError("the grader proposes nothing for a self-graded card: mark it c, p or i")
        except ValueError as exc:
            if not io.interactive:
                raise ReviewInputError(str(exc), path="<stdin>", line=line) from None
            io.show(Said(str(exc), "warning"))
            continue
        if cmd.kind == "quit":
            return "quit"
        if cmd.kind == "help":
            io.show(Said(HELP))
        elif cmd.kind == "more":
            show_all = True
        elif cmd.kind == "next":
            skipped.add(qi)
            io.show(Said(f"Question {q.card.number} left to the calibration ({r.uncertain} answer{'' if r.uncertain == 1 else 's'} still uncertain)."))
        elif cmd.kind == "split" and group.size < 2:
            io.show(Said("A group of one answer cannot be split.", "warning"))
        elif cmd.kind == "split":
            parts = review.split(qi, group)
            io.show(Said(f"Split into {len(parts)} groups of {', '.join(str(p.size) for p in parts)}."))
        elif cmd.kind == "undo":
            undone = review.undo()
            if review.undone_question is not None:
                skipped.discard(review.undone_question)  # its answers are back to be decided again, here and now
            io.show(Said(f"Undone: {undone.verdict.value} for {len(undone.members)} answer(s)." if undone else "Nothing to undo."))
        elif cmd.kind == "accept":
            assert proposal is not None
            review.decide(qi, group, proposal, "accept")
            io.show(Said(f"{proposal.value}: {group.size} answer(s).", "done"))
        else:
            assert cmd.verdict is not None
            chosen = group if not cmd.members else np.array([order[m - 1] for m in cmd.members], dtype=np.intp)
            action = "accept" if cmd.verdict is proposal and not cmd.members else "override"
            review.decide(qi, chosen, cmd.verdict, action)
            io.show(Said(f"{cmd.verdict.value}: {chosen.size} answer(s).", "done"))


# --- opening a review ------------------------------------------------------------------------------------


@dataclass
class Opened:
    """A review ready to run, and what its exports need."""

    review: Review
    deck: Any
    answers_name: str
    fields: list[str]
    log: DecisionLog


def open_review(
    deck_path: Path,
    answers_path: Path,
    settings: GradingSettings,
    decisions: Path,
    *,
    answers_format: str | None = None,
    jobs: int = 1,
    threshold: float | None = None,
    on_grading: Callable[[int], None] | None = None,
) -> Opened:
    """Read and grade the answers, read the decisions so far, group what is left to review."""
    from .answers import CardResolver, open_answers
    from .batch import grade_rows
    from .decks import load_deck
    from .grading import KeywordGrader

    with open_answers(answers_path, answers_format) as source:
        deck = load_deck(deck_path)
        resolver = CardResolver(deck)
        resolved = [(row, deck.cards[resolver.index(row, source.name)]) for row in source.row_values()]
        name = source.name
    fields = list(dict.fromkeys(k for row, _ in resolved for k in row.extra))
    if on_grading is not None:
        on_grading(len(resolved))
    grader = KeywordGrader(settings)
    grader.use_deck(deck.cards)
    graded = grade_rows(resolved, grader, jobs=jobs)
    items = [Item.graded(i, row, card, g.facts) for i, ((row, card), g) in enumerate(zip(resolved, graded, strict=True))]
    del resolved  # the rows live on in the items
    from .evaluation import calibration  # noqa: F401 - loaded now, not when the teacher makes the first mark

    log = DecisionLog(decisions)
    log.acquire()
    try:
        _, end = log.read()
        notices = list(grader.notices)
        review = Review(items, grader.vectors, log=log, threshold=threshold, notices=notices)
        log.open(end, {"deck": str(deck_path), "answers": name, "created": _now()})
    except BaseException:
        log.close()
        raise
    return Opened(review, deck, name, fields, log)


def write_exports(
    opened: Opened,
    settings: GradingSettings,
    *,
    output: Path | None = None,
    report: Path | None = None,
    gradebook: Path | None = None,
    student: str | None = None,
) -> str | None:
    """The final grades out: every answer (``grade --json`` / ``--csv`` records plus ``final_score``,
    ``final_verdict``, ``graded_by``, ``uncertain``), the class report, the gradebook; each written whole, and
    Ctrl-C only once they all are. Returns the gradebook's note on answers that name no student, if any."""
    from .class_outputs import write_class_outputs
    from .files import write_whole
    from .gradebook import nameless_notice

    # The records are made as they are written, once for each export: all of them at once took 5 KB an answer.
    review = opened.review
    with _finished_first():  # stopped between two, this run's results would sit beside an earlier run's report
        if output is not None:
            lines = _results_lines(review.records(), opened.fields, csv=output.suffix.lower() == ".csv")
            write_whole(output, lines, what="results", newline="")
        if report is not None or gradebook is not None:
            summary = write_class_outputs(
                opened.deck, opened.answers_name, review.records(), settings, opened.fields,
                report=report, gradebook=gradebook, student=student, whole_markdown=True,
            )  # fmt: skip
            if gradebook is not None:
                return nameless_notice(summary)
    return None


def _results_lines(records: Iterable[dict[str, Any]], fields: list[str], *, csv: bool) -> Iterator[str]:
    """The records as lines of JSON Lines, or as a CSV header and rows, each made when it is written."""
    import csv as csv_module
    import io

    from .writers import FINAL_FIELDS, csv_cell, csv_columns, json_line, passthrough_name

    if not csv:
        for r in records:
            yield json_line(json.dumps(r, ensure_ascii=False))
        return
    buffer = io.StringIO()
    writer = csv_module.DictWriter(buffer, fieldnames=csv_columns([*(passthrough_name(f) for f in fields), *FINAL_FIELDS]), extrasaction="ignore")
    writer.writeheader()
    for r in records:
        row = {**r, "matched": "; ".join(r["matched"]), "missing": "; ".join(r["missing"])}
        writer.writerow({k: csv_cell(v) for k, v in row.items()})  # as grade --csv: no cell a spreadsheet would run
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header alone, when there is no record


class ReviewInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a review; every decision made so far is on disk."""
