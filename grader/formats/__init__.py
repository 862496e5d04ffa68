"""Deck formats other than grader's own markdown: each reads its files into the same ``Card`` model.

``decks.parse_deck`` picks the reader by extension and content: ``plain``
(YAML and JSON), ``obsidian`` (Obsidian Spaced Repetition notes), ``logseq``
(Logseq pages' ``#card`` blocks), ``anki`` (``.apkg`` and ``.colpkg`` packages),
``anki_text`` (Anki's plain-text export) and ``spreadsheet`` (CSV flashcards). Every reader hands its raw cards to ``cardtext.build_cards``, so ids, key
terms and lint findings are made one way for all of them.
"""
