"""The evaluation harness: datasets, runs, graders plugged in, reports, comparisons, CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from grader.errors import GraderError, InputError
from grader.evaluation import (
    CallableGrader,
    EvalHooks,
    EvalRequest,
    EvalSet,
    KeywordEvalGrader,
    Prediction,
    compare_runs,
    evaluate,
    load_eval_set,
    load_run,
    run_eval,
)
from grader.evaluation.datasets import EvalItem, dataset_cards, default_dataset
from grader.evaluation.graders import word_overlap
from grader.evaluation.tasks import find_tasks, label_classes
from grader.models import Verdict
from grader.normalize import is_non_answer
from grader.scoring import GradingSettings

from .conftest import DATASETS, ROOT, run_cli

SEED_DEV = ROOT / "eval" / "seed_dev.jsonl"
FAST = {"resamples": 200}
DEFAULTS = GradingSettings()
KEYWORD = KeywordEvalGrader(DEFAULTS)


def rows_file(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def row(**kw):
    base = {"question_id": "q1", "question": "Why is the sky blue?", "reference_answer": "Rayleigh scattering of sunlight by air molecules.", "answer": "scattering", "score": 1.0, "max_score": 2.0}
    return base | kw


# --- loading -------------------------------------------------------------------------------

# (rows, expected one-line error: "file:line: message" without the folder)
LOADER_ERRORS = [
    ([row(), "{not json"], "data.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
    # A CSV of labels given to eval: its first line says what eval reads.
    (["card,answer,verdict", "1,security,partial"], "data.jsonl:1: invalid JSON: Expecting value (column 1); a labelled set is JSON Lines"),
    ([row(), "[1, 2]"], "data.jsonl:2: each line must be a JSON object"),
    ([row(), {"question": "q", "score": 1, "max_score": 2}], "data.jsonl:2: answer: Field required"),
    ([row(), row(score=None)], "data.jsonl:2: row has no human judgement (score, label or label_2way)"),
    ([row(score=6.0, max_score=5.0)], "data.jsonl:1: score 6 is outside 0..5"),
    ([row(max_score=None)], "data.jsonl:1: row has a score but no max_score"),
    ([row(), row(max_score=0)], "data.jsonl:2: max_score: Input should be greater than 0"),
    (["", "  "], "data.jsonl: dataset has no rows"),
    ([{"card": 99, "answer": "x", "verdict": "correct"}], "data.jsonl:1: card 99 is not in"),
    ([{"card": 1, "answer": "x", "verdict": "great"}], "data.jsonl:1: verdict: Input should be"),
    ([row(), row(score=None, label_2way="partially_correct")], "data.jsonl:2: label_2way: 'partially_correct' is not correct or incorrect"),
    # Runs are compared by answer id: a repeated one paired answers wrongly and showed flips that never happened.
    ([row(id="a1"), row(id="a2"), row(id="a1")], "data.jsonl:3: id 'a1' is already the id of line 1: each answer needs its own"),
    (['{"question": "q", "answer": "a", "score": 1e400, "max_score": 1e400}'], "data.jsonl:1: score: Input should be a finite number"),
    ([row(), row(score_grader1=float("nan"))], "data.jsonl:2: score_grader1: Input should be a finite number"),
    # Read, graded and measured, then --json and --report failed on it with a traceback.
    ([row(), row(answer="\ud800")], "data.jsonl:2: contains an escaped lone surrogate (like \\ud800), which is not text"),
    # A question id ending in NUL is another id to Python and the same as "" to numpy: an IndexError traceback.
    ([row(), row(question_id="q2\0")], "data.jsonl:2: contains a NUL character (\\u0000), which is not text"),
    ([row(), row(score=None, label=" ")], "data.jsonl:2: row has no human judgement (score, label or label_2way)"),
    # Both ended in a traceback: json recurses per level, and refuses integers of more than 4,300 digits.
    ([row(), "[" * 100_000 + "]" * 100_000], "data.jsonl:2: nested too deeply to be a dataset row"),
    ([row(), json.dumps(row()).replace('"score": 1.0', '"score": ' + "1" * 5000)], "data.jsonl:2: a number has more than 4,300 digits"),
    # Read as 1 point and as the deck's first card: a yes/no column passed for a score, or a card number.
    ([row(), row(score=True)], "data.jsonl:2: score: true is not a number of points"),
    ([row(max_score=False)], "data.jsonl:1: max_score: false is not a number of points"),
    ([{"card": True, "answer": "x", "verdict": "correct"}], "data.jsonl:1: card: true is not a card number or id"),
]


@pytest.mark.parametrize("rows, message", LOADER_ERRORS, ids=[m.split(": ", 1)[1][:30] for _, m in LOADER_ERRORS])
def test_loader_errors_name_file_and_line(tmp_path, rows, message):
    path = rows_file(tmp_path, rows)
    with pytest.raises(InputError) as err:
        load_eval_set(path)
    assert str(err.value).replace(str(tmp_path) + "/", "").startswith(message)
    assert "\n" not in str(err.value)


def test_loader_rejects_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="no such dataset"):
        load_eval_set(tmp_path / "nope.jsonl")
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b'{"a": 1}\n\x00\x01')
    with pytest.raises(InputError, match=r"b.jsonl:2: binary data"):
        load_eval_set(binary)


def test_dataset_questions_become_cards(tmp_path):
    path = rows_file(
        tmp_path,
        [
            row(id=7),
            row(question_id="q2", question="Name two noble gases.", reference_answer=None, key_terms=["helium", "==neon=="], label="correct", score=None, max_score=None),
            row(question_id="q3", question="No reference here", reference_answer=None, label="correct", score=None, max_score=None),
        ],
    )
    es = load_eval_set(path)
    assert [it.id for it in es.items] == ["7", "data.jsonl:2"]
    assert es.name == tmp_path.name and es.skipped_questions == ["q3"] and len(es.skipped) == 1
    assert [t.text for t in es.cards["q2"].key_terms] == ["helium", "neon"]
    derived = es.cards["q1"].key_terms
    assert derived and all(t.derived for t in derived)
    assert any("scattering" in t.text.lower() for t in derived)



def test_answers_made_in_code_without_a_question_id_are_grouped_by_question():
    """As a file's rows are: an item built for ``evaluate`` without an id keys its card by the question, not by None."""
    question = "Why is the sky blue?"
    items = [EvalItem(**row(question_id=None, answer=a)) for a in ("scattering", "air molecules")]
    assert [it.question_id for it in items] == [question, question]
    cards = dataset_cards(items)
    assert list(cards) == [question] and cards[question].id == question

def test_every_reference_answer_counts(tmp_path):
    refs = [{"id": "a", "category": "BEST", "text": "The bulb is in a closed path with the battery."}, "Terminal one is connected to the positive terminal."]
    rows = [
        row(label_2way="correct", score=None, max_score=None, reference_answer=refs[0]["text"], reference_answers=refs, answer=a)
        for a in ("terminal 1 is connected to the positive terminal", "the bulb is in a closed path", "no idea")
    ]
    es = load_eval_set(rows_file(tmp_path, rows))
    assert [r.answer for r in es.cards["q1"].reference_answers] == [refs[1]]  # the first reference is the card itself
    assert es.cards["q1"].reference_answers[0].key_terms
    run = evaluate(es, KEYWORD, DEFAULTS, scope="question", **FAST)  # one question: folds of its answers
    assert run.data.reference_answers == 1
    first, second, neither = (it.score for it in run.items)
    # each answer earns what it covers of its best reference ("battery" is missing from the second)
    assert first >= 0.75 and second >= 0.75 and neither == 0.0
    first_only = {q: c.model_copy(update={"reference_answers": []}) for q, c in es.cards.items()}
    only_first = evaluate(EvalSet(es.path, es.name, es.items, first_only), KEYWORD, DEFAULTS, scope="question", **FAST)
    assert only_first.items[0].score < 0.5 and only_first.items[1].score == second


def test_seed_set_uses_the_decks_highlighted_terms():
    es = load_eval_set(SEED_DEV)
    assert es.name == "seed_dev" and len(es.items) == 117 and es.questions == 16
    card = es.cards[es.items[0].question_id]
    assert card.number == 1 and not card.key_terms[0].derived
    assert {it.label for it in es.items} == {"correct", "partial", "incorrect"}
    assert default_dataset() == SEED_DEV


def test_the_harness_grades_a_list_of_guesses_as_grade_does(tmp_path):
    """The keyword grader knows the set's cards, so a list of their terms is partial here as in ``grader grade``."""
    from grader.evaluation.graders import grade_set

    guesses = "sharing, portability, interpreter, aggregation, equivalence, emulation, efficiency, isolation"
    rows = [
        {"card": 3, "answer": guesses, "verdict": "partial"},
        *({"card": n, "answer": "I don't know", "verdict": "incorrect"} for n in (1, 9, 10)),  # the cards it names
    ]
    evalset = load_eval_set(rows_file(tmp_path, rows))
    assert grade_set(evalset, KeywordEvalGrader(DEFAULTS), DEFAULTS).scores[0][0] == 0.5


# --- tasks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, classes, ordered",
    [
        ({"correct", "incorrect"}, ["incorrect", "correct"], True),
        ({"correct", "partial", "incorrect"}, ["incorrect", "partial", "correct"], True),
        ({"partially_correct", "correct"}, ["incorrect", "partially_correct", "correct"], True),
        ({"correct", "contradictory", "incorrect"}, ["contradictory", "correct", "incorrect"], False),
    ],
)
def test_label_classes(values, classes, ordered):
    assert label_classes(values) == (classes, ordered)


def test_tasks_found_from_the_data(tmp_path):
    binary = load_eval_set(rows_file(tmp_path, [row(score=s, max_score=1.0, label_2way=l) for s, l in [(0.0, "incorrect"), (1.0, "correct")]], "a.jsonl"))
    assert list(find_tasks(binary.items)) == ["label_2way"]  # a 0/1 score only repeats the label
    unlabelled = load_eval_set(rows_file(tmp_path, [row(score=s, max_score=1.0) for s in (0.0, 1.0, 1.0)], "d.jsonl"))
    assert list(find_tasks(unlabelled.items)) == ["score"]  # without a label, 0/1 points are the only judgement
    points = load_eval_set(rows_file(tmp_path, [row(score=s, score_grader1=s, score_grader2=2.0) for s in (0.0, 1.0, 2.0)], "b.jsonl"))
    task = find_tasks(points.items)["score"]
    assert task.ordinal and task.ordinal_k == 3 and task.human is not None and not task.normalised
    halves = load_eval_set(rows_file(tmp_path, [row(score=s) for s in (0.5, 1.0, 1.5)], "c.jsonl"))
    assert not find_tasks(halves.items)["score"].ordinal


def test_labels_are_read_whatever_their_case_and_spacing(tmp_path):
    """'Correct' and 'Partially correct' were classes of their own, unordered, and the zero-shot grader went unmeasured."""
    written = ["Correct", " partially correct", "Partially-Correct", "INCORRECT", "correct"]
    es = load_eval_set(rows_file(tmp_path, [row(question_id=f"q{i}", score=None, label=label) for i, label in enumerate(written)]))
    assert [it.label for it in es.items] == ["correct", "partially_correct", "partially_correct", "incorrect", "correct"]
    task = find_tasks(es.items)["label"]
    assert (task.classes, task.ordered) == (["incorrect", "partially_correct", "correct"], True)


def test_a_blank_label_is_no_label(tmp_path):
    """An export's empty label cell was a class of its own, named "", measured as if the humans had chosen it."""
    es = load_eval_set(rows_file(tmp_path, [row(question_id=f"q{i}", score=s, label="", label_2way=" ") for i, s in enumerate([0.0, 1.0, 2.0])]))
    assert {(it.label, it.label_2way) for it in es.items} == {(None, None)}
    assert list(find_tasks(es.items)) == ["score"]


def test_word_overlap_baseline_is_plain():
    assert word_overlap("The scattering of light", "Rayleigh scattering of light") == pytest.approx(2 / 3)
    assert word_overlap("scatters", "scattering") == 0.0  # no stems, no fuzz
    assert word_overlap("anything", "") == 0.0


# --- runs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_run():
    return evaluate(load_eval_set(SEED_DEV), KEYWORD, DEFAULTS, resamples=300)


def test_seed_dev_run(seed_run):
    run = seed_run
    assert run.grader == "keyword" and run.primary_task == "label"
    assert run.calibration.mode == "cross-validation" and run.calibration.grouped_by == "question_id"
    task = run.tasks["label"]
    assert task.classes == ["incorrect", "partial", "correct"] and task.ordered
    assert set(task.systems) == {"zero_shot", "calibrated", "majority", "length", "overlap"}
    zs = task.systems["zero_shot"]
    assert set(zs.metrics) == {"accuracy", "macro_f1", "weighted_f1", "kappa", "qwk"}
    assert sum(map(sum, zs.confusion)) == 117
    assert zs.metrics["accuracy"].value == pytest.approx(np.trace(np.array(zs.confusion)) / 117)
    for name, m in zs.metrics.items():
        assert m.low <= m.value <= m.high, name
    # the majority baseline predicts one class: its kappa is 0 and the grader beats it
    assert task.systems["majority"].metrics["kappa"].value == 0.0
    assert zs.metrics["macro_f1"].value > task.systems["majority"].metrics["macro_f1"].value + 0.3
    assert len(run.items) == 117 and run.items[0].predicted["label"]["zero_shot"] in task.classes
    assert run.speed.answers == 117 and run.speed.answers_per_second > 0


def test_json_round_trip_and_stable_keys(seed_run, tmp_path):
    path = tmp_path / "run.json"
    path.write_text(seed_run.model_dump_json(), encoding="utf-8")
    data = json.loads(path.read_text())
    assert data["schema_version"] == "grader-eval/1"
    assert {"grader", "data", "calibration", "bootstrap", "speed", "primary_task", "tasks", "items", "notes"} <= set(data)
    assert set(data["tasks"]["label"]["systems"]["calibrated"]["metrics"]["macro_f1"]) == {"value", "low", "high"}
    assert load_run(path) == seed_run


def test_saved_run_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match="bad.json: not a saved run: invalid JSON"):
        load_run(bad)
    bad.write_text('{"grader": "keyword"}', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.json: not a saved run \(data: Field required\)"):
        load_run(bad)
    bad.write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.json: not a saved run \(Input should be an object\)$"):
        load_run(bad)


def test_a_run_saved_with_another_schema_is_refused(seed_run, tmp_path):
    """Its fields may mean something else; it used to be compared as if it were this grader's."""
    newer = tmp_path / "newer.json"
    newer.write_text(seed_run.model_copy(update={"schema_version": "grader-eval/2"}).model_dump_json(), encoding="utf-8")
    with pytest.raises(InputError, match=r"newer.json: saved run has schema 'grader-eval/2'; this grader reads 'grader-eval/1'$"):
        load_run(newer)


def _fake_set(tmp_path, n_questions=6, per_question=20):
    """Answers whose human score is the number of 'good' words: a known truth for a fake grader."""
    rng = np.random.default_rng(0)
    rows = []
    for q in range(n_questions):
        for a in range(per_question):
            k = int(rng.integers(0, 4))
            rows.append(row(question_id=f"q{q}", id=f"q{q}-{a}", answer=" ".join(["good"] * k + ["filler"] * int(rng.integers(0, 5))), score=float(k), max_score=3.0))
    return load_eval_set(rows_file(tmp_path, rows))


def test_a_plugged_in_grader_is_measured(tmp_path):
    """The seam an LLM grader uses: any function of (card, answer) returning a score in [0, 1]."""
    seen = []

    def perfect(card, answer):
        seen.append(card.id)
        return answer.split().count("good") / 3

    run = evaluate(_fake_set(tmp_path), CallableGrader(perfect, name="oracle", workers=3), DEFAULTS, **FAST)
    assert run.grader == "oracle" and len(seen) == 120
    score = run.tasks["score"].systems
    assert score["zero_shot"].metrics["pearson"].value == pytest.approx(1.0)
    assert score["zero_shot"].metrics["qwk"].value == pytest.approx(1.0)
    assert score["calibrated"].metrics["qwk"].value == pytest.approx(1.0)
    assert score["calibrated"].metrics["rmse"].value == pytest.approx(0.0, abs=1e-9)
    assert score["length"].metrics["pearson"].value < 0.9


@pytest.mark.parametrize(
    "result, expected",
    [
        (0.5, Prediction(0.5, None)),
        (Prediction(1.0, Verdict.correct), Prediction(1.0, Verdict.correct)),
        (Prediction(0.0, Verdict.incorrect, answered=False), Prediction(0.0, Verdict.incorrect, answered=False)),
        (type("Reply", (), {"score": 0.25, "verdict": "partial"})(), Prediction(0.25, Verdict.partial)),
        (1.5, ValueError),
        ("high", TypeError),
    ],
)
def test_grader_results_are_checked(tmp_path, result, expected):
    grader = CallableGrader(lambda card, answer: result)
    es = _fake_set(tmp_path, 1, 2)
    card = es.cards["q0"]
    if isinstance(expected, type):
        with pytest.raises(expected):
            grader.grade(card, ["an answer"])
    else:
        assert grader.grade(card, ["an answer"]) == [expected]


def test_non_answers_rank_below_wrong_attempts_when_calibrated(tmp_path):
    """A wrong attempt and "I don't know" both score 0; humans give the attempt marks, the non-answer none."""
    rows = []
    for q in range(6):
        for a, (answer, score) in enumerate(
            [("Rayleigh scattering by air molecules", 2.0), ("light bounces around in the atmosphere", 1.0), ("I don't know", 0.0)] * 4
        ):
            rows.append(row(question_id=f"q{q}", id=f"q{q}-{a}", answer=answer, score=score))
    words_alone = GradingSettings(similarity_weight=0.0)  # the wrong attempt's similarity to the reference earns nothing
    run = evaluate(load_eval_set(rows_file(tmp_path, rows)), KeywordEvalGrader(words_alone), words_alone, **FAST)
    predicted = {it.answer: it.predicted["score"]["calibrated"] for it in run.items}
    assert {it.score for it in run.items if it.answer != rows[0]["answer"]} == {0.0}
    assert predicted["I don't know"] == pytest.approx(0.0)
    assert predicted["light bounces around in the atmosphere"] == pytest.approx(1.0)


def test_repeat_measures_self_consistency_and_limit_samples(tmp_path):
    rng = np.random.default_rng(1)

    def noisy(card, answer):
        return float(np.clip(answer.split().count("good") / 3 + rng.normal(0, 0.2), 0, 1))

    es = _fake_set(tmp_path)
    run = evaluate(es, CallableGrader(noisy, name="noisy"), DEFAULTS, repeat=3, limit=50, **FAST)
    k = run.consistency
    assert k.repeats == 3 and 0 < k.verdict_agreement < 1 and k.mean_score_sd > 0.05
    assert 0.5 < k.pairwise_pearson < 1
    assert run.data.items == 50 and run.data.limit == 50 and run.speed.answers == 150
    again = evaluate(es, KEYWORD, DEFAULTS, repeat=2, limit=50, **FAST)
    assert {it.id for it in again.items} == {it.id for it in run.items}  # the same fixed sample
    assert again.consistency.verdict_agreement == 1.0 and again.consistency.mean_score_sd == 0.0


def test_a_global_calibration_learns_what_the_score_misses(tmp_path):
    """A grader blind to the answers, on data whose marks follow the reference's words: a global mapping over
    enough questions weighs the words in; one per question does not (graded answers inform it instead)."""
    rng = np.random.default_rng(1)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    rows = []
    for q in range(30):  # folds fitted on 24 questions: enough to weigh signals
        reference = [f"{w}{q}" for w in rng.permutation(words)[:4]]
        for a in range(12):
            k = int(rng.integers(0, 5))
            answer = " ".join(reference[:k] + ["filler"] * int(rng.integers(1, 4)))
            rows.append(row(question_id=f"q{q}", id=f"q{q}-{a}", reference_answer=" ".join(reference), answer=answer, score=float(k), max_score=4.0))
    es = load_eval_set(rows_file(tmp_path, rows))
    blind = CallableGrader(lambda c, a: 0.5, name="blind")
    run = evaluate(es, blind, DEFAULTS, **FAST)
    assert run.calibration.signals == 20
    assert run.tasks["score"].systems["calibrated"].metrics["pearson"].value > 0.95
    # Per question, each mapping is fitted on one question's answers: too few questions to weigh anything.
    per_question = evaluate(es, blind, DEFAULTS, scope="question", **FAST)
    assert per_question.tasks["score"].systems["calibrated"].metrics["pearson"].value < 0.5
    # A question the training set lacks gets a mapping fitted on all of it, which weighs the signals as a global one.
    train = EvalSet(es.path, es.name, [it for it in es.items if it.question_id != "q0"], es.cards)
    test = EvalSet(es.path, es.name, [it for it in es.items if it.question_id == "q0"], es.cards)
    unseen = evaluate(test, blind, DEFAULTS, train=train, scope="question", **FAST)
    assert unseen.calibration.signals == 20
    assert unseen.tasks["score"].systems["calibrated"].metrics["pearson"].value > 0.95


def test_train_file_calibration(tmp_path):
    es = _fake_set(tmp_path)
    train = EvalSet(es.path, es.name, es.items[:60], es.cards)
    test = EvalSet(es.path, es.name, es.items[60:], es.cards)
    run = evaluate(test, CallableGrader(lambda c, a: a.split().count("good") / 6), DEFAULTS, train=train, **FAST)
    assert run.calibration.mode == "train" and run.calibration.train_items == 60 and run.calibration.grouped_by is None
    # zero-shot halves every score; the mapping fitted on the training half undoes it
    assert run.tasks["score"].systems["zero_shot"].metrics["rmse"].value > 0.5
    assert run.tasks["score"].systems["calibrated"].metrics["rmse"].value == pytest.approx(0.0, abs=1e-9)
    per_q = evaluate(test, CallableGrader(lambda c, a: a.split().count("good") / 6), DEFAULTS, train=train, scope="question", **FAST)
    assert per_q.calibration.scope == "question"


def test_cross_validation_never_fits_an_answer_on_itself(tmp_path):
    """One answer per question, labelled at random: out of fold nothing can be learnt, and a calibration fitted on
    the very answers it predicts (as a lone answer once was) scored them perfectly."""
    rng = np.random.default_rng(3)
    labels = ["correct", "incorrect"]
    rows = [row(question_id=f"q{q}", score=None, label=labels[int(rng.integers(0, 2))], answer="scattering of light") for q in range(30)]
    run = evaluate(load_eval_set(rows_file(tmp_path, rows)), KEYWORD, DEFAULTS, scope="question", **FAST)
    assert run.tasks["label"].systems["calibrated"].metrics["accuracy"].value < 0.9
    one_question = load_eval_set(rows_file(tmp_path, [row(answer=a, score=s) for a, s in [("scattering", 2.0), ("sunlight", 0.0), ("air", 1.0)]]))
    with pytest.raises(InputError, match="cannot cross-validate the calibration on 3 answers to one question .*: give --train TRAIN.jsonl, or --per-question$"):
        evaluate(one_question, KEYWORD, DEFAULTS, **FAST)
    assert evaluate(one_question, KEYWORD, DEFAULTS, scope="question", **FAST).tasks["score"].systems["calibrated"]


def test_compare_reports_deltas_and_flips(tmp_path, seed_run):
    es = load_eval_set(SEED_DEV)
    harsh = evaluate(es, CallableGrader(lambda c, a: 0.0, name="harsh"), DEFAULTS, **FAST)
    cmp = compare_runs(seed_run, harsh, a_name="kw", b_name="harsh")
    assert cmp.same_data and cmp.primary_task == "label" and cmp.only_in_a == cmp.only_in_b == 0
    acc = next(d for d in cmp.deltas if (d.task, d.system, d.metric) == ("label", "zero_shot", "accuracy"))
    assert acc.delta == pytest.approx(acc.b - acc.a) and acc.delta < 0
    not_incorrect = [it for it in seed_run.items if it.verdict != Verdict.incorrect]
    assert {f.id for f in cmp.flips} >= {it.id for it in not_incorrect}
    assert all(f.verdict_b == Verdict.incorrect for f in cmp.flips)
    assert compare_runs(seed_run, seed_run).flips == []


def test_compare_pairs_only_the_same_answer(tmp_path):
    """Two files of the same name give their answers the same default ids (data.jsonl:3): pairing by id alone
    listed unrelated answers as flips."""
    rows = [row(question_id=f"q{q}", answer=a, score=s) for q in range(2) for a, s in [("scattering", 2.0), ("no idea", 0.0)]]
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = evaluate(load_eval_set(rows_file(tmp_path / "a", rows)), KEYWORD, DEFAULTS, **FAST)
    swapped = [r | {"answer": "no idea" if r["answer"] == "scattering" else "scattering"} for r in rows]
    second = evaluate(load_eval_set(rows_file(tmp_path / "b", swapped)), KEYWORD, DEFAULTS, **FAST)
    assert [it.id for it in first.items] == [it.id for it in second.items]
    cmp = compare_runs(first, second)
    assert (cmp.flips, cmp.only_in_a, cmp.only_in_b) == ([], 4, 4)


# --- reports -------------------------------------------------------------------------------


def test_report_files(seed_run, tmp_path):
    from grader.evaluation.report import worst_disagreements, write_report

    files = write_report(seed_run, tmp_path / "out")
    assert sorted(f.name for f in files) == ["calibration.svg", "confusion.svg", "report.html", "report.md", "scatter.svg"]
    for svg in (tmp_path / "out").glob("*.svg"):
        ET.fromstring(svg.read_text())  # well-formed XML
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Labels (incorrect / partial / correct)" in md and "![confusion.svg](confusion.svg)" in md
    assert "| keyword · calibrated |" in md and "The 20 worst disagreements" in md
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("<svg") == 3 and "<table>" in html
    worst = worst_disagreements(seed_run)
    assert len(worst) == 20 and all(d.gold != d.predicted for d in worst)
    assert [d.size for d in worst] == sorted((d.size for d in worst), reverse=True)


def test_a_report_interrupted_leaves_the_folder_as_it_was(seed_run, tmp_path, monkeypatch):
    """Ctrl-C while the report was written left new figures and a new report.md beside the last run's report.html."""
    from grader.evaluation import report

    out = tmp_path / "out"
    report.write_report(seed_run, out)
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    other = seed_run.model_copy(update={"grader": "other"})

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "html", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report.write_report(other, out)
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before


@pytest.mark.parametrize("judged", [{"score": 1.0}, {"score": None, "max_score": None, "label": "correct"}], ids=["score", "label"])
def test_a_run_says_why_its_figures_are_undefined_when_every_grade_is_the_same(tmp_path, judged):
    """One human grade throughout: correlations and kappas were dashes and zeros with nothing saying why."""
    from grader.evaluation.report import summary_lines

    rows = [row(question_id=f"q{q}", answer=a) | judged for q in range(3) for a in ("scattering", "sunlight", "no idea")]
    run = evaluate(load_eval_set(rows_file(tmp_path, rows)), KEYWORD, DEFAULTS, **FAST)
    grade = "1 point" if "score" in run.tasks else "correct"
    assert f"Every answer has the same human grade ({grade}): correlations and kappas, which need grades that differ, are undefined (—) or 0" in summary_lines(run)
    assert not any(line.startswith("Every answer") for line in summary_lines(evaluate(_fake_set(tmp_path), KEYWORD, DEFAULTS, **FAST)))


def test_report_directory_that_cannot_be_made(seed_run, tmp_path):
    from grader.evaluation.report import write_report

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GraderError, match="cannot write the report"):
        write_report(seed_run, blocker / "sub")


def test_cli_eval_report_folder_that_cannot_be_made_stops_before_the_run(tmp_path, monkeypatch):
    """A paid LLM run used to be graded whole and then lost its report to a file in the way."""
    import grader.evaluation.runner as runner

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(runner, "run_eval", lambda *a, **k: pytest.fail("the run started"))
    for report, reason in [(blocker, "File exists"), (blocker / "sub", "Not a directory")]:
        result = run_cli("eval", "--json", "--report", str(report))
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"Error: {report}: cannot write the report: {reason}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# --- shared datasets (skipped when absent) --------------------------------------------------


def _slice(tmp_path, name, questions):
    source = DATASETS / name / "train.jsonl"
    if not source.exists():
        pytest.skip(f"{source} is not here")
    keep = []
    with source.open(encoding="utf-8") as fh:
        seen: list[str] = []
        for line in fh:
            qid = json.loads(line)["question_id"]
            if qid not in seen:
                if len(seen) == questions:
                    break
                seen.append(qid)
            keep.append(line)
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(keep), encoding="utf-8")
    return path


def test_mohler_slice_has_scores_and_a_human_ceiling(tmp_path):
    run = evaluate(load_eval_set(_slice(tmp_path, "mohler", 8)), KEYWORD, DEFAULTS, **FAST)
    task = run.tasks["score"]
    assert task.ordinal and task.max_score == 5.0 and "human" in task.systems
    assert run.primary_task == "score" and set(task.by_question) and len(task.by_question) == 8
    assert task.systems["calibrated"].metrics["pearson"].value > 0.2


def test_semeval_slice_has_two_and_three_way_labels(tmp_path):
    run = evaluate(load_eval_set(_slice(tmp_path, "semeval2013_beetle", 6)), KEYWORD, DEFAULTS, **FAST)
    assert set(run.tasks) == {"label", "label_2way"} and run.primary_task == "label_2way"
    assert not run.tasks["label"].ordered and run.tasks["label_2way"].classes == ["incorrect", "correct"]
    assert "zero_shot" in run.tasks["label_2way"].systems


# --- the command line ------------------------------------------------------------------------


def test_cli_eval_default_json_and_report(tmp_path):
    result = run_cli("eval", "--json", "--report", str(tmp_path / "rep"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["data"]["name"] == "seed_dev" and data["tasks"]["label"]["systems"]["zero_shot"]["metrics"]["accuracy"]["value"] > 0.5
    assert (tmp_path / "rep" / "report.html").exists() and "Report written to" in result.stderr


def test_cli_eval_table_and_compare(tmp_path):
    first = tmp_path / "a.json"
    table = run_cli("eval", str(SEED_DEV))
    assert table.returncode == 0 and "keyword · calibrated" in table.stdout and "overlap baseline" in table.stdout
    saved = run_cli("eval", "--json")
    first.write_text(saved.stdout)
    result = run_cli("eval", "compare", str(first), str(first))
    assert result.returncode == 0, result.stderr
    assert "Metric deltas (a.json minus a.json)" not in result.stdout  # same name: the paths tell them apart
    assert "No answer changed its verdict" in result.stdout and "+0.000" in result.stdout
    as_json = json.loads(run_cli("eval", "compare", str(first), str(first), "--json").stdout)
    assert as_json["flips"] == [] and as_json["same_data"] is True


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["eval", "missing.jsonl"], 1, "Error: missing.jsonl: no such dataset\n"),
        (["eval", "compare", "a.json"], 2, "Missing argument 'B.json'"),
        (["eval", "a.jsonl", "b.jsonl"], 2, "give one data file"),
        (["eval", "--grader", "magic"], 2, "--grader must be one of keyword, llm, hybrid"),
        (["eval", "--shots", "3", "--train", "t.jsonl"], 2, "--shots puts graded examples in LLM prompts: use it with --grader llm or hybrid"),
        (["eval", "compare", "x.json", "y.json"], 1, "Error: x.json: no such saved run\n"),
        (
            ["eval", "--limit", "1"],
            1,
            f"Error: {SEED_DEV}: cannot cross-validate the calibration on 1 answer to one question (nothing else to fit on): give --train TRAIN.jsonl\n",
        ),
    ],
)
def test_cli_eval_errors(tmp_path, args, code, message):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr
    if code == 1:
        assert result.stderr == message


@pytest.mark.parametrize("limit, said", [("116", "116 answers to 16 questions (a fixed sample of --limit 116)"), ("1000", "117 answers to 16 questions\n")])
def test_cli_eval_says_a_sample_only_when_limit_took_one(limit, said):
    result = run_cli("eval", "--limit", limit)
    assert said in result.stdout.replace(" \n", " ")


def test_cli_eval_warns_when_the_training_file_is_the_evaluated_one(tmp_path):
    """Fitted on the answers it measures, the calibrated figures are in-sample: said, not passed off as a fit on other data."""
    result = run_cli("eval", str(SEED_DEV), "--train", str(SEED_DEV.parent / ".." / "eval" / SEED_DEV.name))
    assert result.returncode == 0
    assert "Warning: --train is the evaluated file itself: the calibrated figures are fitted on the answers they measure." in result.stderr
    assert "Warning" not in run_cli("eval", str(SEED_DEV), "--train", str(ROOT / "eval" / "seed_test.jsonl")).stderr


def test_cli_eval_rows_judged_in_different_ways(tmp_path):
    """A score on some rows and only a label on others leaves no task: once a run printed no metric and exited 0."""
    path = rows_file(tmp_path, [row(question_id="q1"), row(question_id="q2", score=None, label="correct"), row(question_id="q3")])
    result = run_cli("eval", str(path))
    assert result.returncode == 1
    assert result.stderr == f"Error: {path}:2: no score, which line 1 has: every answer needs the same kind of human judgement (score, label or label_2way)\n"


def test_cli_eval_refuses_a_deck_the_data_does_not_read(tmp_path):
    """Rows with questions of their own never read --deck: it was ignored, and the run measured the rows' reference
    answers as if they were the deck's key terms."""
    path = rows_file(tmp_path, [row(question_id=f"q{q}") for q in range(3)])
    deck = ROOT / "decks" / "virtualization.md"
    result = run_cli("eval", str(path), "--deck", str(deck))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Error: {path}: --deck is read for rows that name a card (card, answer, verdict): these rows carry their own questions\n"
    labelled = rows_file(tmp_path, [row(question_id=f"q{q}", score=None, label=v) for q in range(3) for v in ("correct", "partial")], "train.jsonl")
    assert run_cli("eval", str(SEED_DEV), "--deck", str(deck), "--train", str(labelled)).returncode == 0  # the data reads it


def test_eval_names_the_deck_a_labelled_set_is_graded_against(tmp_path):
    """Rows that name cards by number were graded against the bundled deck when --deck was forgotten, and nothing in
    the run said which deck: the figures looked like those of the teacher's own deck."""
    from grader.evaluation.report import summary_lines

    deck = tmp_path / "bio.md"
    deck.write_text("".join(f"<details><summary>Q{n}?</summary>\n\n==term{n}==\n\n</details>\n" for n in (1, 2)), encoding="utf-8")
    labelled = rows_file(tmp_path, [{"card": n, "answer": a, "verdict": v} for n in (1, 2) for a, v in ((f"term{n}", "correct"), ("no", "incorrect"))])
    run = evaluate(load_eval_set(labelled, deck=deck), KEYWORD, DEFAULTS, **FAST)
    assert (run.data.deck, summary_lines(run)[1]) == (str(deck), f"Deck: {deck}")
    result = run_cli("eval", str(labelled), "--json")
    assert json.loads(result.stdout)["data"]["deck"] == str(ROOT / "decks" / "virtualization.md")
    own_questions = evaluate(load_eval_set(rows_file(tmp_path, [row(question_id=f"q{q}") for q in range(3)], "own.jsonl")), KEYWORD, DEFAULTS, **FAST)
    assert own_questions.data.deck is None and not any(line.startswith("Deck:") for line in summary_lines(own_questions))


def test_cli_eval_bad_line_is_one_line(tmp_path):
    path = rows_file(tmp_path, [row(), "{oops"])
    result = run_cli("eval", str(path))
    assert result.returncode == 1
    assert result.stderr == f"Error: {path}:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)\n"


# --- LLM and hybrid graders, against the fake server on 127.0.0.1 -----------------------------


def _llm_client(fake, **overrides):
    from grader.config import LLMSettings
    from grader.llm.client import FeedbackClient

    values = dict(enabled=True, model="fake-model", base_url=fake.base_url, api_key="sk-test-0123456789abcdef", timeout=2, max_retries=0)
    return FeedbackClient(LLMSettings(**{**values, **overrides}), DEFAULTS)


def _seed_slice(n):
    es = load_eval_set(SEED_DEV)
    return EvalSet(es.path, es.name, es.items[:n], es.cards)


def test_llm_and_hybrid_graders_measure_what_the_user_gets(fake_openai):
    from grader.evaluation.llm_grader import LLMEvalGrader

    es = _seed_slice(12)
    with _llm_client(fake_openai) as client:
        llm = LLMEvalGrader(client)
        run = evaluate(es, llm, DEFAULTS, **FAST)
    answered = [it for it in es.items if not is_non_answer(it.answer)]
    assert len(fake_openai.chat_requests) == len(answered) < len(es.items)  # "I don't know" is not sent
    assert run.grader == "llm" and llm.outcomes["ok"] + llm.outcomes["keyword fallback"] == 12
    assert any("LLM feedback (fake-model): 12 answers" in n or "LLM outcomes" in n for n in run.notes)
    fake_openai.behaviour = "manipulated"
    with _llm_client(fake_openai, cache=False) as client:
        hybrid = LLMEvalGrader(client, hybrid=True)
        manipulated = evaluate(es, hybrid, DEFAULTS, **FAST)
    # a manipulated model's full marks are rejected: the keyword grade stands
    keyword = evaluate(es, KEYWORD, DEFAULTS, **FAST)
    assert manipulated.grader == "hybrid" and hybrid.outcomes["rejected"] > 0
    rejected_ids = [it.id for it, kw in zip(manipulated.items, keyword.items) if it.score == kw.score]
    assert len(rejected_ids) >= hybrid.outcomes["rejected"]


def test_an_llm_run_says_why_answers_kept_their_keyword_grade_and_how_slow_it_was(fake_openai):
    from grader.evaluation.llm_grader import LLMEvalGrader
    from grader.evaluation.report import summary_lines

    es = _seed_slice(12)
    fake_openai.behaviour, fake_openai.slow_seconds = "slow", 0.15
    fake_openai.queue.extend(["html", "careful", "invalid_json", "invalid_json", "invalid_json"])
    with _llm_client(fake_openai, concurrency=1) as client:
        llm = LLMEvalGrader(client)
        run = evaluate(es, llm, DEFAULTS, **FAST)
    kept = next(n for n in run.notes if n.startswith("Kept the keyword grade: "))
    assert "1 × the server answered 200, but its reply is an HTML page" in kept
    assert "LLM score not backed by its quotes (unsupported-score)" in kept
    assert "no valid reply in 3 tries (Invalid JSON)" in kept
    assert "nothing to ask (a non-answer or an image card)" in kept
    speed = next(line for line in summary_lines(run) if line.startswith("Speed: "))
    assert "s per answer" in speed and "0 answers/s" not in speed


def test_an_llm_run_stops_when_the_server_cannot_be_reached(isolated_env):
    """It used to go on and report the keyword grader's figures as the LLM's, with exit code 0."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (isolated_env / "settings.toml").write_text("[llm]\nmax_retries = 0\n", encoding="utf-8")
    for grader in ("llm", "hybrid"):
        result = run_cli("eval", "--grader", grader, "--limit", "5", "--base-url", f"http://127.0.0.1:{port}/v1", "--json")
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines()[-1] == (
            f"Error: --grader {grader} stopped: cannot reach http://127.0.0.1:{port}/v1: is the server running, and is the base URL right?"
        )


def test_cost_estimate_counts_requests_tokens_and_cache(fake_openai, tmp_path):
    from grader.config import Price
    from grader.evaluation.llm_grader import LLMEvalGrader, estimate_cost
    from grader.llm.cache import LLMCache

    es = _seed_slice(12)
    answered = sum(1 for it in es.items if not is_non_answer(it.answer))
    assert answered < len(es.items)  # the slice holds a non-answer, which costs nothing
    prices = {"fake-model": Price(input=1.0, output=2.0)}
    with _llm_client(fake_openai, prices=prices, base_url=fake_openai.base_url.replace("127.0.0.1", "llm.example.test")) as client:
        est = estimate_cost([es], client, repeat=2)
    assert (est.requests, est.cached, est.local) == (2 * answered, 0, False)
    assert est.prompt_tokens > 100 * est.requests and est.completion_tokens == 350 * est.requests
    assert est.cost == pytest.approx((est.prompt_tokens * 1.0 + est.completion_tokens * 2.0) / 1e6)
    assert "about $" in est.summary()
    from grader.llm.client import FeedbackClient

    client = FeedbackClient(_llm_client(fake_openai).settings, DEFAULTS, cache=LLMCache(tmp_path / "cache.sqlite"))
    with client:
        evaluate(es, LLMEvalGrader(client), DEFAULTS, **FAST)
        again = estimate_cost([es], client)
    assert (again.requests, again.cached, again.local) == (0, answered, True)
    assert "local server: no charge" in again.summary()


def test_cli_llm_eval_against_a_local_server(fake_openai, tmp_path):
    result = run_cli(
        "eval", "--grader", "hybrid", "--base-url", fake_openai.base_url, "--model", "fake-model", "--limit", "5", "--json",
        env={"OPENAI_API_KEY": "sk-test-0123456789abcdef"},
    )
    assert result.returncode == 0, result.stderr
    assert "LLM requests to fake-model" in result.stderr and "no charge" in result.stderr
    run = json.loads(result.stdout)
    assert run["grader"] == "hybrid" and run["data"]["items"] == 5 and run["data"]["limit"] == 5


def test_cli_paid_llm_run_needs_confirmation(tmp_path):
    result = run_cli("eval", "--grader", "llm", "--limit", "3", env={"OPENAI_API_KEY": "sk-test-0123456789abcdef"})
    assert result.returncode == 1
    assert "LLM requests to gpt-4o-mini" in result.stderr
    assert result.stderr.endswith("Error: a paid LLM run needs confirmation: run it in a terminal or add --yes\n")


# --- run_eval: what the command does, with its questions answered by the test ------------------


def test_run_eval_is_the_command_without_a_terminal():
    run = run_eval(EvalRequest(limit=20), DEFAULTS)
    assert run.data.name == "seed_dev" and run.data.items == 20 and run.grader == "keyword"
    assert run.settings == DEFAULTS.model_dump()


@pytest.mark.parametrize("answer, asked", [(False, True), (None, False)], ids=["declined", "nobody to ask"])
def test_a_paid_llm_run_is_agreed_to_first(monkeypatch, answer, asked):
    """No request is sent before the estimate is shown and, for a paid endpoint, agreed to."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    shown, questions = [], []

    def confirm(question):
        questions.append(question)
        return answer

    request = EvalRequest(grader="llm", model="fake-model", base_url="http://llm.example.test/v1", limit=3)
    hooks = EvalHooks(notify=shown.append, confirm=confirm if asked else None)
    if asked:
        assert run_eval(request, DEFAULTS, hooks) is None
        assert questions == ["Start the run?"]
    else:
        with pytest.raises(GraderError, match="a paid LLM run needs confirmation"):
            run_eval(request, DEFAULTS, hooks)
    assert len(shown) == 1 and "LLM requests to fake-model at http://llm.example.test/v1" in shown[0]


@pytest.mark.parametrize(
    "text, n, shown",
    [
        ("What are 3 necessary properties of VMM? What is their meaning?", 50, "What are 3 necessary properties of VMM? What is…"),
        ("What are 2 possible types of binary translation? What is the difference?", 50, "What are 2 possible types of binary translation?…"),
        ("How does  live\nmigration work?", 50, "How does live migration work?"),
        ("Supercalifragilisticexpialidocious is one word", 12, "Supercalifr…"),  # no space near: cut in the word
    ],
)
def test_a_question_or_answer_cut_for_a_table_is_cut_at_a_word(text, n, shown):
    """``eval``'s by-question table cut questions in the middle of a word ("What is t…", "translation? …")."""
    from grader.evaluation.report import one_line

    assert one_line(text, n) == shown and len(shown) <= n
