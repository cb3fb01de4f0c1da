"""LoRA / QLoRA fine-tuning of the ranking-and-explaining LLM on examples from finetune/data.py.

    python -m finetune.train --data movielens-small --out adapters/smollm2-135m-marquee \
        --model pack:smollm2-135m --max_rank_examples 600 --epochs 1

One command: builds (or reuses) the training set in OUT/train.jsonl from the training split with
the serving prompts, trains a peft LoRA adapter with the transformers Trainer (loss on the answer
tokens only), validates on a sample of the evals' validation users every `eval_every` steps with
the evals' metrics (NDCG@10 / Recall@10 of the one-pass order, computed with the model being
trained), saves the adapter to OUT, checks that it is non-empty and changes the logits, and
records its config and data checksum in OUT/marquee_train.json. Interrupted runs resume from the
last checkpoint in OUT/checkpoints. `--merge_to DIR` also writes base+adapter as one model.
`--examples FILE` trains on a given JSONL of Examples instead (the verbalizer adapter trains on
finetune.teacher's examples.jsonl; a teacher.json beside it goes into the training record).

CPU: bf16 autocast where the CPU has AVX512-BF16 (this one does), else fp32; gradient
checkpointing; batch 1 with accumulation. CUDA: the same, and `--quantize 4bit` for QLoRA
(bitsandbytes is imported only then; asking for it without a CUDA GPU is an error).
Left out: multi-GPU, DPO-style preference training.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from agent.device import cpu_has_bf16
from finetune.data import DataArgs, Example, build_examples, positions_split, prior_only_loss, read_jsonl, write_jsonl


DATA_FORMAT = 2  # bump when Example gains fields: cached train.jsonl files are rebuilt


class FinetuneError(RuntimeError):
    """A fine-tuning run cannot go on; the message says how to fix it."""


@dataclass
class ModelArgs:
    model: str = field(default="pack:smollm2-135m", metadata={"help": "HF id, local dir, or pack:<name> (the server's `model`)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank (vLLM serves up to 64)"})
    lora_alpha: int = field(default=32)
    lora_dropout: float = field(default=0.05)
    target_modules: str = field(default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                                metadata={"help": "comma-separated module names (all supported by vLLM LoRA)"})
    quantize: Literal["none", "4bit"] = field(default="none", metadata={"help": "4bit: QLoRA with bitsandbytes (CUDA only)"})
    lora_layers: int = field(default=0, metadata={
        "help": "adapt only the top N decoder layers (peft layers_to_transform; 0 = all). The backward pass stops at "
                "the lowest adapted layer: top 8 of SmolLM2-135M's 30 trained a rank example 2.2x faster on CPU "
                "(benchmarks/finetune_step_bench.py). Use it with --gradient_checkpointing False: checkpointing "
                "makes the inputs require grad, so the backward runs through every layer again"})


@dataclass
class TrainArgs:
    out: str = field(default="adapters/marquee-lora", metadata={"help": "adapter output directory"})
    epochs: float = field(default=1.0)
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps; -1: from epochs"})
    lr: float = field(default=2e-4)
    batch_size: int = field(default=1)
    grad_accum: int = field(default=8)
    warmup_ratio: float = field(default=0.05)
    max_len: int = field(default=2048, metadata={"help": "examples longer than this (tokens) are dropped"})
    eval_every: int = field(default=20, metadata={"help": "validate every N optimizer steps (0: only before and after)"})
    eval_users: int = field(default=60, metadata={"help": "validation users for the periodic check"})
    save_every: int = field(default=10, metadata={"help": "checkpoint every N optimizer steps"})
    precision: Literal["auto", "bf16", "fp32"] = field(default="auto", metadata={"help": "auto: bf16 on CUDA or AVX512-BF16 CPUs, else fp32"})
    gradient_checkpointing: bool = field(default=True)
    merge_to: str = field(default="", metadata={"help": "also save base+adapter merged into one model here"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: all cores)"})
    examples: str = field(default="", metadata={
        "help": "train on this JSONL of finetune.data Examples (e.g. finetune.teacher's examples.jsonl) instead of "
                "building rank/explain examples from --data"})
    rank_loss: Literal["labels", "lm"] = field(default="labels", metadata={
        "help": "rank examples: 'labels' = cross-entropy over the shown candidates' letter log-probabilities at the "
                "answer position (exactly the scores one-pass ranking reads); 'lm' = plain next-token loss on the letter"})
    train_prior_weight: float = field(default=0.0, metadata={
        "help": "rank examples with --rank_loss labels: add -w*log(retrieval rank) to each letter's score inside the "
                "loss (serving adds the same prior), so the adapter learns what the retrieval order misses; the "
                "candidates stay shuffled in the prompt, so the model never sees their rank"})


def use_bf16(precision: str) -> bool:
    import torch

    if precision != "auto":
        return precision == "bf16"
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


def load_base(margs: ModelArgs, home=None, bf16: bool = False):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agent.modelpack import resolve_model

    path = resolve_model(margs.model, home)
    kwargs = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if margs.quantize == "4bit":
        if not torch.cuda.is_available():
            raise FinetuneError("--quantize 4bit (QLoRA) needs a CUDA GPU and bitsandbytes; on CPU use --quantize none")
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as e:
            raise FinetuneError("QLoRA needs bitsandbytes: pip install -e '.[qlora]'") from e
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16)
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return path, model, tok


def top_layers(model, n: int) -> list[int] | None:
    """Indices of the top `n` decoder layers for peft's layers_to_transform (None: all layers)."""
    if n <= 0:
        return None
    total = model.config.num_hidden_layers
    if n >= total:
        return None
    return list(range(total - n, total))


def lora_config(margs: ModelArgs, model):
    """The peft LoraConfig for `margs` on `model` (the trainer's and benchmarks/finetune_step_bench.py's)."""
    from peft import LoraConfig

    return LoraConfig(r=margs.lora_r, lora_alpha=margs.lora_alpha, lora_dropout=margs.lora_dropout,
                      target_modules=[m.strip() for m in margs.target_modules.split(",") if m.strip()],
                      task_type="CAUSAL_LM", layers_to_transform=top_layers(model, margs.lora_layers))


def prompt_ids(tok, messages: list[dict[str, str]]) -> list[int]:
    """Exactly what the vLLM backend feeds the model (agent/llm/vllm_engine.py)."""
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):
        ids = ids["input_ids"]
    return list(ids)


def encode(tok, ex: Example, prior_weight: float = 0.0) -> dict:
    """input_ids = prompt [+ prefix] + answer + end-of-turn; labels = -100 on the prompt and the
    prefix (loss on the answer only: a prefix is written by code in serving).
    Rank examples also carry the letters' token ids (`choice_ids`, A, B, ... as shown), the
    target's index among them and each letter's prior offset -w*log(retrieval rank)."""
    p = prompt_ids(tok, ex.messages)
    if ex.prefix:  # as served: the given answer start's tokens follow the generation prompt (vllm_engine._checked_prompt)
        p += tok.encode(ex.prefix, add_special_tokens=False)
    a = tok.encode(ex.answer, add_special_tokens=False) + [tok.eos_token_id]
    out = {"input_ids": p + a, "labels": [-100] * len(p) + a, "choice_ids": [], "choice_offsets": [], "choice_target": -1}
    if ex.kind == "rank" and ex.candidates:
        from agent.ranking import LABELS

        if prior_weight and len(ex.ranks) != len(ex.candidates):
            raise FinetuneError("these training examples have no retrieval ranks (built by an older version): "
                                "delete OUT/train.jsonl and run again, or use --train_prior_weight 0")
        k = len(ex.candidates)
        out["choice_ids"] = [tok.encode(x, add_special_tokens=False)[0] for x in LABELS[:k]]
        out["choice_offsets"] = [-prior_weight * math.log(r) for r in ex.ranks] if prior_weight else [0.0] * k
        out["choice_target"] = ex.candidates.index(ex.target)
    return out


class Collator:
    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        n = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), n), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), n), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        k = max(len(b.get("choice_ids", ())) for b in batch)
        choice_ids = torch.zeros((len(batch), k), dtype=torch.long)
        offsets = torch.full((len(batch), k), float("-inf"))  # -inf: no such letter
        for r, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[r, :n] = torch.tensor(b["input_ids"])
            labels[r, :n] = torch.tensor(b["labels"])
            mask[r, :n] = 1
            c = len(b.get("choice_ids", ()))
            if c:
                choice_ids[r, :c] = torch.tensor(b["choice_ids"])
                offsets[r, :c] = torch.tensor(b["choice_offsets"], dtype=torch.float)
        target = torch.tensor([b.get("choice_target", -1) for b in batch], dtype=torch.long)
        return {"input_ids": ids, "labels": labels, "attention_mask": mask,
                "choice_ids": choice_ids, "choice_offsets": offsets, "choice_target": target}


def label_choice_loss(logits, labels, choice_ids, offsets, target):
    """Cross-entropy over the shown letters at the answer position, per example (B,).

    logits (B, T, V); labels (B, T) with -100 on the prompt; choice_ids (B, K) letter token ids;
    offsets (B, K): the prior added to each letter's log-probability (-inf pads); target (B,)
    the right letter's index. The score of a letter is its full-vocabulary log-softmax plus its
    offset: the quantity serving orders by (agent.ranking.order_by_label_scores).
    """
    import torch

    pos = (labels != -100).float().argmax(dim=1) - 1  # the last prompt token predicts the letter
    rows = torch.arange(logits.shape[0], device=logits.device)
    lp = torch.log_softmax(logits[rows, pos].float(), dim=-1)  # (B, V)
    scores = lp.gather(1, choice_ids) + offsets.to(lp.device)
    return torch.nn.functional.cross_entropy(scores, target.to(lp.device), reduction="none")


def lm_loss(logits, labels):
    """Mean next-token loss on the answer tokens, per example (B,)."""
    import torch

    shift_logits, shift_labels = logits[:, :-1].float(), labels[:, 1:]
    tok = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=-100, reduction="none")
    n = (shift_labels != -100).sum(dim=1).clamp(min=1)
    return tok.sum(dim=1) / n


def example_losses(model, inputs: dict, rank_loss: str = "labels"):
    """Per-example loss (B,) for a collated batch, and the model output.

    Rank examples with `rank_loss="labels"` take label_choice_loss, the rest lm_loss. Only
    positions from the earliest last-prompt-token on carry a loss, so the vocabulary logits are
    computed there alone (`logits_to_keep`): the LM head over ~1,000 prompt positions, and its
    backward, were ~20% of a rank step on CPU."""
    import torch

    inputs = dict(inputs)
    choice_ids, offsets, target = inputs.pop("choice_ids"), inputs.pop("choice_offsets"), inputs.pop("choice_target")
    labels = inputs.pop("labels")
    start = max(int((labels != -100).float().argmax(dim=1).min()) - 1, 0)
    out = model(**inputs, logits_to_keep=labels.shape[1] - start)
    labels = labels[:, start:]
    per = lm_loss(out.logits, labels)
    is_rank = target >= 0
    if rank_loss == "labels" and bool(is_rank.any()):
        ranked = label_choice_loss(out.logits, labels, choice_ids, offsets, target.clamp(min=0))
        per = torch.where(is_rank.to(per.device), ranked, per)
    return per, out


class RankProbe:
    """NDCG@10 / Recall@10 of the one-pass order on validation users, scored by `model` itself
    with the served prompts (Recommender.prepare -> rank prompt; the label read of agent/llm)."""

    prior_weights = (1.0, 2.0, 4.0, 8.0)

    def __init__(self, rec, split, users: list[str], tok, request: str):
        from agent.ranking import LABELS
        from agent.recommender import RecRequest

        self.rows = []
        for u in users:
            prep = rec.prepare(RecRequest(messages=[{"role": "user", "content": request}], user=u, ranking="one-pass",
                                          n=rec.settings.k_candidates))
            k = min(len(prep.candidates), len(LABELS))
            self.rows.append((prompt_ids(tok, prep.prompt), list(prep.candidates[:k]), split.val[u]))
        self.label_ids = [tok.encode(x, add_special_tokens=False)[0] for x in LABELS]

    def __call__(self, model) -> dict:
        import torch

        from agent.ranking import order_by_label_scores
        from agent.protocol.metrics import all_metrics

        was_training = model.training
        model.eval()
        ndcg, recall, mrr = [], [], []
        prior = {w: [] for w in self.prior_weights}
        dev = next(model.parameters()).device
        with torch.no_grad():
            for ids, cands, target in self.rows:
                logits = model(input_ids=torch.tensor([ids], device=dev)).logits[0, -1].float()
                lp = torch.log_softmax(logits, -1)[self.label_ids[: len(cands)]].tolist()
                order = [c.item.item_id for c, _ in order_by_label_scores(cands, lp)]
                m = all_metrics(order, target)
                ndcg.append(m["ndcg@10"]); recall.append(m["recall@10"]); mrr.append(m["mrr@10"])  # noqa: E702
                for w in self.prior_weights:  # the served order: LLM score - w*log(retrieval rank)
                    prior[w].append(all_metrics([c.item.item_id for c, _ in order_by_label_scores(cands, lp, w)], target)["ndcg@10"])
        if was_training:
            model.train()
        n = max(len(ndcg), 1)
        return {"ndcg@10": sum(ndcg) / n, "recall@10": sum(recall) / n, "mrr@10": sum(mrr) / n, "users": len(ndcg),
                "ndcg@10_with_prior": {str(w): round(sum(v) / n, 5) for w, v in prior.items()}}


def verify_adapter(out: Path, base_path: str, sample_ids: list[int], tol: float = 1e-4) -> dict:
    """Guard against the silent failure of an empty or inert adapter: reload it from disk on a
    fresh base model; its weights must be non-zero and its logits must differ from the base's."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    weights = load_file(str(out / "adapter_model.safetensors"))
    b_norm = sum(float(v.float().abs().sum()) for k, v in weights.items() if "lora_B" in k)
    if not weights or b_norm == 0.0:
        raise FinetuneError(f"saved adapter in {out} is empty (lora_B weights are all zero): training did not update it")
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    ids = torch.tensor([sample_ids[-512:]])
    with torch.no_grad():
        ref = base(input_ids=ids).logits[0, -1]
        tuned = PeftModel.from_pretrained(base, str(out))
        new = tuned(input_ids=ids).logits[0, -1]
    diff = float((new - ref).abs().max())
    if diff <= tol:
        raise FinetuneError(f"reloaded adapter does not change the model's logits (max |diff| {diff:.2e})")
    return {"lora_B_abs_sum": b_norm, "tensors": len(weights), "max_logit_diff": diff}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    margs, dargs, targs = HfArgumentParser((ModelArgs, DataArgs, TrainArgs)).parse_args_into_dataclasses(argv)
    try:
        return run(margs, dargs, targs)
    except FinetuneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(margs: ModelArgs, dargs: DataArgs, targs: TrainArgs) -> int:
    import torch
    from transformers import set_seed

    from agent.protocol.data import leave_last_two, load_events, resolve_dataset
    from agent.protocol.pipeline import dataset_settings, split_recommender

    t0 = time.time()
    set_seed(dargs.seed)
    if targs.threads:
        torch.set_num_threads(targs.threads)
    out = Path(targs.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = resolve_dataset(dargs.data, dargs.interactions or None)
    settings = dataset_settings(ds)  # the demo's own, or the catalog's content-hash collection (built on first use)
    split = leave_last_two(load_events(ds))
    users = sorted(split.train, key=lambda u: (len(u), u))
    # Validation users: taken from the end of the sorted list, so that `--users N` runs (which
    # take the first N for training) do not overlap them. Their validation items never train.
    probe_users = users[-targs.eval_users:] if targs.eval_users else []
    rec = split_recommender(split, "val", probe_users, settings=settings)  # the probe scores validation users as the evals do

    data_path = Path(targs.examples) if targs.examples else out / "train.jsonl"
    data_key = hashlib.sha256(json.dumps([{k: v for k, v in asdict(dargs).items() if v or k != "interactions"}, split.checksum, DATA_FORMAT], sort_keys=True).encode()).hexdigest()[:16]
    key_path = out / "train.key"
    if targs.examples:
        examples = read_jsonl(data_path)
        print(f"[finetune] {len(examples)} given examples from {data_path}", flush=True)
    elif data_path.exists() and key_path.exists() and key_path.read_text() == data_key:
        examples = read_jsonl(data_path)
        print(f"[finetune] reusing {len(examples)} examples in {data_path}", flush=True)
    else:
        # the examples' retriever: fit out of sample unless asked otherwise (finetune/data.py, "Leakage")
        ex_rec = rec if dargs.retriever_fit == "all" else split_recommender(positions_split(split, dargs.positions_per_user), "val", [],
                                                                                settings=settings)
        examples = build_examples(ex_rec, split, dargs)
        write_jsonl(examples, data_path)
        key_path.write_text(data_key)
    data_sha = sha256_file(data_path)
    if not examples:
        raise FinetuneError("no training examples: the retriever found none of the next items (try --missing_target insert)")

    probe_factory = (lambda tok: RankProbe(rec, split, probe_users, tok, dargs.request)) if probe_users else None
    record = train_adapter(margs, targs, examples, probe_factory=probe_factory, home=rec.settings.home, seed=dargs.seed)
    teacher = data_path.parent / "teacher.json"  # finetune.teacher's record: teacher, pass rates, cost
    if targs.examples and teacher.exists():
        record["teacher"] = json.loads(teacher.read_text())
    record.update({"data_args": asdict(dargs), "data_file": data_path.name, "data_sha256": data_sha,
                   # the rank loss the adapter has to beat: the retrieval prior alone (finetune.data.prior_only_loss)
                   "prior_only_loss": prior_only_loss(examples, targs.train_prior_weight),
                   "split_checksum": split.checksum, "wall_clock_s": round(time.time() - t0, 1)})
    (out / "marquee_train.json").write_text(json.dumps(record, indent=2))
    print(f"[finetune] adapter saved to {out} ({record['wall_clock_s']} s); verify: {record['verify']}", flush=True)
    return 0


def train_adapter(margs: ModelArgs, targs: TrainArgs, examples: list[Example], *, probe_factory=None,
                  home=None, seed: int = 0) -> dict:
    """Train, save to targs.out, verify the saved adapter; returns the training record."""
    import torch
    from peft import get_peft_model
    from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

    set_seed(seed)
    out = Path(targs.out)
    out.mkdir(parents=True, exist_ok=True)
    bf16 = use_bf16(targs.precision)
    base_path, model, tok = load_base(margs, home, bf16)
    encoded = [e for e in (encode(tok, ex, targs.train_prior_weight) for ex in examples) if len(e["input_ids"]) <= targs.max_len]
    if not encoded:
        raise FinetuneError(f"every example is longer than --max_len {targs.max_len} tokens")
    print(f"[finetune] {len(encoded)} examples ({sum(ex.kind == 'rank' for ex in examples)} rank), "
          f"mean {sum(len(e['input_ids']) for e in encoded) / len(encoded):.0f} tokens; bf16={bf16}", flush=True)

    if margs.quantize == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=targs.gradient_checkpointing)
    elif targs.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = get_peft_model(model, lora_config(margs, model))
    model.print_trainable_parameters()

    probe = probe_factory(tok) if probe_factory else None
    history: list[dict] = []

    class Probe(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if probe and targs.eval_every and state.global_step % targs.eval_every == 0:
                m = probe(kw["model"]) | {"step": state.global_step}
                history.append(m)
                print(f"[finetune] step {state.global_step}: validation {m}", flush=True)

    ckpt_dir = out / "checkpoints"
    resume = ckpt_dir.exists() and any(ckpt_dir.glob("checkpoint-*"))
    if probe and not resume:
        m = probe(model) | {"step": 0}
        history.append(m)
        print(f"[finetune] step 0 (base model): validation {m}", flush=True)
    args = TrainingArguments(
        output_dir=str(ckpt_dir), per_device_train_batch_size=targs.batch_size,
        gradient_accumulation_steps=targs.grad_accum, learning_rate=targs.lr, num_train_epochs=targs.epochs,
        max_steps=targs.max_steps, warmup_steps=targs.warmup_ratio, lr_scheduler_type="cosine",
        logging_steps=1, save_steps=targs.save_every, save_total_limit=2, bf16=bf16,
        use_cpu=not torch.cuda.is_available(), report_to=[], seed=seed, remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    class MarqueeTrainer(Trainer):
        # Weight every example equally, not every answer token: a rank example's answer is one
        # letter, an explanation ~60 tokens, so token-averaging across the accumulated batch would
        # drown the ranking signal. Rank examples (with --rank_loss labels) are scored like serving.
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            per, out = example_losses(model, inputs, targs.rank_loss)
            loss = per.mean()
            return (loss, out) if return_outputs else loss

    trainer = MarqueeTrainer(model=model, args=args, train_dataset=encoded, data_collator=Collator(tok.pad_token_id),
                             callbacks=[Probe()])
    # with loss kwargs off, the Trainer averages per-batch losses over the accumulation steps
    trainer.model_accepts_loss_kwargs = False
    if resume:
        print(f"[finetune] resuming from the last checkpoint in {ckpt_dir}", flush=True)
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    train_s = time.time() - t0
    if not math.isfinite(result.training_loss):
        raise FinetuneError("training loss is not finite: lower --lr or use --precision fp32")
    if probe:
        final = probe(model) | {"step": trainer.state.global_step}
        history.append(final)
        print(f"[finetune] final validation {final}", flush=True)
    model.save_pretrained(str(out))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    check = verify_adapter(out, base_path, encoded[0]["input_ids"])
    merged = ""
    if targs.merge_to:
        merged_model = model.merge_and_unload()
        merged_model.save_pretrained(targs.merge_to)
        tok.save_pretrained(targs.merge_to)
        merged = targs.merge_to
    return {
        "base_model": margs.model, "base_path": str(base_path), "model_args": asdict(margs), "train_args": asdict(targs),
        "examples": len(encoded), "steps": trainer.state.global_step,
        # example passes trained (repeats counted): --max_steps may stop before one pass over `examples`
        "examples_seen": trainer.state.global_step * targs.batch_size * targs.grad_accum, "train_loss": result.training_loss,
        "losses": losses, "validation": history, "verify": check, "merged_to": merged, "bf16": bf16,
        "device": "cuda" if torch.cuda.is_available() else "cpu", "train_s": round(train_s, 1),
    }


if __name__ == "__main__":
    raise SystemExit(main())
