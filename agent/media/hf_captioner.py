"""A Hugging Face vision-language model as an image captioner, by hub id or local directory.

    cap = HFCaptioner("Salesforce/blip-image-captioning-base")              # plain captioner
    cap = HFCaptioner("HuggingFaceTB/SmolVLM-256M-Instruct", prompt="Describe this film poster in one sentence.")
    cap = HFCaptioner("florence-community/Florence-2-base", prompt="<MORE_DETAILED_CAPTION>")
    cap.describe_batch([img1, img2])    # -> [ImageText({"caption": "..."}), ...]

Loaded with `AutoProcessor` + `AutoModelForImageTextToText` (BLIP, BLIP-2, GIT, Florence-2,
SmolVLM/Idefics3, LLaVA, Qwen2-VL, PaliGemma, ...). Two prompting styles, chosen from the processor:
  * a processor with a chat template (instruction VLMs): one user turn holding the image and
    `prompt`; only the newly generated tokens are decoded;
  * otherwise (captioners): images plus an optional text prefix; the decoded output minus that prefix.
Batched (padding on the left for decoder-only models), greedy decoding, `device="auto"` picks CUDA
when torch sees a GPU (float16 there, float32 on CPU). The model is whatever the id names: no
weights ship with Marquee and none can be fetched on the offline build machines; tests run this
code on a tiny randomly initialised model built from a config, whose output is noise, not a caption.
"""

from __future__ import annotations

from agent.errors import ModelPackError
from agent.media.base import Engine, ImageCaptioner, ImageText

VERSION = "1"
DEFAULT_CHAT_PROMPT = "Describe this film poster in one sentence: the people, setting, objects and mood."


class HFCaptioner(ImageCaptioner):
    def __init__(self, model: str, *, device: str = "auto", dtype: str | None = None, prompt: str | None = None,
                 max_new_tokens: int = 60, batch_size: int = 8, revision: str | None = None,
                 trust_remote_code: bool = False):
        try:
            import torch
            import transformers
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as e:
            raise ModelPackError(f"the HF captioner needs torch and transformers ({e})") from e
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        torch_dtype = getattr(torch, dtype) if dtype else (torch.float16 if device.startswith("cuda") else torch.float32)
        kw = {"revision": revision, "trust_remote_code": trust_remote_code}
        try:
            self.processor = AutoProcessor.from_pretrained(model, **kw)
            self.model = AutoModelForImageTextToText.from_pretrained(model, dtype=torch_dtype, **kw).to(device).eval()
        except (OSError, ValueError) as e:
            raise ModelPackError(
                f"cannot load vision-language model {model!r}: {e}. Give a hub id (needs the hub) or a local "
                "directory with the processor and weights; offline, use the default `--captioner offline`."
            ) from e
        self.device, self.batch_size, self.max_new_tokens = device, batch_size, max_new_tokens
        self.chat = bool(getattr(self.processor, "chat_template", None))
        self.prompt = prompt if prompt is not None else (DEFAULT_CHAT_PROMPT if self.chat else None)
        tok = getattr(self.processor, "tokenizer", None)
        if tok is not None and not self.model.config.is_encoder_decoder:
            tok.padding_side = "left"  # decoder-only generation continues from the right end of each row
        self._torch = torch
        self.engine = Engine(
            f"hf:{model}", VERSION,
            {"transformers": transformers.__version__, "torch": torch.__version__,
             "model_class": type(self.model).__name__,
             "revision": revision or getattr(self.model.config, "_commit_hash", None) or "local"},
            {"prompt": self.prompt, "max_new_tokens": max_new_tokens, "dtype": str(torch_dtype).removeprefix("torch.")},
        )

    def _inputs(self, images: list):
        if self.chat:
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.prompt}]}]
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
            return self.processor(text=[text] * len(images), images=[[im] for im in images], return_tensors="pt",
                                  padding=True)
        if self.prompt:
            return self.processor(images=images, text=[self.prompt] * len(images), return_tensors="pt", padding=True)
        return self.processor(images=images, return_tensors="pt")

    def describe_batch(self, images: list) -> list[ImageText]:
        if not images:
            return []
        inputs = self._inputs(images).to(self.device)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        with self._torch.inference_mode():
            generated = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        if self.chat and "input_ids" in inputs:  # decoder-only: the prompt is echoed; keep the new tokens
            generated = generated[:, inputs["input_ids"].shape[1]:]
        texts = self.processor.batch_decode(generated, skip_special_tokens=True)
        out = []
        for t in texts:
            t = " ".join(t.split())
            if self.prompt and not self.chat and t.lower().startswith(self.prompt.lower()):
                t = t[len(self.prompt):].strip()
            out.append(ImageText({"caption": t} if t else {}, {"model": self.engine.name}))
        return out
