"""Anki packages (``.apkg``, ``.colpkg``) read into grader's cards.

A package is a zip holding the SQLite collection and the media:

* ``collection.anki21b``: the collection compressed with zstd (Anki 2.1.50 and
  later; such packages also carry a stub ``collection.anki2`` telling old
  versions to upgrade, so the newest member is read first), else
  ``collection.anki21`` or ``collection.anki2`` uncompressed (older exports).
* In schema 11 (older) the note types and decks are JSON in the ``col`` row; from
  schema 15 they are tables (``notetypes``, ``fields``, ``templates``, ``decks``)
  whose ``config`` columns are protobuf messages, of which two fields are read:
  ``Notetype.Config.kind`` (1 is cloze) and ``Template.Config`` ``q_format`` and
  ``a_format``. Names there sort with Anki's ``unicase`` collation, registered here.
* ``media``: JSON ``{"0": "name.png"}`` in old packages; in new ones a
  zstd-compressed protobuf ``MediaEntries`` list, whose position is the zip
  member's name; the files themselves are then zstd-compressed too.

Every Anki card becomes one card: its template rendered with its note's fields
(``anki_notes``), HTML stripped; a cloze card keeps its number (``c2`` blanks
every ``{{c2::...}}`` of the note) and its deletions are its key terms. A card's
``line`` is its position in the collection (notes in creation order), which
``lint`` shows where a file would show a line.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..cardtext import Finding, ParsedDeck, RawCard, build_cards, highlights, image_paths, question_image_paths
from ..errors import DeckError
from ..files import untitled
from ..models import Deck
from .anki_notes import answer_side, cloze_terms, empty_cloze, html_to_text, pick_sides, render

COLLECTIONS = ("collection.anki21b", "collection.anki21", "collection.anki2")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_COLLECTION_BYTES = 1024 * 1024 * 1024  # uncompressed; a zip bomb stops here
MAX_MEDIA_BYTES = 256 * 1024 * 1024
KIND_CLOZE = 1


@dataclass
class NoteType:
    name: str
    cloze: bool
    fields: list[str]
    templates: list[tuple[str, str, str]] = field(default_factory=list)  # name, question format, answer format


def parse_package(path: Path) -> ParsedDeck:
    """The cards of an Anki package, in the collection's order."""
    with _open_collection(path) as db:
        try:
            notetypes, decks, descriptions = (_tables(db) if _has_table(db, "notetypes") else _legacy(db))
            # Anki never leaves these NULL or a blob; a package another tool wrote may, and a card is read from it all the same.
            rows = db.execute(
                "SELECT CAST(ifnull(c.ord, 0) AS INTEGER), c.did, n.mid, CAST(ifnull(n.flds, '') AS TEXT), CAST(ifnull(n.tags, '') AS TEXT)"
                " FROM cards c JOIN notes n ON n.id = c.nid ORDER BY n.id, c.ord"
            ).fetchall()
        except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: JSON of another shape
            raise DeckError(f"not a readable Anki collection ({exc})", path=path) from None
    raw: list[RawCard] = []
    as_given: list[bool] = []  # a cloze card's terms are its deletions, never derived from the rest of the note
    used_decks: list[str] = []
    used_ids: list[int] = []
    findings: list[Finding] = []
    for number, (ord_, did, mid, flds, tags) in enumerate(rows, start=1):
        notetype = notetypes.get(mid)
        if notetype is None:
            continue
        card = _card(notetype, flds.split("\x1f"), ord_, number, {"Tags": tags.strip(), "Deck": decks.get(did, "")})
        if card is not None:
            raw.append(card)
            as_given.append(notetype.cloze)
            used_decks.append(decks.get(did, ""))
            used_ids.append(did)
            if notetype.cloze and (empty := empty_cloze(ord_ + 1, card[4])) is not None:
                findings.append(Finding(number, empty))
    cards = build_cards(raw, findings, derived_note=False, side_notes=False, terms_as_given=as_given)
    language = _language([descriptions[did] for did in dict.fromkeys(used_ids) if did in descriptions], path)
    return ParsedDeck(Deck(path=str(path), title=_title(used_decks, path), cards=cards, language=language), findings)


def _language(descriptions: list[str], path: Path) -> str | None:
    """The language a ``language: german`` line in the description of a deck the cards are in says, if one does
    (the first such deck's, in the order of its cards)."""
    from ..language import declared_language

    for description in descriptions:
        said = declared_language(html_to_text(description), path, first_line=None)
        if said is not None:
            return said
    return None


def _card(notetype: NoteType, values: list[str], ord_: int, number: int, special: dict[str, str]) -> RawCard | None:
    """One Anki card as grader's raw card; None when its question renders empty (Anki would not show it)."""
    fields = dict(zip(notetype.fields, values + [""] * (len(notetype.fields) - len(values))))
    if notetype.cloze:
        _, qfmt, afmt = notetype.templates[0] if notetype.templates else ("", "{{cloze:Text}}", "{{cloze:Text}}")
        cloze = ord_ + 1
    else:
        if not notetype.templates:
            front, back = pick_sides(notetype.fields)
            notetype.templates.append(("Card 1", f"{{{{{notetype.fields[front]}}}}}", "" if back is None else f"{{{{{notetype.fields[back]}}}}}"))
        if ord_ >= len(notetype.templates):
            return None
        _, qfmt, afmt = notetype.templates[ord_]
        cloze = None
    special = {**special, "Card": notetype.templates[ord_ if cloze is None else 0][0], "Type": notetype.name}
    question_html = render(qfmt, fields, cloze=cloze, special=special)
    question = html_to_text(question_html)
    if not question:
        return None
    answer = html_to_text(answer_side(render(afmt, fields, cloze=cloze, answer=True, special={**special, "FrontSide": ""})))
    if cloze is not None:
        source = next((v for k, v in fields.items() if f"cloze:{k}".casefold() in qfmt.casefold()), values[0] if values else "")
        terms = cloze_terms(source, cloze)
    else:
        terms = highlights(answer, number, [])
    return (number, question, answer, image_paths(answer), terms, question_image_paths(question))


def _title(names: list[str], path: Path) -> str:
    """The deck the cards are in, or the deepest one they share; else the file name."""
    parts = [n.split("::") for n in names if n]
    if not parts:
        return untitled(path)
    shared = parts[0]
    for p in parts[1:]:
        k = 0
        while k < min(len(shared), len(p)) and shared[k] == p[k]:
            k += 1
        shared = shared[:k]
    return "::".join(shared) if shared and shared != ["Default"] else untitled(path)


# --- The collection ------------------------------------------------------------------


class _open_collection:
    """The package's collection, copied out of the zip (decompressed) and opened read-only; removed afterwards."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = tempfile.TemporaryDirectory(prefix="grader-anki-")

    def __enter__(self) -> sqlite3.Connection:
        try:
            data = _collection_bytes(self.path)
            target = Path(self.tmp.name) / "collection.sqlite"
            target.write_bytes(data)
            db = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
            db.create_collation("unicase", _unicase)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            self.tmp.cleanup()
            raise DeckError("the collection inside is not a SQLite database", path=self.path) from None
        except BaseException:
            self.tmp.cleanup()
            raise
        self.db = db
        return db

    def __exit__(self, *exc: object) -> None:
        self.db.close()
        self.tmp.cleanup()


def _unicase(a: str, b: str) -> int:
    a, b = a.casefold(), b.casefold()
    return (a > b) - (a < b)


def _zip(path: Path) -> zipfile.ZipFile:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise DeckError("no such deck", path=path) from None
    except OSError as exc:  # a name too long, a folder on the way we may not enter, a link loop
        raise DeckError(f"cannot read deck: {exc.strerror or exc}", path=path) from None
    if not stat.S_ISREG(info.st_mode):
        raise DeckError("not a file, so not an Anki package", path=path)
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DeckError(f"not an Anki package ({getattr(exc, 'strerror', None) or 'not a zip file'})", path=path) from None


def _collection_bytes(path: Path) -> bytes:
    with _zip(path) as z:
        names = set(z.namelist())
        member = next((m for m in COLLECTIONS if m in names), None)
        if member is None:
            raise DeckError("not an Anki package (no collection.anki21b, .anki21 or .anki2 inside)", path=path)
        return _read_member(z, member, path, MAX_COLLECTION_BYTES)


def _read_member(z: zipfile.ZipFile, member: str, path: Path, limit: int) -> bytes:
    """A zip member, zstd-decompressed if it is compressed, never more than ``limit`` bytes."""
    info = z.getinfo(member)
    if info.file_size > limit:
        raise DeckError(f"{member} is too large to read ({info.file_size // 1024 // 1024} MB)", path=path)
    try:
        data = z.read(member)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as exc:  # RuntimeError: encrypted, or compressed as zipfile cannot
        raise DeckError(f"cannot read {member}: {exc}", path=path) from None
    if data[:4] != ZSTD_MAGIC:
        return data
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a declared dependency
        raise DeckError("this Anki package is zstd-compressed: install the zstandard package", path=path) from None
    try:
        with zstandard.ZstdDecompressor().stream_reader(data) as reader:
            out = reader.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise DeckError(f"cannot decompress {member}: {exc}", path=path) from None
    if len(out) > limit:
        raise DeckError(f"{member} is too large to read once decompressed", path=path)
    return out


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _legacy(db: sqlite3.Connection) -> tuple[dict[int, NoteType], dict[int, str], dict[int, str]]:
    """Schema 11: note types and decks (names, descriptions) as JSON in the ``col`` row."""
    models, decks = db.execute("SELECT models, decks FROM col").fetchone()
    notetypes = {}
    for mid, m in json.loads(models or "{}").items():
        fields = [f["name"] for f in sorted(m.get("flds", []), key=lambda f: f.get("ord", 0))]
        templates = [(t.get("name", ""), t.get("qfmt", ""), t.get("afmt", "")) for t in sorted(m.get("tmpls", []), key=lambda t: t.get("ord", 0))]
        notetypes[int(mid)] = NoteType(m.get("name", ""), m.get("type", 0) == KIND_CLOZE, fields, templates)
    read = json.loads(decks or "{}")
    return notetypes, {int(did): d.get("name", "") for did, d in read.items()}, {int(did): str(d.get("desc") or "") for did, d in read.items()}


def _tables(db: sqlite3.Connection) -> tuple[dict[int, NoteType], dict[int, str], dict[int, str]]:
    """Schema 15 and later: note types, fields, templates and decks (names, descriptions) in their own tables."""
    notetypes = {ntid: NoteType(name, _varint_field(config, 1) == KIND_CLOZE, []) for ntid, name, config in db.execute("SELECT id, name, config FROM notetypes")}
    for ntid, name in db.execute("SELECT ntid, name FROM fields ORDER BY ntid, ord"):
        if ntid in notetypes:
            notetypes[ntid].fields.append(name)
    for ntid, name, config in db.execute("SELECT ntid, name, config FROM templates ORDER BY ntid, ord"):
        if ntid in notetypes:
            strings = _string_fields(config)
            notetypes[ntid].templates.append((name, strings.get(1, ""), strings.get(2, "")))
    decks, descriptions = {}, {}
    for did, name, kind in db.execute("SELECT id, name, kind FROM decks"):
        decks[did] = name.replace("\x1f", "::")
        descriptions[did] = _description(kind)
    return notetypes, decks, descriptions


def _description(kind: bytes | None) -> str:
    """A deck's description from its ``kind`` (a ``Deck.KindContainer``: a normal deck, field 1, keeps its
    description in field 4; a filtered deck has none)."""
    try:
        normal = next((v for n, w, v in _messages(kind if isinstance(kind, bytes) else b"") if n == 1 and w == 2), b"")
        return _string_fields(normal).get(4, "")
    except ValueError:  # another tool's package: its cards are read all the same
        return ""


# --- Protobuf, the little of it needed ------------------------------------------------


def _messages(data: bytes):
    """(field number, wire type, value) of each field of a protobuf message; value is an int or bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated protobuf")
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def _varint_field(data: bytes | None, number: int) -> int:
    return next((v for n, w, v in _messages(data or b"") if n == number and w == 0), 0)


def _string_fields(data: bytes | None) -> dict[int, str]:
    return {n: v.decode("utf-8", "replace") for n, w, v in _messages(data or b"") if w == 2}


# --- Media -----------------------------------------------------------------------------

_media_maps: dict[tuple[str, float], dict[str, str]] = {}


def media_names(package: Path) -> dict[str, str]:
    """The package's media: file name -> zip member. Empty if the package has none or cannot be read."""
    try:
        key = (str(package.resolve()), package.stat().st_mtime)
    except OSError:
        return {}
    if key not in _media_maps:
        try:
            with _zip(package) as z:
                data = _read_member(z, "media", package, MAX_MEDIA_BYTES) if "media" in z.namelist() else b"{}"
        except DeckError:
            data = b"{}"
        _media_maps[key] = _media_map(data)
    return _media_maps[key]


def _media_map(data: bytes) -> dict[str, str]:
    if data.lstrip()[:1] == b"{":
        try:
            return {name: member for member, name in json.loads(data).items() if isinstance(name, str)}
        except ValueError:
            return {}
    names: dict[str, str] = {}
    try:
        for index, (number, wire, entry) in enumerate(m for m in _messages(data) if m[0] == 1 and m[1] == 2):
            fields = {n: v for n, _, v in _messages(entry)}
            if isinstance(fields.get(1), bytes):
                names[fields[1].decode("utf-8", "replace")] = str(fields.get(255, index))
    except ValueError:
        return names
    return names


def media_file(package: Path, name: str, *, extract: bool = True) -> Path | None:
    """An image of the package as a file (copied out into the data dir once); None if the package lacks it.

    Without ``extract`` nothing is written: the package itself stands for an image it holds.
    """
    from urllib.parse import unquote

    member = media_names(package).get(name) or media_names(package).get(unquote(name))
    safe = PurePosixPath(unquote(name).replace("\\", "/")).name
    if member is None or not safe:
        return None
    if not extract:
        return package
    from ..config import data_dir

    folder = data_dir() / "media" / hashlib.sha1(str(package.resolve()).encode()).hexdigest()[:16]
    target = folder / safe
    if not os.path.isfile(target):  # never raises, where pathlib's is_file() does for a name too long
        try:
            with _zip(package) as z:
                data = _read_member(z, member, package, MAX_MEDIA_BYTES)
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except (DeckError, OSError, KeyError):
            return None
    return target
