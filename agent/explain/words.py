"""Words for the explanation stages: a tokenizer, a small suffix-stripping lemmatiser, the connector
vocabulary and genre words. Shared by evidence.py (which request words a film meets) and
verify.py (which words of a text the evidence supports). evals/explain.py deliberately does NOT
use this module: its unsupported-word check has its own tokenizer and stoplist.

Left out: a real morphological analyser (irregular forms like "ran" -> "run" are not joined;
the verifier then rejects rather than accepts, which is the safe side).
"""

from __future__ import annotations

import re

WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")

# Genre words -> the MovieLens genre they name (adjective and noun forms).
GENRE_WORDS: dict[str, str] = {
    "action": "Action", "adventure": "Adventure", "adventures": "Adventure", "animation": "Animation",
    "animated": "Animation", "children": "Children", "children's": "Children", "comedy": "Comedy",
    "comedies": "Comedy", "comedic": "Comedy", "crime": "Crime", "documentary": "Documentary",
    "drama": "Drama", "dramas": "Drama", "dramatic": "Drama", "fantasy": "Fantasy", "film-noir": "Film-Noir",
    "noir": "Film-Noir", "horror": "Horror", "musical": "Musical", "musicals": "Musical", "mystery": "Mystery",
    "mysteries": "Mystery", "romance": "Romance", "romantic": "Romance", "sci-fi": "Sci-Fi",
    "thriller": "Thriller", "thrillers": "Thriller", "war": "War", "western": "Western", "westerns": "Western",
    "imax": "IMAX",
}

# Words any explanation may use without evidence: function words and the plain vocabulary of
# "why you may like this film". No adjective that describes a film ("tense", "great", "funny")
# is here: such words need evidence.
CONNECTORS = frozenset("""
a an the and or but nor so yet if then than because since as while when where which who whom whose
that this these those it its it's itself they them their there here what how why whether
i me my we our you your yours you're you've you'll yourself
is are was were be been being am has have had having do does did doing will would shall should can
could may might must
of in on at to for from by with without about into onto over under after before between among
through during against along across around up down out off again also too very just only even
not no any some each every both either neither all more most much many such same other another own
like liked likes love loved loves enjoy enjoyed enjoys enjoying fan fans watch watched watching
film films movie movies story stories pick picks choice recommend recommended recommendation
similar share shares shared sharing common commonly often people who viewers
close closer kind sort type mix blend fit fits suit suits want wanted ask asked request requested
match matches
theme themes genre genres plot tale
next tonight
one ones
well
""".split())

# The connector words a constrained verbalizer may use between the evidence's words (a subset of
# CONNECTORS: each alternative costs grammar-compile time, ~0.1 s for 400 words). Kept small on
# purpose: with modals, pronouns and praise words ("you", "may", "very", "fan", "more", "here")
# the 135M pack wrote word salad that every word check passes ("a movie who has a very might and
# that is very more", "a movie about your fan") and clauses of connectors only (", which you may
# also like."). Reasons ("often watched by people who watched ...") are whole phrases of their own.
REGEX_CONNECTORS = tuple("""a an the and or but of in on at to for from by about into after with without as
is are was were it its this that these who which where when while then also film films movie movies story
has have""".split())
# Roles of function words in the verbalizer's clause grammar (verbalize._clause): a determiner or
# preposition must be followed by a content word; other function words join phrases.
DETERMINERS = frozenset("a an the its this these his her their our my your".split())
PREPOSITIONS = frozenset("of in on at to for from by about into after with without as over under between "
                         "through during against among before across around".split())
FUNCTION_WORDS = frozenset("""and or but nor so yet if then than because since while when where which who whom
whose that those it it's itself they them there here what how why whether i me we us you yours you're you've
you'll he she him is are was were be been being am has have had having do does did will would shall should can
could may might must also too very just only even not no any some each every both either neither all more most
much many such same other another own up down out off again""".split())

_VOWEL_SOUND_NUMBER = re.compile(r"^(8|11|18)")  # an 8, an 11, an 18th-century ..., an 1890s film


def tokens(text: str) -> list[str]:
    """Words with hyphens and apostrophes kept inside them.

    >>> tokens("A sci-fi film, Ripley's war (1986).")
    ['A', 'sci-fi', 'film', "Ripley's", 'war', '1986']
    """
    return WORD.findall(text)


def lemma(word: str) -> str:
    """A crude lemma: lower case, possessive and common inflections stripped. Both sides of every
    comparison go through it, so it only needs to be consistent, not linguistically right.

    >>> [lemma(w) for w in ["Heists", "robberies", "marines", "returns", "chasing", "chased", "Ripley's", "boss"]]
    ['heist', 'robbery', 'marin', 'return', 'chas', 'chas', 'ripley', 'boss']
    >>> [lemma(w) for w in ["friendship", "running", "wolves", "stories"]]
    ['friendship', 'runn', 'wolf', 'story']
    """
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.rstrip("'")
    if len(w) <= 3:
        return w
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("sses", "ss"), ("ing", ""), ("ed", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)] + repl
    if w.endswith("es") and w[-3] in "sxz" and len(w) > 4:
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("e") and len(w) > 4:  # "chase" and "chased" both -> "chas"
        w = w[:-1]
    return w


def lemmas(text: str) -> set[str]:
    """Lemmas of every word of `text`, hyphenated words also split into their parts.

    >>> sorted(lemmas("A shape-shifting alien"))
    ['a', 'alien', 'shap', 'shape-shift', 'shift']
    """
    out = set()
    for t in tokens(text):
        out.add(lemma(t))
        if "-" in t:
            out.update(lemma(p) for p in t.split("-") if p)
    return out


CONNECTOR_LEMMAS = frozenset(lemma(w) for w in CONNECTORS)


def article(phrase: str) -> str:
    """'a' or 'an' for the phrase it precedes (by sound for numbers: an 1890s film, a 1995 film).

    >>> [article(p) for p in ["1995 crime film", "1890s drama", "action film", "IMAX film", "horror film", "8-hour"]]
    ['a', 'an', 'an', 'an', 'a', 'an']
    >>> [article(p) for p in ["one-night stand", "unique story", "ugly duckling", "hour", "FBI agent", "European"]]
    ['a', 'a', 'an', 'an', 'an', 'a']
    >>> [article(p) for p in ["R-rated movie", "X-ray", "B-movie", "U-boat"]]
    ['an', 'an', 'a', 'a']
    """
    p = phrase.strip()
    if not p:
        return "a"
    if p[0].isdigit():
        return "an" if _VOWEL_SOUND_NUMBER.match(p) and not re.match(r"^(1[0-79]\d\d|80\d\d)", p) else "a"
    low = p.lower()
    if _CONSONANT_SOUND.match(low):
        return "a"
    if _VOWEL_SOUND.match(low) or re.match(r"^[FHLMNRSX]([A-Z]+\b|-)", p):  # "an hour", "an FBI agent", "an R-rated"
        return "an"
    return "an" if low[0] in "aeiou" else "a"


_CONSONANT_SOUND = re.compile(r"^(one\b|one-|once|u-|uni(?!n)|use|usu|uto|ura|uro|eu|ewe)")
_VOWEL_SOUND = re.compile(r"^(hour|honest|honou?r|heir)")
_ARTICLE = re.compile(r"\b(a|an|A|An) (?=([\w'-]+))")


def protected_spans(text: str, protect: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of a `protect` string (a film's label) in `text`."""
    return [(m.start(), m.end()) for p in protect if p for m in re.finditer(re.escape(p), text)]


def fix_articles(text: str, protect: tuple[str, ...] = ()) -> str:
    """"a"/"an" made to fit the next word (`article`), outside the `protect` strings (titles).

    >>> fix_articles("Ronin, a action film with an heist, like A Fish Called Wanda.", ("A Fish Called Wanda",))
    'Ronin, an action film with a heist, like A Fish Called Wanda.'
    """
    inside = protected_spans(text, protect)

    def repl(m: re.Match) -> str:
        if any(a <= m.start() < b for a, b in inside):
            return m.group(0)
        want = article(m.group(2))
        return (want.capitalize() if m.group(1)[0] == "A" else want) + " "

    return _ARTICLE.sub(repl, text)


def join_words(words: list[str], conj: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'.

    >>> join_words(["heist"]), join_words(["heist", "police"]), join_words(["a", "b", "c"])
    ('heist', 'heist and police', 'a, b and c')
    """
    if len(words) <= 2:
        return f" {conj} ".join(words)
    return ", ".join(words[:-1]) + f" {conj} " + words[-1]


def apart(a: str, b: str) -> bool:
    """Two phrases that share no word's lemma: "alien and aliens", "child abuse and loss of child"
    repeat themselves (frames), and "aliens" beside "alien" fills two evidence themes with one fact.

    >>> apart("alien", "aliens"), apart("heist", "friendship")
    (False, True)
    """
    return not {lemma(w) for w in a.lower().split()} & {lemma(w) for w in b.lower().split()}


META_KEYWORD = re.compile(r"creditsstinger|\bdirector\b|\bfilm\b|\bmovie\b|\bbased on\b|\b3d\b|\bimax\b|\bsequel\b|\bremake\b"
               r"|\bnovel\b|\bsilent\b|\bindependent\b|\bblack and white\b|\bimdb\b|\btop \d+|\boscar|\bcriterion\b"
               r"|\bregistry\b|\baward|\bdvd\b|\bnetflix\b|\bseen\b|\bwatched\b|\bowned\b|\bbiograph|\bundercover\b|\btrilogy\b|\bhomage\b|\bfranchise\b"
               # opinions and the making of the film, not its story ("a great soundtrack", "pixar", "prequel")
               r"|\bprequel|\bcinematograph|\bsoundtrack|\bcast\b|\bacting\b|\bdialogue|\bscreenplay|\bcgi\b|\bspecial effects"
               r"|\bvisual|\bpixar\b|\bdisney\b|\bdreamworks\b|\bghibli\b|\bcoen\b|\bcult\b|\bclassic\b|\bmasterpiece|\boverrated"
               r"|\bunderrated|\bquotable|\bgreat\b|\bamazing\b|\bawesome\b|\bexcellent\b|\bbrilliant\b|\bgood\b|\bboring\b"
               r"|\bmust see\b|\bbest\b|\bfavorite|\bfavourite|\btwist|\bending\b|\bmindfuck|\bfuck", re.I)


_PARTICIPLES = frozenset("held lost born made kept left stuck caught told found gone taken stolen written broken "
                         "hidden forgotten run shot bitten driven".split())
_NOT_NOUN = frozenset("alone together abroad nude naked pretend individual".split())  # "a film about alone"

# A group of people named by ethnicity, religion, sexuality or body ("black people", "jew",
# "overweight man"): true as a catalog keyword, reductive as what a film is "about" ("a comedy
# film about black people"). Themes stay ("racism", "antisemitism", "coming out").
_PEOPLE_GROUP = re.compile(r"^((black|white|african|asian|native|jewish|muslim|arab|latino|latina|hispanic|gay|lesbian|"
                           r"homosexual|transgender|overweight|obese|fat|dwarf|midget|ugly|disabled)( \w+)?"
                           r"|jews?|gays|lesbians|homosexuals|blacks|whites|dwarfs?|midgets?|african american)$", re.I)


_ADJECTIVE = re.compile(r"(ic|al|ful|ous|ive|less|able|ible|esque|(?<!f)ish|-[a-z]+ing)$")  # "clownfish" is no adjective
_NOT_ADJECTIVE = frozenset("animal cannibal criminal festival hospital arrival survival terminal individual musical "
                           "detective relative fugitive explosive narrative music magic comic logic panic mechanic "
                           "critic medic republic clinic mosaic"
                           # nouns with an adjective's ending, from the demo catalog's keywords
                           " bible alcoholic funeral general betrayal fish scandal wish trial workaholic commercial cynic"
                           " laxative deal carnival epidemic fanatic convertible attic psychic portal fetish heal chemical"
                           " medal cathedral picnic relic marshal ritual principal pandemic proposal captive locomotive"
                           " neanderthal withdrawal paramedic coal constable metal tribunal fable journal operative"
                           " vegetable seal beehive appeal burlesque stable denial rival traffic executive motive"
                           " hostage-taking baby-snatching roller-skating fitness-training co-parenting job-hopping"
                           " ".split())
_ADJECTIVES = frozenset("""funny scary creepy quirky dark sad cute gory bleak witty silly weird tense bloody sexy cheesy
campy moody gritty clever slow smart intense violent surreal hilarious beautiful absurd bizarre whimsical heartwarming
disturbing touching inspiring romantic stylish eerie grim quiet strange feel-good crazy dirty nasty sleazy trippy goofy
nerdy lazy rich poor young old bittersweet selfish
anime""".split())  # "anime": a form, said as "both are anime", never "both are about anime"


def is_adjective(keyword: str) -> bool:
    """A one-word keyword that reads as a description ("atmospheric", "funny", "thought-provoking"),
    said as "both are X"; every other keyword is a topic ("both are about mafia").

    >>> [is_adjective(k) for k in ("atmospheric", "funny", "thought-provoking", "mafia", "mercenary", "car chase", "boxing", "anime")]
    [True, True, True, False, False, False, False, True]
    >>> [is_adjective(k) for k in ("trial", "clownfish", "selfish", "funeral", "supernatural", "anti-war")]
    [False, False, True, False, True, True]
    """
    w = keyword.lower().split()
    if len(w) != 1 or w[0] in _NOT_ADJECTIVE:
        return False
    return w[0] in _ADJECTIVES or w[0].startswith("anti-") or bool(_ADJECTIVE.search(w[0]))


def topic_keywords(keywords, texts=(), title: str = "") -> list[str]:
    """Keywords that read as the topic of "a film about X": no meta keyword ("aftercreditsstinger",
    "based on comic book", "woman director"), no participle or adjective ("held captive", "mentally
    disabled"), no genre word; each word in the casing the evidence's `texts` give it ("fbi" -> "FBI"
    when the plot writes "FBI").

    >>> topic_keywords(["heist", "based on comic book", "held captive", "fbi agent", "war", "aftercreditsstinger", "imdb top 250"],
    ...                ["An FBI agent tracks thieves."])
    ['heist']
    >>> topic_keywords(["chicago", "leonardo dicaprio", "con man"], ["In Chicago, Leonardo meets a con man."])
    ['con man']
    >>> topic_keywords(["black people", "jew", "overweight man", "racism", "alone", "black humor", "friendship"])
    ['racism', 'friendship']
    >>> topic_keywords(["funny", "atmospheric", "great soundtrack", "pixar", "prequel", "ensemble cast", "pretend", "gore",
    ...                 "u.s. navy", "19th century", "rich"])
    ['gore']

    With the film's `title`, a keyword that repeats a title word is left out ("a film about a
    spider" is Spider-Man 3's name, not its topic):

    >>> topic_keywords(["spider", "spiders", "sandman", "taxi"], title="Spider-Man 3")
    ['sandman', 'taxi']

    A keyword that starts with a name is left out: "a thriller film about Chicago" (The Fugitive)
    or "both are about Arnold Schwarzenegger" is not what the film is about.
    """
    cased = {w.lower(): w for t in texts for w in tokens(t or "") if w[:1].isupper()}
    named = {lemma(w) for part in tokens(title) for w in re.split(r"[-']", part.lower()) if len(w) > 2} - CONNECTOR_LEMMAS
    out = []
    for k in keywords:
        words = k.split()
        if not words or META_KEYWORD.search(k) or any(w.lower() in GENRE_WORDS for w in words):
            continue
        if any((w.endswith("ed") and len(w) > 3) or w in _PARTICIPLES for w in words) or words[-1].endswith("ly"):
            continue
        if len(words) > 3 or len({lemma(w) for w in words}) < len(words):
            continue  # "brother brother relationship" reads as a slip
        if "." in k or any(c.isdigit() for c in k):
            continue  # "about u.s. Navy", "about 19th century": neither reads without its article
        if is_adjective(k) or _PEOPLE_GROUP.match(k) or (len(words) == 1 and k.lower() in _NOT_NOUN) or {lemma(w.lower()) for w in words} & named:
            continue
        said = [cased.get(w.lower(), w) for w in words]
        if said[0][:1].isupper():
            continue  # a name (place, person, studio: "Chicago", "Arnold Schwarzenegger", "Disney"): a film is not "about" it
        out.append(" ".join(said))
    return out
