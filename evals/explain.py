"""Explanation-quality metrics: pure functions of explanation texts and the films they explain.

    explanation_report(records, items, histories=None, references=None) -> {"usr": 0.93, "fmr": 0.41, ...}

    records     [{"user": "42", "item_id": "2", "explanation": "A 1995 crime film ...", "source": "llm"}, ...]
    items       item_id -> Item (the whole catalog: it is also the feature vocabulary and the title index)
    histories   user -> the user's history (a UserHistory or a list of item ids), for grounding
    references  (user, item_id) -> [reference text, ...], e.g. from load_references(path)

Four families, each computed over all records and, when sources are mixed, again over the
LLM-written ones (keys prefixed `llm_`):

  * features (PETER/PEPLER, Li et al. 2021, 2023). A feature of a film is a lower-cased phrase
    from its genres, user tags, TMDB keywords, or a content word of its media text (poster text,
    captions). A feature is mentioned when its words appear as consecutive whole words.
    USR unique sentence ratio, DIV mean features shared per pair of explanations (lower is
    better), FCR distinct features used / feature vocabulary, FMR share of explanations that
    mention a feature of their own film.
  * groundedness, by the old grounding checker `agent.grounding.check` (see `claim_support`), and the
    share of explanations naming a catalog film that is neither the film nor in the history
    (nor quoted from the film's own data, see `hallucinated_titles`).
  * unsupported words, by a check that shares no code with the serving verifier
    (agent/explain/verify): content words of the explanation found nowhere in the film's entry,
    the request or the history (`unsupported_words`, own tokenizer and stoplist), as a rate over
    content words and a share of texts; repetition and third-person ("the viewer") shares.
  * reference overlap when references are given: corpus BLEU-1/4 (sacrebleu) and ROUGE-1/2/L F1
    (rouge-score), optional extra `evals`.
  * length and diversity: characters and words (mean, median, p95), distinct-1/2, and the share
    of explanations whose template skeleton (film-specific words masked) another one shares.

Left out: LLM-as-judge scores (`evals/judge.py`, needs a server), feature synonyms ("animated"
does not mention the feature "animation"; exact phrases only, as in PETER), and BERTScore.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from agent.grounding import GENRE_WORDS, Facts, check
from agent.titles import TitleIndex, normalise
from agent.types import Item, UserHistory

_TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_MEDIA_STOP = frozenset("""about above after again against along also among around away back been before
behind being below between both from front have having here into just like more most near next only
other over same some such than that their them then there these they this those through under very
what when where which while with within without your image photo picture poster shows showing""".split())
_NO_GENRE = "(no genres listed)"  # MovieLens' placeholder genre
_NO_FACTS = Item(item_id="\x00no-facts", title="")  # a film that supports no claim, see claim_support


def tokens(text: str) -> list[str]:
    """Lower-cased words; hyphens and apostrophes stay inside a word.

    >>> tokens("A sci-fi/horror film, Ripley's war.")
    ['a', 'sci-fi', 'horror', 'film', "ripley's", 'war']
    """
    return _TOKEN.findall(text.lower())


def _phrase(text: str) -> str:
    return " ".join(tokens(text))


# --- features (PETER / PEPLER) -------------------------------------------------------------------

def item_features(item: Item) -> set[str]:
    """Lower-cased feature phrases of one film: genres, tags, keywords, media-text content words.
    Media words are alphabetic, 4+ letters, not stop words and not words of the film's title
    (poster text mostly repeats the title, which is a name, not a feature).

    >>> sorted(item_features(Item("2", "Heat", genres=("Crime",), tags=("heist",), keywords=("bank robbery",),
    ...                           media_text=(("Poster text", "HEAT: a Los Angeles crime saga"),))))
    ['angeles', 'bank robbery', 'crime', 'heist', 'saga']
    """
    feats = {_phrase(g) for g in item.genres if g.lower() != _NO_GENRE}
    feats |= {_phrase(t) for t in (*item.tags, *item.keywords)}
    title = set(tokens(item.title))
    for _, text in item.media_text:
        feats |= {w for w in tokens(text) if w.isalpha() and len(w) >= 4 and w not in _MEDIA_STOP and w not in title}
    feats.discard("")
    return feats


def feature_vocabulary(items: Iterable[Item]) -> set[str]:
    """Every feature of every film (the FCR denominator).

    >>> sorted(feature_vocabulary([Item("1", "A", genres=("Crime",)), Item("2", "B", tags=("heist", "crime"))]))
    ['crime', 'heist']
    """
    vocab: set[str] = set()
    for it in items:
        vocab |= item_features(it)
    return vocab


def mentioned_features(text: str, features: set[str], max_words: int | None = None) -> set[str]:
    """The features whose words appear consecutively, as whole words, in `text`.
    `max_words` (longest feature, in words) may be passed to skip recomputing it per call.

    >>> sorted(mentioned_features("A bank robbery in a crime-ridden city", {"bank robbery", "crime", "city"}))
    ['bank robbery', 'city']
    """
    words = tokens(text)
    if max_words is None:
        max_words = max((f.count(" ") + 1 for f in features), default=0)
    found = set()
    for n in range(1, max_words + 1):
        for i in range(len(words) - n + 1):
            gram = " ".join(words[i : i + n])
            if gram in features:
                found.add(gram)
    return found


def usr(explanations: Sequence[str]) -> float:
    """Unique sentence ratio: distinct explanations / all (compared as lower-cased words). Range
    [0, 1], higher is better; 0.0 for no explanations.

    >>> usr(["A crime film.", "a CRIME film", "A heist."])
    0.6666666666666666
    """
    if not explanations:
        return 0.0
    return len({tuple(tokens(e)) for e in explanations}) / len(explanations)


def div(feature_sets: Sequence[set[str]]) -> float:
    """Feature diversity: mean over all pairs of explanations of the number of features both
    mention. Range [0, max features per explanation], LOWER is better; 0.0 with under two.
    Computed as sum over features of C(count, 2) / C(N, 2), which equals the pairwise mean.

    >>> div([{"crime", "heist"}, {"crime"}, {"space"}])  # pairs share 1, 0, 0 features
    0.3333333333333333
    """
    n = len(feature_sets)
    if n < 2:
        return 0.0
    counts = Counter(f for s in feature_sets for f in s)
    return sum(c * (c - 1) / 2 for c in counts.values()) / (n * (n - 1) / 2)


def fcr(feature_sets: Sequence[set[str]], vocabulary_size: int) -> float:
    """Feature coverage ratio: distinct features mentioned over all explanations / vocabulary
    size. Range [0, 1], higher is better.

    >>> fcr([{"crime", "heist"}, {"crime"}], 4)
    0.5
    """
    if vocabulary_size <= 0:
        return 0.0
    return len(set().union(*feature_sets)) / vocabulary_size


def fmr(mentioned: Sequence[set[str]], own: Sequence[set[str]]) -> float:
    """Feature matching ratio: share of explanations mentioning at least one feature of their
    own film (`mentioned[i]` against `own[i]`). Range [0, 1], higher is better.

    >>> fmr([{"crime"}, {"space"}, set()], [{"crime", "heist"}, {"heist"}, {"heist"}])
    0.3333333333333333
    """
    if not mentioned:
        return 0.0
    return sum(1 for m, o in zip(mentioned, own, strict=True) if m & o) / len(mentioned)


# --- groundedness -------------------------------------------------------------------------------

def claim_support(explanation: str, item: Item, history: Sequence[Item] = (), titles: TitleIndex | None = None,
                  request: str = "") -> tuple[int, int]:
    """(supported, checkable) claims of one explanation, by the serving checker.

    `agent.grounding.check` tests years, catalog titles (with `titles`), genre words,
    sequel/remake claims and capitalised multi-word names against the film's own data, the
    user's history and the request, and returns only the failures. Its rules are not repeated
    here: the checkable claims are counted by running the same checker against a film with no
    data at all (every testable claim then fails), and the supported ones are those that do
    not fail against the real facts. Its "empty" verdicts (too short, no fact of the film) are
    not claims and are left out of both counts; `grounded_pass_rate` uses the whole verdict.
    Blind spots, shared with serving: paraphrased plot claims, moods and sentiment ("tense"),
    one-word names, negations, claims about genres or years the history happens to contain;
    false alarms from its title finder, e.g. "A 2012 comedy" read as the film "2012".

    >>> claim_support("A 1995 crime thriller.", Item("2", "Heat", 1995, ("Crime", "Thriller")))
    (3, 3)
    >>> claim_support("A 1994 crime comedy.", Item("2", "Heat", 1995, ("Crime", "Thriller")))
    (1, 3)
    """
    def claims(facts: Facts) -> int:
        return sum(1 for p in check(explanation, facts, titles) if not p.startswith("empty:"))

    checkable = claims(Facts(_NO_FACTS, (), ""))
    failed = claims(Facts(item, tuple(history), request))
    return checkable - min(failed, checkable), checkable


def grounded_claim_share(counts: Sequence[tuple[int, int]]) -> float | None:
    """Supported / checkable claims pooled over explanations (micro). Range [0, 1], higher is
    better; None when no explanation has a checkable claim.

    >>> grounded_claim_share([(3, 3), (1, 3), (0, 0)])
    0.6666666666666666
    """
    total = sum(c for _, c in counts)
    return sum(s for s, _ in counts) / total if total else None


def grounded_claim_share_macro(counts: Sequence[tuple[int, int]]) -> float | None:
    """Mean per-explanation share of supported claims, over explanations with a checkable
    claim. Range [0, 1]; None when there are none.

    >>> grounded_claim_share_macro([(3, 3), (0, 1), (0, 0)])
    0.5
    """
    shares = [s / c for s, c in counts if c]
    return sum(shares) / len(shares) if shares else None


def grounded_pass_rate(problems: Sequence[Sequence[str]]) -> float:
    """Share of explanations the checker passes outright (no problem, "empty" ones included),
    the verdict serving uses to keep an LLM explanation. Range [0, 1].

    >>> grounded_pass_rate([[], ["year:1994"], []])
    0.6666666666666666
    """
    return sum(1 for p in problems if not p) / len(problems) if problems else 0.0


def hallucinated_titles(explanation: str, item: Item, history: Sequence[Item], titles: TitleIndex) -> list[str]:
    """Catalog titles named in `explanation` that are neither the film nor a history film (by
    id, or by the same title: an ambiguous title resolves to the most watched film). Two
    exceptions keep quoting the film's own data from counting: a title whose words stand in the
    film's own text (overview, tagline, tags, keywords, media text: "a boy from North Dakota"
    does not name the film "North"), and a bare year of the film or a history film ("A 2012
    comedy" for a 2012 film does not name "2012"; the checker does flag that one). Unlike the
    checker, the request and the history's plot text do not license a title. Blind spots, from
    TitleIndex: one-word titles that are also capitalised ordinary words ("Speed and danger"),
    multi-word titles that are also ordinary phrases ("get out", "in a world").

    >>> idx = TitleIndex([Item("1", "Alien", 1979), Item("2", "Heat", 1995), Item("3", "Ronin", 1998),
    ...                   Item("4", "2012", 2009)])
    >>> heat, alien = Item("2", "Heat", 1995), Item("1", "Alien", 1979)
    >>> hallucinated_titles("Like Alien, but with the edge of Ronin.", heat, [alien], idx)
    ['Ronin']
    >>> ted = Item("9", "Ted", 2012)
    >>> hallucinated_titles("A 2012 comedy.", ted, [], idx), hallucinated_titles("A 2012 comedy.", heat, [], idx)
    ([], ['A 2012'])

    A third: "about <words of the film's own text>" is its topic, not a title that begins with
    "About" ("a film about time travel" for a time-travel film does not name "About Time"):

    >>> idx = TitleIndex([Item("5", "About Time", 2013), Item("6", "Heat", 1995)])
    >>> bttf = Item("7", "Back to the Future", 1985, keywords=("time travel",))
    >>> hallucinated_titles("A film about time travel.", bttf, [], idx), hallucinated_titles("Like About Time.", bttf, [], idx)
    ([], ['About Time'])
    """
    allowed = {item.item_id, *(h.item_id for h in history)}
    names = {normalise(x.title) for x in (item, *history)} | {str(x.year) for x in (item, *history) if x.year}
    own_text = f" {normalise(Facts(item, ()).text)} "

    def topic(m) -> bool:  # "about time travel" / "about a boy" for a film whose own text has "time travel" / "boy"
        words = normalise(m.text).split()
        if len(words) < 2 or words[0] != "about" or not explanation[m.span[0]].islower():  # a title is capitalised
            return False
        rest = [w for w in words[1:] if w not in ("a", "an", "the")]
        after = normalise(explanation[m.span[1]:]).split()[:1]
        return any(f" {' '.join(p)} " in own_text for p in (rest, rest + after) if p)

    return [m.text for m in titles.find(explanation) if m.item.item_id not in allowed
            and normalise(m.text) not in names and f" {normalise(m.text)} " not in own_text and not topic(m)]


def hallucinated_title_rate(found: Sequence[Sequence[str]]) -> float:
    """Share of explanations naming at least one hallucinated title. Range [0, 1], lower is better.

    >>> hallucinated_title_rate([["Ronin"], [], [], []])
    0.25
    """
    return sum(1 for f in found if f) / len(found) if found else 0.0


# --- unsupported words (independent of the serving verifier) -------------------------------------
# This check shares no code with agent/explain (its own tokenizer, stoplist and word matching):
# an eval that graded with the verifier that chose the texts could not fall.

_PLAIN = re.compile(r"[a-z]+|\d+")
_FUNCTION = frozenset("""a an the and or but nor so if then than as because since while when where which who whom
whose what how why that this these those it its it s they them their there here i me my we us our you your
yours is are was were be been being am has have had do does did will would shall should can could may might must
of in on at to for from by with without about into onto over under after before between among through during
against along across around up down out off again also too very just only even not no any some each every both
either all more most much many such same other another own one ones s t ve ll re d m""".split())
_GENERIC = frozenset("""film films movie movies story stories like liked likes love loved enjoy enjoyed fan fans
watch watched watching similar share shares shared common commonly often people viewers close kind
pick recommend recommended fit fits match matches request requested asked ask want next""".split())


def _plain_words(text: str) -> list[str]:
    """Lower-cased letter runs and digit runs (an apostrophe or hyphen splits a word).

    >>> _plain_words("Ripley's sci-fi war, 1986.")
    ['ripley', 's', 'sci', 'fi', 'war', '1986']
    """
    return _PLAIN.findall(text.lower())


def _same_word(w: str, vocab: set[str]) -> bool:
    """w is in vocab, or shares a stem with a vocab word: one is the other plus at most 3 letters
    (marines/marine, chased/chase, shifting/shift), for words of 4+ letters."""
    if w in vocab:
        return True
    if len(w) < 4:
        return False
    return any(abs(len(w) - len(v)) <= 3 and len(v) >= 4 and (w.startswith(v) or v.startswith(w)) for v in vocab
               if v[:3] == w[:3])


def entry_vocabulary(item: Item, history: Sequence[Item] = (), request: str = "") -> set[str]:
    """Words a claim about `item` may rest on: the film's whole entry (title, year, genres, runtime,
    overview, tagline, tags, keywords, media text), the request, and the history films' titles,
    years, genres, tags and keywords."""
    parts = [item.title, str(item.year or ""), " ".join(item.genres), str(item.runtime or ""), item.overview,
             item.tagline, " ".join(item.tags), " ".join(item.keywords), " ".join(t for _, t in item.media_text),
             request]
    for h in history:
        parts += [h.title, str(h.year or ""), " ".join(h.genres), " ".join(h.tags), " ".join(h.keywords)]
    return set(_plain_words(" ".join(parts)))


def unsupported_words(text: str, item: Item, history: Sequence[Item] = (), request: str = "") -> tuple[list[str], int]:
    """(content words of `text` found nowhere in the film's entry, the request or the history, the
    number of content words). Content words: not function words, not the generic vocabulary of
    recommending (film, like, enjoy, ...).

    >>> heat = Item("2", "Heat", 1995, ("Crime",), "A master thief and a detective clash.", keywords=("bank robbery",))
    >>> unsupported_words("Like Heat, a 1995 crime film about a thief who robs banks with a villain.", heat)
    (['robs', 'villain'], 7)
    """
    vocab = entry_vocabulary(item, history, request)
    content = [w for w in _plain_words(text) if w not in _FUNCTION and w not in _GENERIC]
    return [w for w in content if not _same_word(w, vocab)], len(content)


def unsupported_word_rate(counts: Sequence[tuple[Sequence[str], int]]) -> float | None:
    """Unsupported / content words, pooled over explanations. Range [0, 1], lower is better.

    >>> unsupported_word_rate([(["villain"], 4), ([], 6)])
    0.1
    """
    total = sum(n for _, n in counts)
    return sum(len(u) for u, _ in counts) / total if total else None


def repeats_itself(text: str) -> bool:
    """A 3-word sequence occurs twice, or one sentence is said twice.

    >>> repeats_itself("A Disney film that is a classic Disney film that is good."), repeats_itself("A heist film.")
    (True, False)
    """
    w = _plain_words(text)
    grams = [tuple(w[i: i + 3]) for i in range(len(w) - 2)]
    sentences = [x.strip().lower() for x in re.split(r"[.!?]", text) if x.strip()]
    return len(grams) != len(set(grams)) or len(sentences) != len(set(sentences))


_BOTH = re.compile(r"\bboth (?:are|have|share|feature)\b([^.,;!?]*(?:,[^.,;!?]*\b(?:and|or)\b[^.,;!?]*)?)", re.I)


def false_shared_genres(text: str, item: Item, history: Sequence[Item] = ()) -> tuple[int, int]:
    """(genre words the text claims the film shares with a history film, how many of them are
    false). A claim is a genre word after "both are/have/share" in its clause ("because both are
    crime and drama", "both have action, adventure and sci-fi"; not "it has both comedy and drama"); it is true when the genre is the film's own
    and one of the history films the text names has it too (catalog genres, not the evidence).

    >>> heat, ronin = Item("2", "Heat", 1995, ("Crime", "Thriller")), Item("5", "Ronin", 1998, ("Action", "Crime"))
    >>> false_shared_genres("Since you liked Heat (1995), you may like Ronin, as both are crime and action.", ronin, [heat])
    (2, 1)
    >>> false_shared_genres("You may like Ronin, a crime film.", ronin, [heat])
    (0, 0)
    >>> false_shared_genres("If you liked Up (a.k.a. Oben) (2009), you may like Ronin as it has both crime and action.",
    ...                     ronin, [Item("9", "Up (a.k.a. Oben)", 2009, ("Crime",))])
    (0, 0)
    """
    low = text.lower()
    named = [h for h in history if h.title and re.search(r"(?<!\w)" + re.escape(h.title.lower()) + r"(?!\w)", low)]
    shared = {g.lower() for g in item.genres} & {g.lower() for h in named for g in h.genres}
    claimed = false = 0
    for m in _BOTH.finditer(text):
        clause = " " + m.group(1).lower() + " "
        for word, genre in GENRE_WORDS.items():
            if re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", clause):
                claimed += 1
                false += genre.lower() not in shared
    return claimed, false


def genre_only(text: str, item: Item, history: Sequence[Item] = ()) -> bool:
    """The text says nothing about the film beyond its genres: once the films' titles, genre
    words, years, function words and the vocabulary of recommending are taken out, no word is left.

    >>> ronin = Item("5", "Ronin", 1998, ("Action", "Crime"))
    >>> genre_only("You may like Ronin (1998) as a crime action film.", ronin)
    True
    >>> genre_only("You may like Ronin (1998), a crime film with a car chase across France.", ronin)
    False
    """
    low = text.lower()
    for t in sorted({x.title.lower() for x in (item, *history) if x.title}, key=len, reverse=True):
        low = low.replace(t, " ")
    genre_parts = {p for w in GENRE_WORDS for p in _plain_words(w)}
    rest = [w for w in _plain_words(low) if w not in _FUNCTION and w not in _GENERIC and w not in genre_parts
            and not w.isdigit() and len(w) > 1]
    return not rest


def third_person(text: str) -> bool:
    """Speaks of the reader as 'the viewer' / 'the user' instead of 'you'.

    >>> third_person("The viewer will enjoy it."), third_person("You will enjoy it.")
    (True, False)
    """
    return re.search(r"\b(the|this) (viewer|user)s?\b", text, re.I) is not None


# --- reference overlap --------------------------------------------------------------------------

def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"reference metrics need sacrebleu and rouge-score: pip install -e '.[evals]' ({e})") from e


def bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]], max_order: int = 4) -> float:
    """Corpus BLEU with n-grams up to `max_order` (BLEU-1: 1, BLEU-4: 4), as in PETER: pooled
    n-gram counts, brevity penalty, no smoothing; sacrebleu's 13a tokens, lower-cased. Each
    hypothesis needs at least one reference. Range [0, 1] (sacrebleu's score / 100).

    >>> round(bleu(["the cat sat on the mat"], [["the cat sat on a mat"]], 1), 4)  # 5 of 6 words
    0.8333
    """
    if any(not refs for refs in references) or len(hypotheses) != len(references):
        raise ValueError("bleu: every hypothesis needs at least one reference")
    if not hypotheses:
        return 0.0
    metrics = _need("sacrebleu.metrics")
    width = max(len(r) for r in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]
    scorer = metrics.BLEU(max_ngram_order=max_order, lowercase=True, smooth_method="none")
    return scorer.corpus_score(list(hypotheses), streams).score / 100.0


def rouge(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score, no stemming), each hypothesis against
    its best reference. Range [0, 1]. rouge-score keeps only [a-z0-9] words (English only).

    >>> r = rouge(["the cat sat on the mat"], [["a dog", "the cat sat on a mat"]])
    >>> round(r["rouge1"], 4), round(r["rouge2"], 4), round(r["rougeL"], 4)
    (0.8333, 0.6, 0.8333)
    """
    if any(not refs for refs in references) or len(hypotheses) != len(references):
        raise ValueError("rouge: every hypothesis needs at least one reference")
    keys = ("rouge1", "rouge2", "rougeL")
    if not hypotheses:
        return dict.fromkeys(keys, 0.0)
    scorer = _need("rouge_score.rouge_scorer").RougeScorer(list(keys), use_stemmer=False)
    sums = dict.fromkeys(keys, 0.0)
    for hyp, refs in zip(hypotheses, references):
        best = scorer.score_multi(list(refs), hyp)  # best F1 per key over the references
        for k in keys:
            sums[k] += best[k].fmeasure
    return {k: v / len(hypotheses) for k, v in sums.items()}


def load_references(path: str | Path) -> dict[tuple[str, str], list[str]]:
    """Reference explanations: JSONL lines {"user", "item_id", "reference"}, or a CSV with those
    columns (by suffix: .csv is CSV, anything else JSONL). Several lines for the same pair give
    several references. -> {(user, item_id): [reference, ...]}"""
    path = Path(path)
    out: dict[tuple[str, str], list[str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        if path.suffix.lower() == ".csv":
            rows = ((i + 2, r) for i, r in enumerate(csv.DictReader(f)))
        else:
            rows = ((i + 1, json.loads(line)) for i, line in enumerate(f) if line.strip())
        for line, row in rows:
            if not isinstance(row, dict) or any(row.get(k) in (None, "") for k in ("user", "item_id", "reference")):
                raise ValueError(f"{path}:{line}: a reference needs non-empty 'user', 'item_id' and 'reference'")
            out.setdefault((str(row["user"]), str(row["item_id"])), []).append(str(row["reference"]))
    return out


# --- length and diversity -----------------------------------------------------------------------

def length_stats(explanations: Sequence[str]) -> dict[str, float]:
    """Mean, median and p95 (linear interpolation) of characters and whitespace words.

    >>> s = length_stats(["ab", "abcd", "a b c d e"])  # 2, 4, 9 characters; 1, 1, 5 words
    >>> s["len_chars_mean"], s["len_chars_median"], s["len_words_median"], round(s["len_words_p95"], 2)
    (5.0, 4.0, 1.0, 4.6)
    """
    out = {}
    for unit, values in (("chars", [len(e) for e in explanations]), ("words", [len(e.split()) for e in explanations])):
        v = np.asarray(values or [0], dtype=float)
        out[f"len_{unit}_mean"] = float(v.mean())
        out[f"len_{unit}_median"] = float(np.median(v))
        out[f"len_{unit}_p95"] = float(np.percentile(v, 95))
    return out


def distinct_n(explanations: Sequence[str], n: int) -> float:
    """Distinct n-grams / all n-grams over all explanations (Li et al. 2016), lower-cased words.
    Range [0, 1], higher is more diverse; 0.0 when there is no n-gram.

    >>> distinct_n(["a crime film", "a heist film"], 1), distinct_n(["a crime film", "a heist film"], 2)
    (0.6666666666666666, 1.0)
    """
    grams = [tuple(w[i : i + n]) for w in map(tokens, explanations) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def template_skeleton(explanation: str, item: Item, history: Sequence[Item] = ()) -> str:
    """The explanation's words with film-specific parts masked: titles of the film and history
    films -> <title>, years -> <year>, genre words -> <genre>, the film's features -> <feature>.

    >>> template_skeleton("A 1995 crime/thriller film, like Alien.", Item("2", "Heat", 1995, ("Crime", "Thriller")),
    ...                   [Item("1", "Alien", 1979)])
    'a <year> <genre> <genre> film like <title>'
    """
    slots = {_phrase(x.title): "<title>" for x in (item, *history)}
    slots.update({_phrase(g): "<genre>" for g in (*GENRE_WORDS, *item.genres)})
    slots.update({f: "<feature>" for f in item_features(item) if f not in slots})
    slots.pop("", None)
    longest = max((s.count(" ") + 1 for s in slots), default=1)
    words, out, i = tokens(explanation), [], 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            slot = slots.get(" ".join(words[i : i + n]))
            if slot:
                out.append(slot)
                i += n
                break
        else:
            out.append("<year>" if _YEAR.match(words[i]) else words[i])
            i += 1
    return " ".join(out)


def template_share(skeletons: Sequence[str]) -> float:
    """Share of explanations whose skeleton (see `template_skeleton`) at least one other
    explanation has too. Range [0, 1], lower is better.

    >>> template_share(["a <year> <genre> film", "a <year> <genre> film", "a heist in <title>"])
    0.6666666666666666
    """
    if not skeletons:
        return 0.0
    counts = Counter(skeletons)
    return sum(1 for s in skeletons if counts[s] > 1) / len(skeletons)


# --- the report ---------------------------------------------------------------------------------

def history_items(history, items: Mapping[str, Item]) -> list[Item]:
    """A user's history films: from a UserHistory, a list of item ids, or None (unknown ids skipped)."""
    ids = [e.item_id for e in history.entries] if isinstance(history, UserHistory) else list(history or ())
    return [items[i] for i in ids if i in items]


def explanation_rows(records: Sequence[Mapping], items: Mapping[str, Item],
                     histories: Mapping | None = None) -> list[dict]:
    """Per-record measurements behind the report: features mentioned (of the vocabulary and of
    the film), claim counts, checker problems, hallucinated titles and the template skeleton."""
    missing = sorted({str(r["item_id"]) for r in records} - set(items))
    if missing:
        raise ValueError(f"explanations for items not in the catalog: {missing[:5]} ({len(missing)} in all)")
    vocab = feature_vocabulary(items.values())
    longest = max((f.count(" ") + 1 for f in vocab), default=0)
    index = TitleIndex(list(items.values()))
    histories = histories or {}
    rows = []
    for r in records:
        item, text = items[str(r["item_id"])], str(r["explanation"])
        hist = history_items(histories.get(str(r["user"])), items)
        facts = Facts(item, tuple(hist), str(r.get("request", "")))
        rows.append({
            "user": str(r["user"]), "item_id": item.item_id, "explanation": text,
            "source": r.get("source", r.get("explanation_source", "llm")),
            "features": mentioned_features(text, vocab, longest),
            "own_features": item_features(item),
            "claims": claim_support(text, item, hist, index, facts.request),
            "problems": check(text, facts, index),
            "hallucinated_titles": hallucinated_titles(text, item, hist, index),
            "unsupported": unsupported_words(text, item, hist, facts.request),
            "repeats": repeats_itself(text), "third_person": third_person(text),
            "shared_genres": false_shared_genres(text, item, hist), "genre_only": genre_only(text, item, hist),
            "skeleton": template_skeleton(text, item, hist),
        })
    return rows


def _metrics(rows: list[dict], vocab_size: int, references: Mapping | None) -> dict:
    texts = [r["explanation"] for r in rows]
    feats = [r["features"] for r in rows]
    counts = [r["claims"] for r in rows]
    out: dict = {
        "n": len(rows),
        "usr": usr(texts), "div": div(feats), "fcr": fcr(feats, vocab_size),
        "fmr": fmr(feats, [r["own_features"] for r in rows]),
        "grounded_claim_share": grounded_claim_share(counts),
        "grounded_claim_share_macro": grounded_claim_share_macro(counts),
        "checkable_share": sum(1 for _, c in counts if c) / len(rows) if rows else 0.0,
        "grounded_pass_rate": grounded_pass_rate([r["problems"] for r in rows]),
        "hallucinated_title_rate": hallucinated_title_rate([r["hallucinated_titles"] for r in rows]),
        "unsupported_word_rate": unsupported_word_rate([r["unsupported"] for r in rows]),
        "unsupported_text_share": sum(1 for r in rows if r["unsupported"][0]) / len(rows) if rows else 0.0,
        "repetition_share": sum(r["repeats"] for r in rows) / len(rows) if rows else 0.0,
        "third_person_share": sum(r["third_person"] for r in rows) / len(rows) if rows else 0.0,
        "genre_only_share": sum(r["genre_only"] for r in rows) / len(rows) if rows else 0.0,
        "false_shared_genre_rate": (lambda c, f: f / c if c else None)(
            sum(r["shared_genres"][0] for r in rows), sum(r["shared_genres"][1] for r in rows)),
        "distinct1": distinct_n(texts, 1), "distinct2": distinct_n(texts, 2),
        "template_share": template_share([r["skeleton"] for r in rows]),
        **length_stats(texts),
    }
    if references is not None:
        pairs = [(r["explanation"], references[(r["user"], r["item_id"])]) for r in rows
                 if references.get((r["user"], r["item_id"]))]
        out["n_with_reference"] = len(pairs)
        hyps, refs = [p[0] for p in pairs], [p[1] for p in pairs]
        if pairs:
            out.update({"bleu1": bleu(hyps, refs, 1), "bleu4": bleu(hyps, refs, 4), **rouge(hyps, refs)})
        else:
            out.update(dict.fromkeys(("bleu1", "bleu4", "rouge1", "rouge2", "rougeL")))
    return out


def explanation_report(records: Sequence[Mapping], items: Mapping[str, Item], histories: Mapping | None = None,
                       references: Mapping[tuple[str, str], Sequence[str]] | None = None) -> dict:
    """Every explanation metric as one flat JSON-serialisable dict (None where undefined).

    records: [{"user", "item_id", "explanation", "source": "llm" | "facts", optional "request"}];
    `source` defaults to "llm" (the served JSON's `explanation_source` is accepted too). Keys:
    n, usr, div, fcr, fmr, grounded_claim_share(_macro), checkable_share, grounded_pass_rate,
    hallucinated_title_rate, distinct1/2, template_share, len_{chars,words}_{mean,median,p95},
    with references also n_with_reference, bleu1, bleu4, rouge1, rouge2, rougeL; plus
    vocabulary_size, n_llm and share_llm (LLM-written records), and every metric again as
    llm_<key> over the LLM-written records when sources are mixed.

    >>> films = {"2": Item("2", "Heat", 1995, ("Crime",), tags=("heist",))}
    >>> recs = [{"user": "u", "item_id": "2", "explanation": "A 1995 heist film.", "source": "llm"}]
    >>> r = explanation_report(recs, films)
    >>> r["fmr"], r["fcr"], r["grounded_claim_share"], r["hallucinated_title_rate"]
    (1.0, 0.5, 1.0, 0.0)
    """
    rows = explanation_rows(records, items, histories)
    vocab_size = len(feature_vocabulary(items.values()))
    out = _metrics(rows, vocab_size, references)
    llm = [r for r in rows if r["source"] == "llm"]
    out["vocabulary_size"] = vocab_size
    out["n_llm"] = len(llm)
    out["share_llm"] = len(llm) / len(rows) if rows else 0.0
    if llm and len(llm) < len(rows):
        out.update({f"llm_{k}": v for k, v in _metrics(llm, vocab_size, references).items()})
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
