"""Anki packages built the way Anki writes them, for the deck-format tests.

* ``legacy_package``: schema 11, ``collection.anki2`` (or ``.anki21``) with the
  note types and decks as JSON in the ``col`` row and ``media`` as a JSON map:
  what Anki before 2.1.50 exports, and "legacy" exports since.
* ``modern_package``: schema 18, ``collection.anki21b`` compressed with zstd, the
  note types, fields, templates and decks in their own tables with protobuf
  ``config`` blobs, a ``meta`` protobuf, ``media`` as a zstd-compressed
  ``MediaEntries`` protobuf and each media file zstd-compressed, plus the stub
  ``collection.anki2`` Anki adds for older versions.

The tables are Anki's own DDL (rslib/src/storage/schema11.sql and the upgrades
to 18); protobuf fields follow anki/proto (notetypes.proto, import_export.proto).
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA11 = """
create table col (id integer primary key, crt integer not null, mod integer not null, scm integer not null,
  ver integer not null, dty integer not null, usn integer not null, ls integer not null, conf text not null,
  models text not null, decks text not null, dconf text not null, tags text not null);
create table notes (id integer primary key, guid text not null, mid integer not null, mod integer not null,
  usn integer not null, tags text not null, flds text not null, sfld integer not null, csum integer not null,
  flags integer not null, data text not null);
create table cards (id integer primary key, nid integer not null, did integer not null, ord integer not null,
  mod integer not null, usn integer not null, type integer not null, queue integer not null, due integer not null,
  ivl integer not null, factor integer not null, reps integer not null, lapses integer not null, left integer not null,
  odue integer not null, odid integer not null, flags integer not null, data text not null);
create table revlog (id integer primary key, cid integer not null, usn integer not null, ease integer not null,
  ivl integer not null, lastIvl integer not null, factor integer not null, time integer not null, type integer not null);
create table graves (usn integer not null, oid integer not null, type integer not null);
create index ix_notes_usn on notes (usn);
create index ix_cards_usn on cards (usn);
create index ix_revlog_usn on revlog (usn);
create index ix_cards_nid on cards (nid);
create index ix_cards_sched on cards (did, queue, due);
create index ix_revlog_cid on revlog (cid);
create index ix_notes_csum on notes (csum);
"""

UPGRADES_TO_18 = """
create table deck_config (id integer primary key not null, name text not null collate unicase,
  mtime_secs integer not null, usn integer not null, config blob not null);
create table config (key text not null primary key, usn integer not null, mtime_secs integer not null,
  val blob not null) without rowid;
create table fields (ntid integer not null, ord integer not null, name text not null collate unicase,
  config blob not null, primary key (ntid, ord)) without rowid;
create unique index idx_fields_name_ntid on fields (name, ntid);
create table templates (ntid integer not null, ord integer not null, name text not null collate unicase,
  mtime_secs integer not null, usn integer not null, config blob not null, primary key (ntid, ord)) without rowid;
create unique index idx_templates_name_ntid on templates (name, ntid);
create index idx_templates_usn on templates (usn);
create table notetypes (id integer not null primary key, name text not null collate unicase,
  mtime_secs integer not null, usn integer not null, config blob not null);
create unique index idx_notetypes_name on notetypes (name);
create index idx_notetypes_usn on notetypes (usn);
create table decks (name text not null primary key collate unicase, id integer not null,
  mtime_secs integer not null, usn integer not null, common bytes not null, kind bytes not null);
create unique index idx_decks_id on decks (id);
create table tags (id integer primary key not null, name text not null collate unicase, usn integer not null,
  config blob not null);
drop table graves;
create table graves (oid integer not null, type integer not null, usn integer not null,
  primary key (oid, type)) without rowid;
create index idx_graves_pending on graves (usn);
"""

BASIC_CSS = ".card { font-family: arial; font-size: 20px; text-align: center; color: black; background-color: white; }"


@dataclass
class NoteType:
    id: int
    name: str
    fields: list[str]
    templates: list[tuple[str, str, str]]  # name, qfmt, afmt
    cloze: bool = False


BASIC = NoteType(1_700_000_000_001, "Basic", ["Front", "Back"], [("Card 1", "{{Front}}", "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}")])
REVERSED = NoteType(
    1_700_000_000_002,
    "Basic (and reversed card)",
    ["Front", "Back"],
    [("Card 1", "{{Front}}", "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}"), ("Card 2", "{{Back}}", "{{FrontSide}}\n\n<hr id=answer>\n\n{{Front}}")],
)
CLOZE = NoteType(
    1_700_000_000_003, "Cloze", ["Text", "Back Extra"], [("Cloze", "{{cloze:Text}}", "{{cloze:Text}}<br>\n{{Back Extra}}")], cloze=True
)
TYPE_IN = NoteType(
    1_700_000_000_004,
    "Basic (type in the answer)",
    ["Front", "Back"],
    [("Card 1", "{{Front}}\n\n{{type:Back}}", "{{Front}}\n\n<hr id=answer>\n\n{{type:Back}}")],
)


@dataclass
class Note:
    notetype: NoteType
    fields: list[str]
    deck: str = "Default"
    tags: str = ""
    cards: list[int] | None = None  # template ords (cloze: number - 1); default: every template / every cloze number


@dataclass
class Package:
    notes: list[Note]
    media: dict[str, bytes] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)  # deck name -> its description (HTML, as Anki keeps it)


# --- protobuf ------------------------------------------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_int(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def pb_bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


# --- building --------------------------------------------------------------------------


def _unicase(a: str, b: str) -> int:
    return (a.casefold() > b.casefold()) - (a.casefold() < b.casefold())


def _card_ords(note: Note) -> list[int]:
    if note.cards is not None:
        return note.cards
    if note.notetype.cloze:
        import re

        return sorted({int(n) - 1 for n in re.findall(r"\{\{c(\d+)::", note.fields[0])})
    return list(range(len(note.notetype.templates)))


def _deck_ids(notes: list[Note]) -> dict[str, int]:
    names = ["Default", *dict.fromkeys(n.deck for n in notes if n.deck != "Default")]
    return {name: 1 if name == "Default" else 1_700_000_100_000 + i for i, name in enumerate(names)}


def _fill(db: sqlite3.Connection, notes: list[Note], decks: dict[str, int]) -> None:
    card_id = 1_700_000_200_000
    for i, note in enumerate(notes):
        nid = 1_700_000_300_000 + i
        flds = "\x1f".join(note.fields)
        db.execute(
            "insert into notes values (?,?,?,?,?,?,?,?,?,?,?)",
            (nid, f"guid{i:04d}", note.notetype.id, 1_700_000_000, -1, f" {note.tags} " if note.tags else "", flds, note.fields[0], 12345, 0, ""),
        )
        for ord_ in _card_ords(note):
            card_id += 1
            db.execute(
                "insert into cards values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (card_id, nid, decks[note.deck], ord_, 1_700_000_000, -1, 0, 0, i + 1, 0, 0, 0, 0, 0, 0, 0, 0, "{}"),
            )


def _legacy_models(notetypes: list[NoteType]) -> dict:
    return {
        str(nt.id): {
            "id": nt.id, "name": nt.name, "type": 1 if nt.cloze else 0, "mod": 1_700_000_000, "usn": -1, "sortf": 0, "did": 1,
            "tmpls": [
                {"name": name, "ord": k, "qfmt": q, "afmt": a, "bqfmt": "", "bafmt": "", "did": None, "bfont": "", "bsize": 0}
                for k, (name, q, a) in enumerate(nt.templates)
            ],
            "flds": [{"name": f, "ord": k, "sticky": False, "rtl": False, "font": "Arial", "size": 20, "media": []} for k, f in enumerate(nt.fields)],
            "css": BASIC_CSS, "latexPre": "\\documentclass[12pt]{article}", "latexPost": "\\end{document}", "latexsvg": False,
            "req": [[k, "any", [0]] for k in range(len(nt.templates))], "tags": [], "vers": [],
        }
        for nt in notetypes
    }  # fmt: skip


def _legacy_decks(decks: dict[str, int], descriptions: dict[str, str]) -> dict:
    return {
        str(did): {
            "id": did, "name": name, "conf": 1, "desc": descriptions.get(name, ""), "dyn": 0, "collapsed": False, "extendNew": 0, "extendRev": 0,
            "newToday": [0, 0], "revToday": [0, 0], "lrnToday": [0, 0], "timeToday": [0, 0], "mod": 1_700_000_000, "usn": -1,
        }
        for name, did in decks.items()
    }  # fmt: skip


def collection_legacy(path: Path, notes: list[Note], descriptions: dict[str, str] | None = None) -> None:
    """A schema 11 collection file."""
    notetypes = list({n.notetype.id: n.notetype for n in notes}.values())
    decks = _deck_ids(notes)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")  # a test file: no need to wait for the disk
    db.executescript(SCHEMA11)
    db.execute(
        "insert into col values (1,?,?,?,11,0,0,0,?,?,?,?,?)",
        (1_600_000_000, 1_700_000_000_000, 1_700_000_000_000, json.dumps({"nextPos": 1}), json.dumps(_legacy_models(notetypes)),
         json.dumps(_legacy_decks(decks, descriptions or {})), json.dumps({"1": {"id": 1, "name": "Default"}}), "{}"),
    )  # fmt: skip
    _fill(db, notes, decks)
    db.commit()
    db.close()


def collection_modern(path: Path, notes: list[Note], descriptions: dict[str, str] | None = None) -> None:
    """A schema 18 collection file, as Anki 2.1.50+ keeps it."""
    notetypes = list({n.notetype.id: n.notetype for n in notes}.values())
    decks = _deck_ids(notes)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    db.create_collation("unicase", _unicase)
    db.executescript(SCHEMA11 + UPGRADES_TO_18)
    db.execute("insert into col values (1,?,?,?,18,0,0,0,'','','','','')", (1_600_000_000, 1_700_000_000_000, 1_700_000_000_000))
    for nt in notetypes:
        config = pb_int(1, 1 if nt.cloze else 0) + pb_bytes(3, BASIC_CSS) + pb_bytes(5, "\\documentclass[12pt]{article}")
        db.execute("insert into notetypes values (?,?,?,?,?)", (nt.id, nt.name, 1_700_000_000, -1, config))
        for k, name in enumerate(nt.fields):
            db.execute("insert into fields values (?,?,?,?)", (nt.id, k, name, pb_bytes(3, "Arial") + pb_int(4, 20)))
        for k, (name, q, a) in enumerate(nt.templates):
            db.execute("insert into templates values (?,?,?,?,?,?)", (nt.id, k, name, 1_700_000_000, -1, pb_bytes(1, q) + pb_bytes(2, a)))
    for name, did in decks.items():
        # Deck.Common and Deck.KindContainer (a Normal deck, its description in field 4); names nest with \x1f, not "::".
        kind = pb_bytes(1, pb_int(1, 1) + pb_bytes(4, (descriptions or {}).get(name, "")))
        db.execute("insert into decks values (?,?,?,?,?,?)", (name.replace("::", "\x1f"), did, 1_700_000_000, -1, pb_int(1, 0), kind))
    db.execute("insert into deck_config values (1, 'Default', 1700000000, -1, ?)", (pb_int(9, 20),))
    db.execute("insert into config values ('curDeck', -1, 1700000000, ?)", (b"1",))
    _fill(db, notes, decks)
    db.commit()
    db.close()


def legacy_package(path: Path, package: Package, *, member: str = "collection.anki2") -> Path:
    collection = path.with_suffix(".collection")
    collection_legacy(collection, package.notes, package.descriptions)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(collection, member)
        names = {str(k): name for k, name in enumerate(package.media)}
        z.writestr("media", json.dumps(names))
        for k, data in enumerate(package.media.values()):
            z.writestr(str(k), data)
    collection.unlink()
    return path


def modern_package(path: Path, package: Package) -> Path:
    import hashlib

    import zstandard

    compress = zstandard.ZstdCompressor().compress
    collection = path.with_suffix(".collection")
    collection_modern(collection, package.notes, package.descriptions)
    stub = path.with_suffix(".stub")
    collection_legacy(stub, [Note(BASIC, ["This file requires a newer version of Anki.", "Please update to the latest Anki version, then import the .colpkg/.apkg file again."])])
    entries = b"".join(
        pb_bytes(1, pb_bytes(1, name) + pb_int(2, len(data)) + pb_bytes(3, hashlib.sha1(data).digest())) for name, data in package.media.items()
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.write(stub, "collection.anki2")
        z.writestr("collection.anki21b", compress(collection.read_bytes()))
        z.writestr("meta", pb_int(1, 3))  # PackageMetadata.version = VERSION_LATEST
        z.writestr("media", compress(entries))
        for k, data in enumerate(package.media.values()):
            z.writestr(str(k), compress(data))
    collection.unlink()
    stub.unlink()
    return path
