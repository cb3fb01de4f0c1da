"""The loose claim checker: used for LLM-written viewer profiles (agent/profile_text) and by the
evals' legacy claim counts (evals/explain.claim_support). Film explanations are checked by the
strict verifier in agent/explain/verify.py instead, against the film's evidence.

The allowed facts for item X are X's own data (title, year, genres, overview, tagline, tags,
keywords, media text), the titles/genres/years of the user's history, and the user's request.
`check()` flags the claims it can test:
  * years        a 4-digit year or decade that is neither X's nor a history film's
  * titles       a catalog title other than X or the user's films
  * genres       a genre word X does not have (unless the history or request has it)
  * sequels      "sequel/prequel/remake/trilogy" not supported by X's text
  * names        capitalised multi-word names found in none of the allowed text
  * empty        no fact of X at all (bare title, generic praise)
Blind spots: paraphrased plot claims, sentiment ("tense"), single-word names, negations: why
explanations moved to the strict verifier, which needs evidence for every content word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.titles import TitleIndex, normalise
from agent.types import Item

GENRE_WORDS = {
    "action": "Action", "adventure": "Adventure", "animation": "Animation", "animated": "Animation",
    "children": "Children", "comedy": "Comedy", "comedic": "Comedy", "crime": "Crime",
    "documentary": "Documentary", "drama": "Drama", "fantasy": "Fantasy", "film-noir": "Film-Noir",
    "noir": "Film-Noir", "horror": "Horror", "musical": "Musical", "mystery": "Mystery",
    "romance": "Romance", "romantic": "Romance", "sci-fi": "Sci-Fi", "science fiction": "Sci-Fi",
    "thriller": "Thriller", "war": "War", "western": "Western", "imax": "IMAX",
}
_SEQUEL = re.compile(r"\b(sequel|prequel|remake|trilogy|reboot|spin-?off)\b", re.I)
_ECHO = re.compile(r"viewer's request|recommended film:|candidates:|answer with", re.I)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)(s?)\b")
_NAME = re.compile(r"\b([A-Z][a-z]+(?:\s+(?:[A-Z][a-z]+|[A-Z]\.)){1,2})\b")
_STOP = frozenset("""about after again against also among because been before being between both
could during each from have having into itself more most other over same should some such than
that their them then there these they this those through under until very what when where which
while with would your film films movie story""".split())


@dataclass(frozen=True)
class Facts:
    item: Item
    history: tuple[Item, ...]
    request: str = ""

    @property
    def text(self) -> str:
        it = self.item
        media = " ".join(t for _, t in it.media_text)
        return " ".join([it.title, it.overview, it.tagline, " ".join(it.tags), " ".join(it.keywords), media])


def _word_in(word: str, text: str) -> bool:
    return re.search(r"\b" + re.escape(word) + r"\b", text, re.I) is not None


def check(explanation: str, facts: Facts, titles: TitleIndex | None = None) -> list[str]:
    """Problems found in `explanation` (empty list = passes). Each is 'kind:detail'."""
    problems: list[str] = []
    item, text = facts.item, facts.text
    hist_titles = " ".join(h.title for h in facts.history)
    allowed_text = " ".join([text, hist_titles, facts.request, " ".join(g for h in facts.history for g in h.genres)])
    if len(explanation.strip()) < 15:
        problems.append("empty:too short")
    years = {item.year} | {h.year for h in facts.history}
    for m in _YEAR.finditer(explanation):
        y = int(m.group(1))
        ok = y in years if not m.group(2) else any(v and v // 10 * 10 == y for v in years)
        if not ok and not _word_in(m.group(0), text + " " + facts.request):
            problems.append(f"year:{m.group(0)}")
    if titles is not None:
        allowed_ids = {item.item_id} | {h.item_id for h in facts.history}
        for match in titles.find(explanation):
            if match.item.item_id in allowed_ids or _YEAR.fullmatch(re.sub(r"^(?i:the|an?)\s+", "", match.text)):
                continue  # a bare year ("a 2012 comedy") is checked as a year, not as the film "2012"
            same_name = any(normalise(match.text) == normalise(x.title) for x in (item, *facts.history))
            if not same_name and not _word_in(match.text, allowed_text):
                problems.append(f"title:{match.text}")
    own = {g.lower() for g in item.genres}
    other_ok = {g.lower() for h in facts.history for g in h.genres}
    low = explanation.lower()
    for word, genre in GENRE_WORDS.items():
        if _word_in(word, low) and genre.lower() not in own and genre.lower() not in other_ok:
            if not _word_in(word, text + " " + facts.request):
                problems.append(f"genre:{word}")
    for m in _SEQUEL.finditer(explanation):
        if not _word_in(m.group(1), text):
            problems.append(f"sequel:{m.group(1)}")
    labels = " ".join([item.label, *(h.label for h in facts.history)])
    for m in _NAME.finditer(explanation):
        name = re.sub(r"^(The|A|An)\s+", "", m.group(1))
        words = name.split()
        if words[0].lower() in _STOP or all(w.lower() in GENRE_WORDS for w in words):
            continue
        if not _word_in(name, allowed_text) and not _word_in(name, labels):
            problems.append(f"name:{name}")
    if not _mentions_fact(explanation, facts):
        problems.append("empty:no fact of the item")
    words = re.findall(r"[a-z0-9']+", explanation.lower())
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    if len(grams) != len(set(grams)):
        problems.append("repetitive:a phrase repeats")
    if _ECHO.search(explanation):
        problems.append("echo:repeats the prompt's scaffolding")
    return problems


def _mentions_fact(explanation: str, facts: Facts) -> bool:
    it = facts.item
    low = explanation.lower()
    if it.year and str(it.year) in explanation:
        return True
    if any(_word_in(g, low) for g in it.genres) or any(
        _word_in(w, low) for w, g in GENRE_WORDS.items() if g in it.genres
    ):
        return True
    if any(_word_in(t, low) for t in (*it.tags, *it.keywords) if len(t) > 3):
        return True
    content = {w for w in re.findall(r"[a-z]{5,}", (it.overview + " " + it.tagline).lower()) if w not in _STOP}
    return len(content & set(re.findall(r"[a-z]{5,}", low))) >= 1


def tidy(explanation: str, max_chars: int) -> str:
    """Collapse whitespace; a text cut off at the length cap ends at its last full sentence.

    >>> tidy("It is a heist film. It has a long chase and", 40)
    'It is a heist film.'
    >>> tidy("Short and complete.", 40)
    'Short and complete.'
    """
    text = " ".join(explanation.split())[:max_chars]
    if text.endswith((".", "!", "?", ".\"", "…")):
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    if cut >= 15:
        return text[: cut + 1]
    return text.rstrip(" ,;:") + "…"
