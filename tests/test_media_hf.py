"""agent/media/hf_captioner.py on tiny *randomly initialised* models built from configs.

No captioning weights can be had offline, so these check the code path (load by directory with the
Auto classes, both prompting styles, batching, decoding, provenance), never caption quality: the
words these models emit are noise and are never shown as captions anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from agent.media.cache import MediaCache  # noqa: E402
from agent.media.hf_captioner import HFCaptioner  # noqa: E402
from agent.media.run import TaskSpec, discover, run  # noqa: E402

WORDS = ["a", "poster", "of", "the", "red", "blue", "man", "film", "dark", "with", "and", "describe", "this", ":",
         "user", "assistant"]


def tiny_blip(d: Path) -> Path:
    """BLIP (vision encoder + text decoder, no chat template): the plain captioner path."""
    from transformers import (BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor,
                              BlipProcessor)

    vocab = d / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]))
    tok = BertTokenizerFast(vocab_file=str(vocab), model_max_length=32)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    proc = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tok)
    cfg = BlipConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=64, bos_token_id=tok.bos_token_id,
                         pad_token_id=tok.pad_token_id, sep_token_id=tok.sep_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8),
        projection_dim=32,
    )
    torch.manual_seed(0)
    out = d / "tiny-blip"
    BlipForConditionalGeneration(cfg).save_pretrained(out)
    proc.save_pretrained(out)
    return out


def tiny_llava(d: Path) -> Path:
    """LLaVA (CLIP vision tower + Llama) with a chat template: the instruction-VLM path."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)

    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "<s>", "</s>", "<image>", *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                  eos_token="</s>", extra_special_tokens={"image_token": "<image>"})
    template = ("{% for m in messages %}{{ m['role'] }} : {% for c in m['content'] %}{% if c['type'] == 'image' %}"
                "<image> {% else %}{{ c['text'] }} {% endif %}{% endfor %}{% endfor %}"
                "{% if add_generation_prompt %}assistant : {% endif %}")
    proc = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}),
                          tokenizer=tok, patch_size=8, vision_feature_select_strategy="default", chat_template=template,
                          num_additional_image_tokens=1)
    cfg = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       image_size=16, patch_size=8, projection_dim=16),
        text_config=LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                                pad_token_id=1, bos_token_id=2, eos_token_id=3),
        image_token_index=4, vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    out = d / "tiny-llava"
    LlavaForConditionalGeneration(cfg).save_pretrained(out)
    proc.save_pretrained(out)
    return out


@pytest.fixture(scope="module", params=["blip", "llava"])
def tiny_model(request, tmp_path_factory) -> tuple[str, Path]:
    d = tmp_path_factory.mktemp(request.param)
    return request.param, (tiny_blip if request.param == "blip" else tiny_llava)(d)


IMAGES = [Image.new("RGB", (40, 60), (200, 10, 10)), Image.new("RGB", (50, 50), (10, 10, 200)),
          Image.new("RGB", (30, 90), (240, 240, 240))]


def test_loads_by_directory_and_records_provenance(tiny_model):
    kind, path = tiny_model
    cap = HFCaptioner(str(path), device="cpu", max_new_tokens=4)
    assert cap.chat == (kind == "llava")
    assert cap.engine.name == f"hf:{path}"
    assert cap.engine.components["model_class"] in ("BlipForConditionalGeneration", "LlavaForConditionalGeneration")
    assert cap.engine.params["prompt"] == (None if kind == "blip" else cap.prompt) and cap.engine.params["dtype"] == "float32"


def test_batch_equals_one_by_one(tiny_model):
    _, path = tiny_model
    cap = HFCaptioner(str(path), device="cpu", max_new_tokens=4, prompt=None if tiny_model[0] == "blip" else "describe this poster")
    batched = cap.describe_batch(IMAGES)
    assert len(batched) == 3 and all(set(r.texts) <= {"caption"} for r in batched)
    assert [r.texts for r in batched] == [cap.describe(im).texts for im in IMAGES]  # padding does not leak


def test_prompt_prefix_is_stripped_for_plain_captioners(tiny_model):
    kind, path = tiny_model
    if kind != "blip":
        pytest.skip("prefix prompts are for plain captioners")
    cap = HFCaptioner(str(path), device="cpu", max_new_tokens=4, prompt="a poster of")
    for r in cap.describe_batch(IMAGES[:2]):
        assert not r.texts.get("caption", "").startswith("a poster of")


def test_poster_run_with_hf_captioner(tiny_model, tmp_path):
    _, path = tiny_model
    folder = tmp_path / "posters"
    folder.mkdir()
    for i, im in enumerate(IMAGES, start=1):
        im.save(folder / f"{i}.png")
    (folder / "4.png").write_bytes(b"")
    with MediaCache(tmp_path / "c.sqlite") as cache:
        report = run(discover(folder, "poster"), TaskSpec("poster", captioner=f"hf:{path}", device="cpu"),
                     cache=cache, out=tmp_path / "o.jsonl", progress=False)
    recs = [json.loads(l) for l in (tmp_path / "o.jsonl").open()]
    assert report.derived == 4 and report.errors == 1 and recs[3]["error"]["type"] == "EmptyMedia"
    assert all(set(r["texts"]) <= {"Poster shows"} for r in recs) and recs[0]["engine"]["name"] == f"hf:{path}"


def test_missing_model_is_an_actionable_error(tmp_path):
    from agent.errors import ModelPackError

    with pytest.raises(ModelPackError, match="cannot load vision-language model"):
        HFCaptioner(str(tmp_path / "no-such-model"), device="cpu")
