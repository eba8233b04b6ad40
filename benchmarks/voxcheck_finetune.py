"""Does fine-tuning e5-small on the seeds lift VoxCheck? A measurement, not a pipeline feature.

The quality benchmark's ceiling (`benchmarks/quality.py --ceiling`) shows that e5-small's frozen
vectors stop at 0.60-0.65 accuracy on VoxCheck even with every label. This asks the other
question: does adapting the encoder itself to the seeds (the same seeds `quality.py` uses: each
narrative's labels, fakes and its first 3 cases' quotes, in EN/UK/RU) help? The fp32 rebuild of
the bundled weights (`embeddings.e5_weights.build_bert`) is fine-tuned with a supervised
contrastive loss (texts of one narrative pulled together, in-batch; word embeddings frozen), and
after each epoch a logistic head on the seed vectors is scored on the held-out cases.

    .venv/bin/python -m benchmarks.voxcheck_finetune \\
        --voxcheck ../shared/eval/voxcheck_pd/dev.jsonl \\
        --voxcheck-taxonomy ../shared/eval/voxcheck_pd/taxonomy.json --epochs 4

About a minute per epoch on 2 cores. The data is read from its files; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.quality import VOX_LANGS, voxcheck_split, voxcheck_taxonomy

QUERY = "query: "  # e5's prefix for symmetric tasks (seeds and quotes alike)


def seed_texts(taxonomy, dev, seeds) -> tuple[list[str], list[str]]:
    """(texts, narrative labels) of the seeds in every language, as quality.py builds them."""
    tax = voxcheck_taxonomy(taxonomy, dev, seeds, VOX_LANGS)
    texts, labels = [], []
    for n in tax["narratives"]:
        for lang_texts in [[n["description"]], *n["exemplars"].values()]:
            texts += lang_texts
            labels += [n["label"]] * len(lang_texts)
    return texts, labels


class Encoder:
    """e5-small in torch, mean-pooled and normalised like the ONNX backend."""

    def __init__(self, max_tokens: int = 256):
        from tokenizers import Tokenizer

        from embeddings import e5_weights

        q4 = e5_weights.read_q4_model()
        self.tokenizer = Tokenizer.from_file(str(e5_weights.verify_tokenizer(q4)))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(pad_id=1)
        self.bert = e5_weights.build_bert(q4)

    def forward(self, texts: list[str]):
        import torch

        enc = self.tokenizer.encode_batch([QUERY + t for t in texts])
        ids = torch.tensor([e.ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        out = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        import torch

        self.bert.eval()
        with torch.no_grad():
            return np.vstack([self.forward(texts[i : i + batch]).numpy()
                              for i in range(0, len(texts), batch)])  # fmt: skip


def contrastive_loss(v, labels, temperature: float = 0.05):
    """Supervised contrastive loss: each text's same-narrative batch mates are its positives."""
    import torch

    eye = torch.eye(len(labels), dtype=torch.bool)
    logp = (v @ v.T / temperature).masked_fill(eye, -1e9).log_softmax(dim=1)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    has = pos.any(dim=1)
    return (-(logp * pos).sum(dim=1)[has] / pos.sum(dim=1)[has]).mean()


def accuracy(enc: Encoder, seeds: tuple[list[str], list[str]], rows) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(C=10, max_iter=3000).fit(enc.embed(seeds[0]), seeds[1])
    out = {}
    for lang in VOX_LANGS:
        held = [r for r in rows if r["lang"] == lang]
        pred = head.predict(enc.embed([r["text"] for r in held]))
        out[lang] = float(np.mean([p == r["labels"]["narrative"] for p, r in zip(pred, held, strict=True)]))  # fmt: skip
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voxcheck", type=Path, required=True)
    ap.add_argument("--voxcheck-taxonomy", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args(argv)
    import torch

    torch.manual_seed(0)
    seeds, rows = voxcheck_split(args.voxcheck)
    texts, labels = seed_texts(args.voxcheck_taxonomy, args.voxcheck, seeds)
    rows = [r for r in rows if r["lang"] in VOX_LANGS]  # the seed cases are already left out
    enc = Encoder()
    say = lambda tag, acc: print(tag.ljust(16), " ".join(f"{k.upper()} {v:.3f}" for k, v in acc.items()), flush=True)  # noqa: E731  # fmt: skip
    say("before", accuracy(enc, (texts, labels), rows))
    classes = {n: i for i, n in enumerate(dict.fromkeys(labels))}
    y = torch.tensor([classes[n] for n in labels])
    enc.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in enc.bert.parameters() if p.requires_grad], lr=args.lr)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        enc.bert.train()
        order = np.random.default_rng(epoch).permutation(len(texts))
        total = 0.0
        for i in range(0, len(texts), args.batch):
            b = order[i : i + args.batch]
            loss = contrastive_loss(enc.forward([texts[j] for j in b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"epoch {epoch + 1}: loss {total:.2f}, {time.perf_counter() - started:.0f}s", flush=True)  # fmt: skip
        say(f"after epoch {epoch + 1}", accuracy(enc, (texts, labels), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
