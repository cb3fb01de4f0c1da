"""A trained sequential retriever: SASRec (causal self-attention over the user's item sequence),
trained with full softmax cross-entropy over every item (gSASRec and later work: it beats the
original sampled BCE), served as one more ranked list in the retriever's fusion.

    python -m agent.sequential                       # the served catalog (Settings: catalog, interactions, collection)
    python -m agent.sequential --data ml-100k-dir    # any data set agent.protocol reads
    python -m agent.sequential --data D --refit      # then the refits for the test target and serving
    model = SequentialModel.load(path)               # None when no model was trained
    model.scores(["1", "50", "260"]) -> np.ndarray over model.item_ids (higher: more likely next)
    model.top(history, k, exclude, keep) -> [(item_id, score)]   # the Retriever's list interface

Training data: the protocol's training split of the catalog's interaction log (agent/protocol:
5-core, each user's items before their validation item, oldest first), so the evals' validation
and test targets are never trained on. Every position of a sequence predicts the next item
(causal mask); sequences longer than `max_len` are cropped at a random end each epoch. The
validation items pick the epoch (NDCG@10, full ranking, history excluded; early stopping).
The model is saved beside the collection (agent.tuning.collection_dir: sasrec.pt plus
sasrec.json with its validation numbers); training checkpoints there every evaluation and
`--resume` continues from the last one. Deterministic for a given seed and thread count.
`--refit` then trains the same recipe for the epoch count validation chose, without early stopping,
on every event before the test item (sasrec.test.pt: the evals' test target) and on the whole log
(sasrec.serve.pt: the server), as the co-occurrence, transitions and EASE lists are refit on every
event before their target.
Left out: item features (the semantic lists carry them), users outside the 5-core (their items
still count as input when known), GPU-specific speedups (runs on whatever torch finds, CPU here).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

Keep = Callable[[str], bool]


@dataclass
class SASRecConfig:
    dim: int = 64
    layers: int = 2
    heads: int = 2
    max_len: int = 100
    dropout: float = 0.3
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 100
    eval_every: int = 2
    patience: int = 6  # evaluations without a better validation NDCG@10 before stopping
    seed: int = 0
    threads: int = 1  # on the 2 shared cores here one thread was ~4x faster than two (less contention)


def _torch():
    import torch

    return torch


def build_model(n_items: int, cfg: SASRecConfig):
    """The network: item + position embeddings, pre-norm causal transformer blocks, tied output."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
            self.qkv, self.proj = nn.Linear(cfg.dim, 3 * cfg.dim), nn.Linear(cfg.dim, cfg.dim)
            self.mlp = nn.Sequential(nn.Linear(cfg.dim, 4 * cfg.dim), nn.GELU(), nn.Linear(4 * cfg.dim, cfg.dim))
            self.drop = nn.Dropout(cfg.dropout)

        def forward(self, x, mask):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, cfg.heads, d // cfg.heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # no attention dropout: costly on CPU
            x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
            return x + self.drop(self.mlp(self.ln2(x)))

    class SASRec(nn.Module):
        def __init__(self):
            super().__init__()
            self.item = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0)  # 0 = padding
            self.pos = nn.Embedding(cfg.max_len, cfg.dim)
            self.blocks = nn.ModuleList(Block() for _ in range(cfg.layers))
            self.ln = nn.LayerNorm(cfg.dim)
            self.drop = nn.Dropout(cfg.dropout)
            for m in self.modules():  # small init (nanoGPT): tied logits start near uniform (loss ~ log n)
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)

        def forward(self, seq):
            """seq: B x T item indices (1..n), left-padded with 0 -> B x T x dim hidden states."""
            b, t = seq.shape
            pos = torch.arange(cfg.max_len - t, cfg.max_len, device=seq.device)  # right-aligned: last item, last position
            x = self.drop(self.item(seq) * math.sqrt(cfg.dim) + self.pos(pos))
            real = seq > 0
            causal = torch.ones(t, t, dtype=torch.bool, device=seq.device).tril()
            # a position sees earlier real items and itself (a pad row sees only itself: never all masked)
            allowed = causal & (real[:, None, :] | torch.eye(t, dtype=torch.bool, device=seq.device))
            mask = torch.zeros(allowed.shape, device=seq.device).masked_fill_(~allowed, float("-inf"))[:, None]
            for blk in self.blocks:
                x = blk(x, mask)
            return self.ln(x)

        def logits(self, h):
            return h @ self.item.weight[1:].T  # over items 1..n, as columns 0..n-1

    return SASRec()


def _pad_batch(seqs: list[list[int]], torch):
    t = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), t, dtype=torch.long)
    for r, s in enumerate(seqs):
        if s:
            out[r, t - len(s):] = torch.tensor(s)
    return out


class SequentialModel:
    """A trained SASRec with its item vocabulary, as a ranked-list source for agent.retrieval."""

    def __init__(self, net, cfg: SASRecConfig, item_ids: list[str], meta: dict | None = None):
        self.net, self.cfg, self.item_ids = net.eval(), cfg, item_ids
        self._col = {it: j for j, it in enumerate(item_ids)}
        self.meta = meta or {}

    def encode(self, history: list[str]) -> list[int]:
        return [self._col[i] + 1 for i in history if i in self._col][-self.cfg.max_len:]

    def scores_batch(self, histories: list[list[str]]) -> np.ndarray:
        """Next-item scores (logits), one row per history, columns in `item_ids` order."""
        torch = _torch()
        seqs = [self.encode(h) or [0] for h in histories]
        with torch.no_grad():
            h = self.net(_pad_batch(seqs, torch))[:, -1]
            out = self.net.logits(h).numpy().astype(np.float64)
        for r, s in enumerate(seqs):
            if s == [0]:
                out[r] = 0.0  # nothing known: no opinion
        return out

    def scores(self, history: list[str]) -> np.ndarray:
        return self.scores_batch([history])[0]

    def top(self, history: list[str], k: int, exclude: set[str], keep: Keep | None = None) -> list[tuple[str, float]]:
        """The k best unseen items (item_id, score) after `history` (oldest first); [] with no known item."""
        if not self.encode(history):
            return []
        s = self.scores(history)
        out = []
        for j in np.argsort(-s, kind="stable"):
            i = self.item_ids[j]
            if i not in exclude and (keep is None or keep(i)):
                out.append((i, float(s[j])))
                if len(out) == k:
                    break
        return out

    def save(self, path: Path) -> None:
        torch = _torch()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"state": self.net.state_dict(), "config": asdict(self.cfg), "item_ids": self.item_ids,
                    "meta": self.meta}, tmp)
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps({"config": asdict(self.cfg), **self.meta}, indent=2))

    @classmethod
    def load(cls, path: Path) -> SequentialModel | None:
        """The model saved at `path`, or None when there is none (the fusion then has no such list)."""
        if not Path(path).is_file():
            return None
        torch = _torch()
        blob = torch.load(path, map_location="cpu", weights_only=False)
        cfg = SASRecConfig(**blob["config"])
        net = build_model(len(blob["item_ids"]), cfg)
        net.load_state_dict(blob["state"])
        return cls(net, cfg, blob["item_ids"], blob.get("meta"))


def evaluate(model: SequentialModel, histories: dict[str, list[str]], targets: dict[str, str],
             batch: int = 128) -> dict[str, float]:
    """Mean NDCG@10 and Recall@10 of full ranking (history excluded) over the users of `targets`."""
    from agent.protocol.metrics import ndcg_at, recall_at

    users = sorted(targets)
    nd, rc = [], []
    for start in range(0, len(users), batch):
        us = users[start:start + batch]
        s = model.scores_batch([histories[u] for u in us])
        for r, u in enumerate(us):
            for i in histories[u]:
                if i in model._col:
                    s[r, model._col[i]] = -np.inf
            top = [model.item_ids[j] for j in np.argsort(-s[r], kind="stable")[:10]]
            nd.append(ndcg_at(top, targets[u], 10))
            rc.append(recall_at(top, targets[u], 10))
    return {"ndcg@10": float(np.mean(nd)), "recall@10": float(np.mean(rc)), "users": len(users)}


def _identity(config: dict) -> dict:
    """What a resumed run must share with its checkpoint (more epochs or patience may be asked for)."""
    return {k: v for k, v in config.items() if k not in ("epochs", "patience", "threads")}


def train(train_seqs: dict[str, list[str]], items: list[str], val_targets: dict[str, str], cfg: SASRecConfig,
          out: Path, *, resume: bool = False, data_checksum: str = "", progress: bool = True) -> SequentialModel:
    """Fit SASRec on `train_seqs` (user -> items, oldest first); keep the epoch with the best
    validation NDCG@10 on `val_targets`; save to `out` (checkpoint: out.ckpt, kept for --resume).
    With no `val_targets` (a refit, see `refit`) it runs exactly cfg.epochs and keeps the last."""
    torch = _torch()
    from tqdm import tqdm

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    col = {it: j for j, it in enumerate(items)}
    users = sorted(train_seqs)
    seqs = {u: [col[i] + 1 for i in train_seqs[u] if i in col] for u in users}
    users = [u for u in users if len(seqs[u]) >= 2]
    net = build_model(len(items), cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = out.with_suffix(".ckpt")
    state = {"epoch": 0, "best": -1.0, "best_epoch": 0, "since_best": 0, "best_state": None, "history": [],
             "seconds": 0.0}
    if resume and ckpt.is_file():
        blob = torch.load(ckpt, map_location="cpu", weights_only=False)
        if (_identity(blob["config"]) != _identity(asdict(cfg)) or blob["items"] != len(items)
                or blob["checksum"] != data_checksum):
            raise ValueError(f"{ckpt} was written for another configuration or data; delete it or drop --resume")
        net.load_state_dict(blob["net"])
        opt.load_state_dict(blob["opt"])
        state = blob["state"]
        rng = blob["rng"]
        torch.set_rng_state(blob["torch_rng"])
        print(f"[sasrec] resuming at epoch {state['epoch']} (best val NDCG@10 {state['best']:.4f})", file=sys.stderr)
    hist = {u: train_seqs[u] for u in val_targets}
    bar = tqdm(total=cfg.epochs, initial=state["epoch"], desc="sasrec", unit="epoch", file=sys.stderr,
               disable=not progress)
    t0 = time.time() - state["seconds"]
    while state["epoch"] < cfg.epochs and state["since_best"] < cfg.patience:
        net.train()
        crops = []
        for u in users:
            s = seqs[u]
            end = len(s) if len(s) <= cfg.max_len + 1 else int(rng.integers(cfg.max_len + 1, len(s) + 1))
            crops.append(s[max(0, end - cfg.max_len - 1):end])
        # batches of similar length (less padding), in random order
        by_len = sorted(range(len(crops)), key=lambda j: (len(crops[j]), rng.random()))
        batches = [by_len[i:i + cfg.batch_size] for i in range(0, len(by_len), cfg.batch_size)]
        total, n = 0.0, 0
        for b in rng.permutation(len(batches)):
            batch = [crops[j] for j in batches[b]]
            x = _pad_batch([s[:-1] for s in batch], torch)
            y = _pad_batch([s[1:] for s in batch], torch)
            real = y > 0
            h = net(x)[real]
            loss = torch.nn.functional.cross_entropy(net.logits(h), y[real] - 1)  # full softmax over items
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item() * int(real.sum()), n + int(real.sum())
        state["epoch"] += 1
        bar.update(1)
        bar.set_postfix(loss=f"{total / max(n, 1):.3f}", best=f"{state['best']:.4f}")
        if state["epoch"] % cfg.eval_every == 0 or state["epoch"] == cfg.epochs:
            if val_targets:
                m = evaluate(SequentialModel(net, cfg, items), hist, val_targets)
                net.train()
                state["history"].append({"epoch": state["epoch"], "loss": total / max(n, 1), **m})
                if m["ndcg@10"] > state["best"]:
                    state.update(best=m["ndcg@10"], best_epoch=state["epoch"], since_best=0,
                                 best_state={k: v.clone() for k, v in net.state_dict().items()})
                else:
                    state["since_best"] += 1
            else:
                state["history"].append({"epoch": state["epoch"], "loss": total / max(n, 1)})
                state["best_epoch"] = state["epoch"]
            state["seconds"] = time.time() - t0
            tmp = ckpt.with_suffix(".ckpt.tmp")
            out.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "state": state, "rng": rng,
                        "torch_rng": torch.get_rng_state(), "config": asdict(cfg), "items": len(items),
                        "checksum": data_checksum}, tmp)
            tmp.replace(ckpt)
    bar.close()
    if state["best_state"] is not None:
        net.load_state_dict(state["best_state"])
    best = next((h for h in state["history"] if h["epoch"] == state["best_epoch"]), {})
    meta = {"val_ndcg@10": best.get("ndcg@10"), "val_recall@10": best.get("recall@10"),
            "best_epoch": state["best_epoch"], "epochs_run": state["epoch"], "train_seconds": round(time.time() - t0, 1),
            "data_checksum": data_checksum, "users": len(users), "items": len(items), "history": state["history"]}
    model = SequentialModel(net, cfg, items, meta)
    model.save(out)
    return model


def refit_sequences(split, target: str) -> dict[str, list[str]]:
    """What the refit for `target` learns from: every item before the test item ("test"), or the
    whole log ("serve"), oldest first."""
    if target == "test":
        return split.fit_sequences("test")
    return {u: [*split.train[u], split.val[u], split.test[u]] for u in split.train}


def refit(split, base: SequentialModel, target: str, out: Path, *, resume: bool = False,
          progress: bool = True) -> SequentialModel:
    """The base model's recipe refit on more of the log: the same configuration and seed for exactly
    the epoch count validation chose (`base.meta["best_epoch"]`), on `refit_sequences(split, target)`.
    The co-occurrence, transitions and EASE lists are refit on every event before the target the
    same way; a model trained on the training part only never learned the transition into the
    validation item, which is the newest event of every test history."""
    epochs = int(base.meta.get("best_epoch") or 0)
    if epochs < 1:
        raise ValueError("the base model has no chosen epoch count; train it with validation first")
    cfg = SASRecConfig(**{**asdict(base.cfg), "epochs": epochs})
    m = train(refit_sequences(split, target), split.items, {}, cfg, out, resume=resume,
              data_checksum=split.checksum, progress=progress)
    m.meta.update(refit_for=target, base_val_ndcg=base.meta.get("val_ndcg@10"),
                  base_val_recall=base.meta.get("val_recall@10"))
    m.save(out)
    return m


def model_path(settings, target: str = "val") -> Path:
    """Where the served catalog's model lives (beside its collection): sasrec.pt, trained on the
    training split with validation early stopping; sasrec.test.pt and sasrec.serve.pt, its refits
    for the test target and for serving (`refit`)."""
    from agent.tuning import collection_dir

    return collection_dir(settings) / ("sasrec.pt" if target == "val" else f"sasrec.{target}.pt")


def load_for(settings, split_checksum: str | None = None, target: str = "val") -> SequentialModel | None:
    """The collection's model for `target` ("val", "test", "serve"): its refit for that target when
    one was made on this log, else the training-split model; None when none was trained (or only on
    another split of the log)."""
    for path in dict.fromkeys([model_path(settings, target), model_path(settings)]):
        m = SequentialModel.load(path)
        if m is not None and split_checksum and m.meta.get("data_checksum") != split_checksum:
            print(f"[sasrec] {path} was trained on another interaction log: ignored; "
                  "retrain with `python -m agent.sequential`", file=sys.stderr)
            m = None
        if m is not None:
            return m
    return None


def main(argv: list[str] | None = None) -> int:
    from agent.protocol.data import leave_last_two, load_events
    from agent.protocol.pipeline import dataset_settings, served_dataset

    ap = argparse.ArgumentParser(prog="python -m agent.sequential",
                                 description="train the SASRec retriever of a catalog on its training split")
    ap.add_argument("--data", help="a data set agent.protocol reads (default: the served catalog and log)")
    ap.add_argument("--interactions", help="the log of a catalog .jsonl given as --data")
    ap.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    ap.add_argument("--out", type=Path, help="model file (default: beside the collection)")
    ap.add_argument("--refit", action="store_true", help="then refit the chosen epoch count on every event before "
                    "the test item (sasrec.test.pt, for the evals' test target) and on the whole log "
                    "(sasrec.serve.pt, for the server)")
    for f, d in asdict(SASRecConfig()).items():
        ap.add_argument(f"--{f.replace('_', '-')}", type=type(d), default=d, help=f"(default {d})")
    args = ap.parse_args(argv)
    cfg = SASRecConfig(**{f: getattr(args, f) for f in asdict(SASRecConfig())})
    ds = served_dataset() if args.data is None else None
    from agent.protocol.data import resolve_dataset

    ds = ds or resolve_dataset(args.data, args.interactions)
    settings = dataset_settings(ds)
    split = leave_last_two(load_events(ds))
    out = args.out or model_path(settings)
    print(f"[sasrec] {ds.name}: {split.stats}; training split only -> {out}", file=sys.stderr)
    m = train(split.train, split.items, split.val, cfg, out, resume=args.resume, data_checksum=split.checksum)
    print(f"[sasrec] best epoch {m.meta['best_epoch']} of {m.meta['epochs_run']}: validation NDCG@10 "
          f"{m.meta['val_ndcg@10']:.4f}, Recall@10 {m.meta['val_recall@10']:.4f}; {m.meta['train_seconds']} s; saved {out}")
    if args.refit:
        for target in ("test", "serve"):
            path = out.with_name(f"{out.stem}.{target}.pt")
            r = refit(split, m, target, path, resume=args.resume)
            print(f"[sasrec] refit for {target}: {r.meta['epochs_run']} epochs on {r.meta['users']} users; "
                  f"{r.meta['train_seconds']} s; saved {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
