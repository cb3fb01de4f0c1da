"""finetune/: training examples rendered with the serving prompts, no leakage, grounded targets;
the real LoRA trainer on the 135M pack for a few steps (integration)."""

from __future__ import annotations

import json

import pytest

from agent.explain import verify
from agent.grounding import Facts, check
from agent.ranking import LABELS
from agent.types import Candidate, HistoryEntry, UserHistory
from evals.data import Split
from finetune.data import DataArgs, build_examples, explanation_target, read_jsonl, write_jsonl


@pytest.fixture
def split():
    # per user: training part, then the validation and test items (never in a training example)
    train = {"a": ["1", "2", "3", "4"], "b": ["2", "5", "1", "6"], "c": ["4", "1", "6", "3"]}
    return Split(train, {"a": "5", "b": "3", "c": "2"}, {"a": "6", "b": "4", "c": "5"},
                 ["1", "2", "3", "4", "5", "6"], "x")


def test_rank_examples_use_the_serving_prompt_and_never_leak(make_recommender, split):
    rec = make_recommender()
    args = DataArgs(positions_per_user=3, k_candidates=4, missing_target="insert", explain_share=0.0)
    exs = build_examples(rec, split, args)
    assert exs and all(e.kind == "rank" for e in exs)
    for e in exs:
        seq = split.train[e.user]
        pos = seq.index(e.target)
        assert pos >= 1  # a target always has history before it
        assert e.target != split.val[e.user] and e.target != split.test[e.user]
        # the answer is the target's letter in the order shown
        assert e.candidates[LABELS.index(e.answer)] == e.target
        assert not set(e.candidates) & set(seq[:pos])  # seen items are never candidates
        history = UserHistory(e.user, tuple(HistoryEntry(i, liked=True) for i in seq[:pos]))
        # identical to what the server renders for these candidates in this order
        from agent.types import Candidate

        cands = [Candidate(rec.items[i], 0.0) for i in e.candidates]
        assert e.messages == rec.rank_prompt(args.request, history, cands)


def test_skip_keeps_only_retrieved_targets_and_shuffle_moves_them(make_recommender, split):
    rec = make_recommender()
    exs = build_examples(rec, split, DataArgs(positions_per_user=3, k_candidates=3, missing_target="skip",
                                              explain_share=0.0, seed=1))
    for e in exs:
        assert e.target in e.candidates and len(e.candidates) <= 3
    many = build_examples(rec, split, DataArgs(positions_per_user=3, k_candidates=4, missing_target="insert",
                                               explain_share=0.0, seed=3))
    assert len({e.answer for e in many}) > 1  # the target is not always "A"


def test_rank_examples_record_each_candidates_retrieval_rank(make_recommender, split):
    rec = make_recommender()
    args = DataArgs(positions_per_user=3, k_candidates=4, missing_target="insert", explain_share=0.0, seed=2)
    for e in build_examples(rec, split, args):
        assert sorted(e.ranks) == list(range(1, len(e.candidates) + 1))
        seq = split.train[e.user]
        history = UserHistory(e.user, tuple(HistoryEntry(i, liked=True) for i in seq[: seq.index(e.target)]))
        retrieved = [c.item.item_id for c in rec.retriever.retrieve(rec.search_text(args.request), history, 4)]
        for iid, r in zip(e.candidates, e.ranks):
            # the retriever's own order, or the last slot for an inserted target
            assert (retrieved.index(iid) + 1 == r) if iid in retrieved[: 4 - (e.target not in retrieved)] else (r == 4)


def test_label_choice_loss_is_cross_entropy_over_the_shown_letters():
    torch = pytest.importorskip("torch")
    from finetune.train import label_choice_loss, lm_loss

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 11, generator=g)
    labels = torch.tensor([[-100, -100, -100, 7, 2], [-100, -100, 4, 2, -100]])  # answer starts at 3 / 2
    choice = torch.tensor([[4, 7, 9], [3, 4, 0]])
    offsets = torch.tensor([[0.0, -1.0, -2.0], [0.0, 0.0, float("-inf")]])  # row 2 shows two letters
    target = torch.tensor([1, 0])
    got = label_choice_loss(logits, labels, choice, offsets, target)
    lp0 = torch.log_softmax(logits[0, 2], -1)
    s0 = torch.stack([lp0[4], lp0[7] - 1.0, lp0[9] - 2.0])
    lp1 = torch.log_softmax(logits[1, 1], -1)
    s1 = torch.stack([lp1[3], lp1[4]])
    want = torch.stack([-torch.log_softmax(s0, 0)[1], -torch.log_softmax(s1, 0)[0]])
    assert torch.allclose(got, want, atol=1e-5)
    # a stronger prior on the right letter lowers its loss; the plain LM loss ignores choices
    assert label_choice_loss(logits, labels, choice, offsets + torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]), target)[0] < got[0]
    lm = lm_loss(logits, labels)
    want_lm0 = -(torch.log_softmax(logits[0, 2], -1)[7] + torch.log_softmax(logits[0, 3], -1)[2]) / 2
    assert torch.allclose(lm[0], want_lm0, atol=1e-5)


def test_explanation_targets_are_grounded(make_recommender, split, tmp_path):
    rec = make_recommender()
    exs = build_examples(rec, split, DataArgs(positions_per_user=3, k_candidates=4, missing_target="insert",
                                              explain_share=1.0))
    explains = [e for e in exs if e.kind == "explain"]
    assert explains
    for e in explains:
        item = rec.items[e.target]
        seq = split.train[e.user]
        hist = tuple(rec.items[i] for i in seq[: seq.index(e.target)])
        assert check(e.answer, Facts(item, hist, ""), rec.titles) == [], e.answer
        ev = rec.evidence_builder().build(Candidate(item, 0.0), UserHistory(e.user, tuple(
            HistoryEntry(i, liked=True) for i in seq[: seq.index(e.target)])), DataArgs().request)
        assert verify(e.answer, ev, rec.titles) == [], e.answer  # the strict verifier passes every target
        assert e.messages == rec.explain_prompt(DataArgs().request, UserHistory(e.user, tuple(
            HistoryEntry(i, liked=True) for i in seq[: seq.index(e.target)])), item)
    # round trip through the JSONL file the trainer reads
    sha = write_jsonl(exs, tmp_path / "train.jsonl")
    assert len(sha) == 64 and read_jsonl(tmp_path / "train.jsonl") == exs


def test_explanation_target_names_shared_features(make_recommender):
    rec = make_recommender()
    aliens, alien = rec.items["3"], rec.items["1"]
    text = explanation_target(aliens, [alien], rec)
    assert text.startswith("Aliens (1986) shares aliens with Alien (1979), which you liked.")
    lone = explanation_target(rec.items["4"], [], rec)
    assert lone == "Toy Story (1995) is a 1995 animation, children's and comedy film. Toys come to life when their owner is away."


def test_qlora_without_cuda_is_a_clear_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present: QLoRA can run here")
    from finetune.train import FinetuneError, ModelArgs, load_base

    with pytest.raises(FinetuneError, match="CUDA"):
        load_base(ModelArgs(model="unused", quantize="4bit"))


@pytest.mark.integration
def test_tiny_lora_run_on_the_135m_pack(make_recommender, split, tmp_path):
    """A few real optimizer steps: the loss goes down, the saved adapter is non-empty, reloads,
    and changes the logits (verify_adapter raises otherwise)."""
    from agent.errors import ModelPackError
    from agent.modelpack import verify

    try:
        verify("smollm2-135m")
    except ModelPackError as e:
        pytest.skip(str(e))
    from finetune.train import ModelArgs, TrainArgs, train_adapter

    rec = make_recommender()
    exs = build_examples(rec, split, DataArgs(positions_per_user=3, k_candidates=4, missing_target="insert",
                                              explain_share=0.5))[:4]
    out = tmp_path / "adapter"
    record = train_adapter(ModelArgs(model="pack:smollm2-135m", lora_r=8),
                           TrainArgs(out=str(out), max_steps=6, lr=2e-3, grad_accum=1, eval_every=0,
                                     save_every=100, warmup_ratio=0.0, rank_loss="labels", train_prior_weight=1.0),
                           exs)
    losses = record["losses"]
    assert len(losses) == 6 and min(losses[-2:]) < losses[0]
    assert record["examples"] == 4 and record["examples_seen"] == 6
    assert record["verify"]["lora_B_abs_sum"] > 0 and record["verify"]["max_logit_diff"] > 1e-4
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 8 and (out / "adapter_model.safetensors").stat().st_size > 100_000

    # merged into one plain model: provenance travels with it and the evals call it fine-tuned
    from evals.run import is_finetuned
    from finetune.merge import merge

    merged = merge(out, tmp_path / "merged", "pack:smollm2-135m")
    assert (merged / "config.json").exists() and (merged / "model.safetensors").stat().st_size > 100_000_000
    prov = json.loads((merged / "marquee_train.json").read_text())
    assert prov["merged_from"] == str(out) and prov["base_model"] == "pack:smollm2-135m"
    assert is_finetuned(str(merged)) and not is_finetuned(str(out.parent)) and not is_finetuned(None)


def _tiny_llama(layers: int = 4):
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).eval()


def test_example_losses_on_trimmed_logits_equal_the_full_computation():
    """example_losses computes the vocabulary logits only from the earliest answer position on;
    a mixed, right-padded batch (a rank example and an explanation) gets exactly the losses of the
    full-length logits."""
    torch = pytest.importorskip("torch")
    from finetune.train import Collator, example_losses, label_choice_loss, lm_loss

    model = _tiny_llama()
    rank = {"input_ids": [5, 6, 7, 8, 9, 10, 11, 12, 30, 2], "labels": [-100] * 8 + [30, 2],
            "choice_ids": [30, 31, 32], "choice_offsets": [0.0, -0.7, -1.1], "choice_target": 0}
    expl = {"input_ids": [5, 6, 7, 13, 14, 15, 16, 2], "labels": [-100] * 4 + [14, 15, 16, 2],
            "choice_ids": [], "choice_offsets": [], "choice_target": -1}
    batch = Collator(pad_id=0)([rank, expl])
    with torch.no_grad():
        got, out = example_losses(model, batch, "labels")
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert out.logits.shape[1] == 10 - 3  # from the earliest last-prompt token (index 3) on
    want_rank = label_choice_loss(full, batch["labels"], batch["choice_ids"], batch["choice_offsets"],
                                  batch["choice_target"].clamp(min=0))[0]
    want_expl = lm_loss(full, batch["labels"])[1]
    assert torch.allclose(got, torch.stack([want_rank, want_expl]), atol=1e-5)


def test_lora_layers_adapts_only_the_top_layers():
    pytest.importorskip("peft")
    from peft import get_peft_model

    from finetune.train import ModelArgs, lora_config, top_layers

    model = _tiny_llama(layers=4)
    assert top_layers(model, 0) is None and top_layers(model, 4) is None and top_layers(model, 9) is None
    assert top_layers(model, 2) == [2, 3]
    peft_model = get_peft_model(model, lora_config(ModelArgs(lora_r=2, target_modules="q_proj, down_proj", lora_layers=2), model))
    adapted = {n.split(".layers.")[1].split(".")[0] for n, _ in peft_model.named_parameters() if "lora_A" in n}
    assert adapted == {"2", "3"}


def test_positions_split_keeps_every_training_target_out_of_the_retrievers_fit(split):
    from finetune.data import positions_split

    fit = positions_split(split, 2)
    assert fit.train == {"a": ["1", "2"], "b": ["2", "5"], "c": ["4", "1"]}
    assert fit.val == split.val and fit.test == split.test and split.train["a"] == ["1", "2", "3", "4"]
    for u, seq in split.train.items():
        targets = seq[len(seq) - 2:]  # build_examples' positions with positions_per_user=2
        assert not set(targets) & set(fit.fit_sequences("val")[u])
        assert fit.fit_sequences("val")[u] == seq[: len(seq) - 2]
    assert positions_split(split, 9).train == {"a": [], "b": [], "c": []}


def test_encode_puts_a_prefix_in_the_prompt_without_loss():
    """A frames example's opener is written by code in serving: its tokens follow the generation
    prompt (as vllm_engine sends them) and carry no loss; the loss is on the clause and the end."""
    from finetune.data import Example
    from finetune.train import encode

    class Tok:
        eos_token_id = 0

        def apply_chat_template(self, messages, add_generation_prompt, tokenize):
            return [1, 2, 3]

        def encode(self, text, add_special_tokens=False):
            return [100 + len(w) for w in text.split()]

    ex = Example("explain", "u", "5", [{"role": "user", "content": "x"}], " because both are crime films.",
                 prefix="You may enjoy Ronin (1998)")
    got = encode(Tok(), ex)
    prefix, clause = Tok().encode(ex.prefix), Tok().encode(ex.answer)
    assert got["input_ids"] == [1, 2, 3, *prefix, *clause, 0]
    assert got["labels"] == [-100] * (3 + len(prefix)) + [*clause, 0]
    plain = encode(Tok(), Example("explain", "u", "5", ex.messages, ex.prefix + ex.answer))
    assert plain["labels"][3:] == plain["input_ids"][3:]  # no prefix: the whole answer is the target
