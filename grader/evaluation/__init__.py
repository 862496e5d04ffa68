"""The evaluation harness: how well a grader agrees with human grades (``grader eval``).

Practice and grading never import it. One run, in the order it happens::

    runner       EvalRequest -> run_eval(): read the sets, open the grader, run, close
    datasets     human-graded answer sets (JSON Lines, or a deck's labelled seed set) -> EvalSet
    graders      the grader under test (keyword, a plugged-in function) and the baselines -> RawGrades
    llm_grader   the LLM and hybrid graders on the feedback client; the cost estimate
    tasks        what the humans judged (score, label, label_2way) and the zero-shot predictions
    calibration  fitting and applying maps: isotonic, cut points, fold plans
    metrics      agreement metrics with vectorised bootstrap intervals
    evaluate     evaluate(): grade, calibrate, measure every system on every task -> EvalRun
    results      the EvalRun models (the --json document) and load_run
    compare      compare_runs(): metric deltas and flipped verdicts between two saved runs
    report       tables, report.md, report.html; plots: the SVG figures
    terminal     the rich views of a run and of a comparison
"""

from __future__ import annotations

from .compare import Comparison, compare_runs
from .datasets import EvalSet, load_eval_set
from .evaluate import evaluate
from .graders import CallableGrader, EvalGrader, KeywordEvalGrader, Prediction
from .results import EvalRun, load_run
from .runner import EvalHooks, EvalRequest, RunInterrupted, run_eval

__all__ = [
    "CallableGrader",
    "Comparison",
    "EvalGrader",
    "EvalHooks",
    "EvalRequest",
    "EvalRun",
    "EvalSet",
    "KeywordEvalGrader",
    "Prediction",
    "RunInterrupted",
    "compare_runs",
    "evaluate",
    "load_eval_set",
    "load_run",
    "run_eval",
]
