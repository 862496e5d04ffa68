"""What ``grader eval DATA`` does, as one library call: read the sets, open the grader, run, close.

The command line maps its flags onto an ``EvalRequest`` and renders the
``EvalRun`` it gets back; everything between is here. A run talks to its user
only through ``EvalHooks`` (a line to show, a yes/no question, a progress bar),
so the CLI gives terminal versions and a script or test gives none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from ..errors import GraderError, InputError
from ..files import same_file
from ..scoring import GradingSettings
from .datasets import EvalSet, default_dataset, limit_items, load_eval_set
from .evaluate import evaluate
from .graders import EvalGrader, KeywordEvalGrader

if TYPE_CHECKING:
    from .results import EvalRun

GRADER_NAMES = ("keyword", "llm", "hybrid")


@dataclass(frozen=True)
class EvalRequest:
    """One ``grader eval`` run, as its flags describe it."""

    data: Path | None = None  # None: the seed deck's labelled dev set
    train: Path | None = None  # fit the calibration here (default: cross-validation)
    deck: Path | None = None  # the deck a card-numbered labelled set refers to
    grader: str = "keyword"  # one of GRADER_NAMES
    limit: int | None = None
    repeat: int = 1
    scope: Literal["global", "question"] = "global"
    model: str | None = None  # LLM flags, for the llm and hybrid graders
    base_url: str | None = None
    no_cache: bool = False
    yes: bool = False  # start a paid LLM run without asking
    shots: int = 0  # graded examples from ``train`` in each LLM prompt (few-shot), nearest first


class ProgressHook(Protocol):
    """A progress bar (``render.ProgressBar`` in the terminal)."""

    def start(self, total: int) -> None: ...

    def advance(self) -> None: ...

    def stop(self) -> None: ...


def _quiet(text: str) -> None:
    """Show nothing."""


@dataclass(frozen=True)
class EvalHooks:
    """How a run talks to whoever started it; the defaults say nothing and ask nothing."""

    notify: Callable[[str], None] = _quiet  # a line for the user: the cost estimate of an LLM run
    confirm: Callable[[str], bool] | None = None  # a yes/no question; None: nobody can answer (not a terminal)
    progress: Callable[[str], ProgressHook] | None = None  # a progress bar with this label, for LLM requests


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``message`` says what was kept."""

    def __init__(self, llm_replies_cached: bool):
        super().__init__()
        self.message = "Interrupted." + (
            " LLM replies so far are cached: run again to continue at no cost." if llm_replies_cached else ""
        )


def run_eval(request: EvalRequest, settings: GradingSettings, hooks: EvalHooks | None = None) -> EvalRun | None:
    """Read the request's sets, then grade and measure them with its grader on ``settings``.

    None when the user declines a paid LLM run. Ctrl-C while grading raises
    ``RunInterrupted``.
    """
    hooks = hooks or EvalHooks()
    evalset = load_eval_set(request.data or default_dataset(), deck=request.deck)
    train = load_eval_set(request.train, deck=request.deck) if request.train else None
    # A --deck that no row reads was ignored: the rows' reference answers were measured as if they were its key terms.
    if request.deck is not None and all(s.deck is None for s in (evalset, train) if s is not None):
        raise InputError("--deck is read for rows that name a card (card, answer, verdict): these rows carry their own questions", path=evalset.path)
    if request.train and same_file(request.train, request.data or default_dataset()):
        hooks.notify("Warning: --train is the evaluated file itself: the calibrated figures are fitted on the answers they measure.")
    sampled = [limit_items(s, request.limit) for s in (evalset, train) if s is not None]  # what will be graded
    grader = None
    try:
        grader = open_eval_grader(request, settings, sampled, hooks)
        if grader is None:
            return None
        run = partial(evaluate, evalset, grader, settings, train=train, repeat=request.repeat, limit=request.limit, scope=request.scope)
        if request.grader == "keyword" or hooks.progress is None:
            return run()
        from .llm_grader import LLMEvalGrader

        assert isinstance(grader, LLMEvalGrader)  # open_eval_grader opens one for every grader but the keyword one
        bar = hooks.progress("LLM grading")
        bar.start(request.repeat * sum(len(s.items) for s in sampled))
        grader.progress = bar.advance
        try:
            return run()
        finally:
            bar.stop()
    except RunInterrupted:
        raise
    except KeyboardInterrupt:
        raise RunInterrupted(llm_replies_cached=request.grader != "keyword" and grader is not None) from None
    finally:
        if grader is not None and hasattr(grader, "close"):
            grader.close()


def open_eval_grader(request: EvalRequest, settings: GradingSettings, sampled: list[EvalSet], hooks: EvalHooks) -> EvalGrader | None:
    """The grader the request names, on ``settings``.

    For the LLM graders this opens the feedback client, shows what grading
    ``sampled`` will ask for and, when that may cost money, asks first (None:
    the user said no). The caller closes an LLM grader (``close()``).
    """
    if request.grader == "keyword":
        return KeywordEvalGrader(settings)
    if request.grader not in GRADER_NAMES:
        raise ValueError(f"no grader {request.grader!r}: one of {', '.join(GRADER_NAMES)}")
    from .llm_grader import LLMEvalGrader, estimate_cost, open_llm_client

    client = open_llm_client(
        request.grader, settings, model=request.model, base_url=request.base_url, no_cache=request.no_cache,
        repeat=request.repeat, examples=_few_shot(request, settings),
    )  # fmt: skip
    try:
        estimate = estimate_cost(sampled, client, repeat=request.repeat)
        hooks.notify(estimate.summary())
        agreed = not estimate.paid or request.yes or _ask(hooks, "Start the run?")
    except BaseException as exc:
        client.close()
        if isinstance(exc, KeyboardInterrupt):
            raise RunInterrupted(llm_replies_cached=True) from None
        raise
    if not agreed:
        client.close()
        return None
    return LLMEvalGrader(client, hybrid=request.grader == "hybrid")


def _few_shot(request: EvalRequest, settings: GradingSettings):
    """The graded examples of ``--train`` for ``--shots K`` (None without them)."""
    if not request.shots:
        return None
    if request.train is None:
        raise GraderError("--shots needs graded examples: give them with --train TRAIN.jsonl")
    from ..llm.examples import NearestExamples
    from .llm_grader import graded_examples

    train = load_eval_set(request.train, deck=request.deck)
    return NearestExamples(graded_examples(train, settings), request.shots)


def _ask(hooks: EvalHooks, question: str) -> bool:
    if hooks.confirm is None:
        raise GraderError("a paid LLM run needs confirmation: run it in a terminal or add --yes")
    return hooks.confirm(question)
