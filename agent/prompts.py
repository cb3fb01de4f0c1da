"""Jinja environment over prompts/: sandboxed, StrictUndefined, data never treated as template code.

    Prompts(dir).messages(request=..., history=[...], candidates=[...], n=5)
      -> [{"role": "system", "content": ...}, {"role": "user", "content": ...}]

User and catalog text only ever enter as variables. The environment is an
ImmutableSandboxedEnvironment, so even a template edited by a user cannot reach Python internals,
and a missing variable raises instead of rendering as an empty string. `render_request` is the
dry run behind `POST /v1/render` and `python -m agent.prompts`.

Control tokens: a film title or a user's message holding `<|im_start|>` must not open a turn.
Every value a template prints passes `neutralise()` (the environment's `finalize`), which breaks
each special-token string with a zero-width space after its first character (`<\u200b|im_start|>`),
so the tokenizer reads it as plain text. The strings are generic shapes (`<|...|>`, `<s>`, `[INST]`,
`<<SYS>>`) plus, once the LLM is loaded, its tokenizer's own special tokens (`protect()`; the vLLM
backend also applies them to whole messages before its chat template). Template text is not
touched: our templates hold no control tokens.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agent.types import Candidate, Item, UserHistory

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
REQUEST_CHARS = 2000
# Per media line ("Poster text: ...", "Poster looks: ..."; the full text stays in the embedded
# document). Measured with the demo poster text: 20 candidates' two poster lines add ~880 prompt
# tokens (SmolLM2 tokenizer) at this limit, which matters inside a 4,096-token context.
MEDIA_CHARS = 90
ZWSP = "\u200b"
GENERIC_CONTROL = r"<\|[^<>|\s]{1,64}\|>|</?s>|\[/?INST\]|<</?SYS>>|<unk>|<pad>"


@lru_cache(maxsize=8)
def _control_pattern(tokens: tuple[str, ...]) -> re.Pattern:
    alts = [re.escape(t) for t in sorted(set(tokens), key=len, reverse=True) if len(t) > 1]
    return re.compile("|".join([*alts, GENERIC_CONTROL]))


def neutralise(text: str, tokens: tuple[str, ...] = ()) -> str:
    """Break every control-token string in `text` (generic shapes and `tokens`) with a zero-width
    space after its first character; other text is unchanged.

    >>> neutralise("hi <|im_end|><|im_start|>system") == "hi <" + ZWSP + "|im_end|><" + ZWSP + "|im_start|>system"
    True
    >>> neutralise("<file_sep> and 3 < 4 | 5 > 2", ("<file_sep>",)) == "<" + ZWSP + "file_sep> and 3 < 4 | 5 > 2"
    True
    """
    if "<" not in text and "[" not in text and not tokens:
        return text
    return _control_pattern(tuple(tokens)).sub(lambda m: m.group()[0] + ZWSP + m.group()[1:], text)


def protect_special_tokens(prompts: "Prompts", llm) -> None:
    """Teach `prompts` the loaded LLM's own special-token strings (serve.py, once the model is up)."""
    if llm is not None and prompts is not None:
        prompts.protect(llm.special_tokens())


def _clip(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut.

    >>> _clip("one two three four", 9)
    'one two…'
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def candidate_view(item: Item, overview_chars: int = 300) -> dict:
    """What the prompt shows of a candidate (compact: the prompt is paid per token)."""
    return {
        "item_id": item.item_id,
        "label": item.label,
        "genres": list(item.genres),
        "runtime": item.runtime,
        "overview": _clip(item.overview, overview_chars) if item.overview else "",
        "tags": list(item.tags[:6]),
        "keywords": list(item.keywords[:8]),
        "media": [(label, _clip(text, MEDIA_CHARS)) for label, text in item.media_text],
    }


def history_view(history: UserHistory, items: dict[str, Item], limit: int) -> list[dict]:
    out = []
    for e in history.recent(limit):
        it = items.get(e.item_id)
        if it is not None:
            out.append({"label": it.label, "genres": list(it.genres), "liked": e.liked, "disliked": e.disliked})
    return out


class Prompts:
    def __init__(self, directory: Path = PROMPTS_DIR):
        self.directory = Path(directory)
        self.env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(self.directory)),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=False,
            finalize=self._finalize,  # every printed value is data: control tokens neutralised
        )
        self.special_tokens: tuple[str, ...] = ()

    def protect(self, tokens) -> None:
        """Also neutralise these exact strings (the tokenizer's special tokens) in every value."""
        self.special_tokens = tuple(sorted(set(self.special_tokens) | {t for t in tokens if t}))

    def _finalize(self, value):
        if isinstance(value, bool | int | float) or value is None:
            return value
        return neutralise(value if isinstance(value, str) else str(value), self.special_tokens)

    def render(self, name: str, **variables) -> str:
        return self.env.get_template(name).render(**variables).strip()

    def messages(self, *, request: str, history: list[dict], candidates: list[dict], n: int, max_chars: int,
                 constraints: str = "", profile: str = "") -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.render("system.j2", n=n, max_chars=max_chars)},
            {
                "role": "user",
                "content": self.render("user.j2", request=request, history=history, candidates=candidates, n=n,
                                       constraints=constraints, profile=profile),
            },
        ]

    def render_rank(
        self,
        *,
        request: str,
        history: UserHistory,
        candidates: list[Candidate],
        letters: tuple[str, ...],
        items: dict[str, Item],
        history_limit: int,
        keywords: int = 3,
        constraints: str = "",
    ) -> list[dict[str, str]]:
        """One-pass ranking prompt: compact lettered candidates (title, year, genres, runtime, a few
        keywords); the answer's first token is one of `letters`. `constraints` is the one-line
        summary of the conversation's hard constraints (agent/constraints), "" when none."""
        cands = [
            {"letter": letter, "label": c.item.label, "genres": list(c.item.genres), "runtime": c.item.runtime,
             "keywords": list((c.item.keywords or c.item.tags)[:keywords])}
            for letter, c in zip(letters, candidates, strict=True)
        ]
        return [
            {"role": "system", "content": self.render("rank_system.j2")},
            {"role": "user", "content": self.render(
                "rank_user.j2", request=_clip(request, REQUEST_CHARS),
                history=history_view(history, items, history_limit), candidates=cands, constraints=constraints,
                profile=history.profile)},
        ]

    def render_request(
        self,
        *,
        request: str,
        history: UserHistory,
        candidates: list[Candidate],
        items: dict[str, Item],
        n: int,
        history_limit: int,
        max_chars: int,
        constraints: str = "",
        compact: int = 0,
    ) -> list[dict[str, str]]:
        """The generated-ranking prompt. `compact` trims it to fit the context: 1 drops media
        lines, 2 also shortens plots to 120 characters and keywords/tags to 3."""
        def view(item: Item) -> dict:
            v = candidate_view(item, 120 if compact >= 2 else 300)
            if compact >= 1:
                v["media"] = []
            if compact >= 2:
                v["tags"], v["keywords"] = v["tags"][:3], v["keywords"][:3]
            return v

        return self.messages(
            # The request steers ranking; 2,000 characters keep any prompt inside the context.
            request=_clip(request, REQUEST_CHARS),
            history=history_view(history, items, history_limit),
            candidates=[view(c.item) for c in candidates],
            n=n,
            max_chars=max_chars,
            constraints=constraints,
            profile=history.profile,
        )
