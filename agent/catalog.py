"""Read and validate catalogs and interaction logs into `Item`s and `Interaction`s.

Two catalog formats:
  * a MovieLens directory (movies.csv, optional tags.csv, links.csv) plus an optional TMDB JSONL
    file keyed by movieId (overview, tagline, keywords, runtime) -- the bundled demo;
  * a JSONL file, one item per line (documented in README "Bring your own catalog"):
    {"id": "tt0113277", "title": "Heat", "year": 1995, "genres": ["Action"], "overview": "...",
     "tagline": "", "tags": [], "keywords": [], "runtime": 170, "media_text": {"Poster text": "HEAT"}}

Interaction logs: MovieLens ratings.csv, or CSV/JSONL with user_id,item_id[,rating][,timestamp].
The two older MovieLens releases read as they ship: ML-100K (u.item catalog, u.data log, tab
separated) and ML-1M (movies.dat catalog, ratings.dat log, "::" separated), latin-1.
Derived media text (poster text and looks, trailer speech: JSONL written by `python -m agent.media`)
is attached to items by id as `Item.media_text`; the demo catalog gets the bundled
data/demo/media/posters.jsonl by default. Errors name the file and line. Left out: reading media
files themselves (agent/media does that, offline and cached).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from agent.errors import CatalogError
from agent.types import HistoryEntry, Interaction, Item, UserHistory

_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[–-]\s*\d{0,4}\s*)?\)\s*$")
_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$")


def split_title(raw: str) -> tuple[str, int | None]:
    """MovieLens title -> (display title, year).

    >>> split_title("Matrix, The (1999)")
    ('The Matrix', 1999)
    >>> split_title("Alien³ (a.k.a. Alien 3) (1992)")
    ('Alien³ (a.k.a. Alien 3)', 1992)
    >>> split_title("Babylon 5")
    ('Babylon 5', None)
    """
    raw = raw.strip()
    year = None
    m = _YEAR.search(raw)
    if m:
        year = int(m.group(1))
        raw = raw[: m.start()].strip()
    # "Matrix, The" and "Shawshank Redemption, The (a.k.a. ...)" both put the article last.
    head, paren, rest = raw.partition(" (")
    a = _ARTICLE.match(head)
    if a:
        sep = "" if a.group(2).endswith("'") else " "
        head = f"{a.group(2)}{sep}{a.group(1)}"
    return (head + paren + rest if paren else head), year


def _open_text(path: Path):
    if not path.exists():
        raise CatalogError(f"catalog file not found: {path}")
    return open(path, newline="", encoding="utf-8")


def _read_csv(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with _open_text(path) as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        for lineno, row in enumerate(reader, start=2):
            yield lineno, row


def load_movielens(directory: Path, tmdb_jsonl: Path | None = None, max_tags: int = 8) -> list[Item]:
    """movies.csv (+ tags.csv, + TMDB JSONL) -> Items, in movieId order."""
    directory = Path(directory)
    tags: dict[str, Counter] = defaultdict(Counter)
    tag_path = directory / "tags.csv"
    if tag_path.exists():
        for _, row in _read_csv(tag_path, ("movieId", "tag")):
            tag = row["tag"].strip().lower()
            if tag:
                tags[row["movieId"]][tag] += 1
    tmdb: dict[str, dict] = {}
    if tmdb_jsonl is not None:
        for lineno, obj in iter_jsonl(Path(tmdb_jsonl)):
            if "movieId" not in obj:
                raise CatalogError(f"{tmdb_jsonl}:{lineno}: missing 'movieId'")
            tmdb[str(obj["movieId"])] = obj
    items = []
    for lineno, row in _read_csv(directory / "movies.csv", ("movieId", "title", "genres")):
        mid = row["movieId"].strip()
        if not mid or not row["title"].strip():
            raise CatalogError(f"{directory / 'movies.csv'}:{lineno}: empty movieId or title")
        title, year = split_title(row["title"])
        genres = tuple(g for g in row["genres"].split("|") if g and g != "(no genres listed)")
        extra = tmdb.get(mid, {})
        items.append(
            Item(
                item_id=mid,
                title=title,
                year=year,
                genres=genres,
                overview=extra.get("overview", ""),
                tagline=extra.get("tagline", ""),
                tags=tuple(t for t, _ in tags[mid].most_common(max_tags)),
                keywords=tuple(extra.get("keywords", ())[:12]),
                runtime=extra.get("runtime") or None,
            )
        )
    return items


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is a CatalogError."""
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise CatalogError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise CatalogError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def _str_list(value, path: Path, lineno: int, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{path}:{lineno}: '{key}' must be a list of strings")
    return tuple(v for v in value if v.strip())


def load_jsonl(path: Path) -> list[Item]:
    """Generic JSONL catalog -> Items (format in the module docstring)."""
    path = Path(path)
    items, seen = [], set()
    for lineno, obj in iter_jsonl(path):
        item_id, title = obj.get("id"), obj.get("title")
        if item_id is None or not str(item_id).strip():
            raise CatalogError(f"{path}:{lineno}: missing 'id'")
        if not isinstance(title, str) or not title.strip():
            raise CatalogError(f"{path}:{lineno}: missing or empty 'title'")
        item_id = str(item_id).strip()
        if item_id in seen:
            raise CatalogError(f"{path}:{lineno}: duplicate id {item_id!r}")
        seen.add(item_id)
        year, runtime = obj.get("year"), obj.get("runtime")
        for key, val in (("year", year), ("runtime", runtime)):
            if val is not None and (not isinstance(val, int) or isinstance(val, bool)):
                raise CatalogError(f"{path}:{lineno}: '{key}' must be an integer")
        media = obj.get("media_text") or {}
        if not isinstance(media, dict) or not all(isinstance(v, str) for v in media.values()):
            raise CatalogError(f"{path}:{lineno}: 'media_text' must map labels to strings")
        items.append(
            Item(
                item_id=item_id,
                title=title.strip(),
                year=year,
                genres=_str_list(obj.get("genres"), path, lineno, "genres"),
                overview=str(obj.get("overview") or ""),
                tagline=str(obj.get("tagline") or ""),
                tags=_str_list(obj.get("tags"), path, lineno, "tags"),
                keywords=_str_list(obj.get("keywords"), path, lineno, "keywords"),
                runtime=runtime,
                media_text=tuple((str(k), v) for k, v in media.items() if v.strip()),
            )
        )
    return items


DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"


def default_media(catalog: Path) -> list[Path]:
    """The bundled poster text belongs to the bundled MovieLens ids only: other catalogs get none."""
    demo = DEMO_DIR / "media" / "posters.jsonl"
    same = Path(catalog).resolve() == (DEMO_DIR / "movielens-small").resolve()
    return [demo] if same and demo.is_file() else []


def attach_media(items: list[Item], media: Sequence[Path]) -> list[Item]:
    """Add derived media text (agent/media/records.py) to items by id; labels the item already has win."""
    from agent.media.records import read_media_text

    found = read_media_text(media)
    out = []
    for it in items:
        extra = found.get(it.item_id, ())
        have = {lab for lab, _ in it.media_text}
        extra = tuple((lab, text) for lab, text in extra if lab not in have)
        out.append(dataclasses.replace(it, media_text=it.media_text + extra) if extra else it)
    return out


def load_catalog(path: Path, tmdb_jsonl: Path | None = None, media: Sequence[Path] | None = None) -> list[Item]:
    """A MovieLens directory or a .jsonl file -> Items, with derived media text from `media` files
    (None: `default_media(path)`; [] for none)."""
    path = Path(path)
    if path.is_dir() and not (path / "movies.csv").exists() and (path / "u.item").exists():
        items = load_ml100k(path)
    elif path.is_dir() and not (path / "movies.csv").exists() and (path / "movies.dat").exists():
        items = load_ml1m(path)
    elif path.is_dir():
        items = load_movielens(path, tmdb_jsonl)
    elif path.suffix == ".jsonl":
        items = load_jsonl(path)
    else:
        raise CatalogError(f"don't know how to read catalog {path}: give a MovieLens directory or a .jsonl file")
    media = default_media(path) if media is None else media
    return attach_media(items, media) if media else items


def load_interactions(path: Path) -> list[Interaction]:
    """ratings.csv (userId,movieId,rating,timestamp) or CSV/JSONL with user_id,item_id[,rating][,timestamp]."""
    path = Path(path)
    if path.is_dir():  # a MovieLens folder: its own log file
        logs = [path / n for n in ("ratings.csv", "u.data", "ratings.dat") if (path / n).exists()]
        if not logs:
            raise CatalogError(f"{path} has no ratings.csv, u.data or ratings.dat")
        path = logs[0]
    if path.name == "u.data" or path.suffix == ".dat":
        return _load_delimited(path)
    out: list[Interaction] = []
    rows: Iterable[tuple[int, dict]]
    if path.suffix == ".jsonl":
        rows = iter_jsonl(path)
    else:
        rows = _read_csv(path, ())
    for lineno, row in rows:
        user = row.get("userId", row.get("user_id"))
        item = row.get("movieId", row.get("item_id"))
        if user is None or item is None or str(user).strip() == "" or str(item).strip() == "":
            raise CatalogError(f"{path}:{lineno}: need userId/user_id and movieId/item_id")
        try:
            rating = row.get("rating")
            rating = None if rating in (None, "") else float(rating)
            ts = int(float(row.get("timestamp") or 0))
        except ValueError:
            raise CatalogError(f"{path}:{lineno}: rating and timestamp must be numbers") from None
        out.append(Interaction(str(user).strip(), str(item).strip(), rating, ts))
    return out


def build_histories(interactions: Iterable[Interaction], like_threshold: float = 4.0) -> dict[str, UserHistory]:
    """Group events per user, ordered by (timestamp, item_id); rating >= threshold (or no rating) is a like."""
    per_user: dict[str, list[Interaction]] = defaultdict(list)
    for it in interactions:
        per_user[it.user_id].append(it)
    out = {}
    for user, events in per_user.items():
        events.sort(key=lambda e: (e.timestamp, _num(e.item_id)))
        entries = tuple(
            HistoryEntry(e.item_id, liked=e.rating is None or e.rating >= like_threshold, rating=e.rating)
            for e in events
        )
        out[user] = UserHistory(user, entries)
    return out


def _num(s: str):
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


# ML-100K's u.item genre flags, in file order (u.genre)
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")


def _latin1_lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.exists():
        raise CatalogError(f"catalog file not found: {path}")
    with open(path, encoding="latin-1") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                yield lineno, line.rstrip("\n")


def load_ml100k(directory: Path) -> list[Item]:
    """MovieLens 100K u.item (id|title|release date|video date|url|19 genre flags) -> Items."""
    path = Path(directory) / "u.item"
    items = []
    for lineno, line in _latin1_lines(path):
        parts = line.split("|")
        if len(parts) < 5 or not parts[0].strip() or not parts[1].strip():
            raise CatalogError(f"{path}:{lineno}: expected id|title|date|video date|url|genre flags")
        title, year = split_title(parts[1])
        flags = parts[5:5 + len(ML100K_GENRES)]
        genres = tuple(g for g, f in zip(ML100K_GENRES, flags) if f.strip() == "1" and g != "unknown")
        items.append(Item(item_id=parts[0].strip(), title=title, year=year, genres=genres))
    return items


def load_ml1m(directory: Path) -> list[Item]:
    """MovieLens 1M movies.dat (MovieID::Title::Genres) -> Items."""
    path = Path(directory) / "movies.dat"
    items = []
    for lineno, line in _latin1_lines(path):
        parts = line.split("::")
        if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
            raise CatalogError(f"{path}:{lineno}: expected MovieID::Title::Genres")
        title, year = split_title(parts[1])
        genres = tuple(g for g in parts[2].split("|") if g and g != "(no genres listed)")
        items.append(Item(item_id=parts[0].strip(), title=title, year=year, genres=genres))
    return items


def _load_delimited(path: Path) -> list[Interaction]:
    """ML-100K u.data (user\titem\trating\ttimestamp) or ML-1M ratings.dat (UserID::MovieID::Rating::Timestamp)."""
    sep = "::" if path.suffix == ".dat" else "\t"
    out = []
    for lineno, line in _latin1_lines(path):
        parts = line.split(sep)
        if len(parts) != 4:
            raise CatalogError(f"{path}:{lineno}: expected user{sep!r}item{sep!r}rating{sep!r}timestamp")
        try:
            out.append(Interaction(parts[0].strip(), parts[1].strip(), float(parts[2]), int(parts[3])))
        except ValueError:
            raise CatalogError(f"{path}:{lineno}: rating and timestamp must be numbers") from None
    return out
