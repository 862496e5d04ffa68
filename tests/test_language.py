"""Stemming in a deck's own language: which language a deck is in, and an inflected answer meeting its term."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.decks import load_deck
from grader.errors import DeckError
from grader.grading import KeywordGrader
from grader.keyterms import parse_term
from grader.language import infer_language
from grader.models import Card
from grader.normalize import stemming_in, tokenize

from .anki_fixtures import BASIC, Note, Package, legacy_package, modern_package

# language, question, reference answer (its term highlighted), an answer with the term inflected
INFLECTED = [
    ("german", "Was ist ein Prozess?", "Ein laufendes Programm mit dem eigenen ==Prozess== und der Speicher, die es nutzt.", "Programme in Prozessen"),
    ("german", "Wo wohnt die Familie?", "Die Familie wohnt in einem ==Haus== und ist nicht allein.", "in Häusern"),
    ("russian", "Что такое гипервизор?", "Программа, которая создаёт ==машины== и распределяет ресурсы между ними.", "создаёт машинами"),
    ("russian", "Что делает планировщик?", "Он выбирает, какой ==процесс== получит процессор, и это важно для системы.", "выбирает между процессами"),
    ("spanish", "¿Qué hace el hipervisor?", "Permite ==ejecutar== varias máquinas virtuales en un solo equipo y las separa.", "va ejecutando máquinas"),
    ("spanish", "¿Qué es la memoria compartida?", "Es una forma de ==compartir== datos entre los procesos del sistema.", "compartiendo datos"),
    ("french", "Comment tourne un émulateur ?", "Il est ==lent== car il traduit chaque instruction dans le logiciel de la machine.", "tourne lentement"),
]


def _deck(tmp_path: Path, question: str, answer: str, language: str | None = None) -> Path:
    said = f"language: {language}\n" if language else ""
    path = tmp_path / "deck.yaml"
    path.write_text(f"title: t\n{said}cards:\n  - question: {question!r}\n    answer: {answer!r}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("language", "question", "answer", "inflected"), INFLECTED)
def test_an_inflected_answer_meets_its_term_in_the_decks_language(tmp_path: Path, language: str, question: str, answer: str, inflected: str) -> None:
    card = load_deck(_deck(tmp_path, question, answer)).cards[0]
    assert card.language == language
    term = KeywordGrader().grade(card, inflected).terms[0]
    assert (term.found, term.how) == (True, "stem")
    # Stemmed in English, as every deck was before, the same answer misses it.
    english = load_deck(_deck(tmp_path, question, answer, language="english")).cards[0]
    assert english.language == "english"
    assert not KeywordGrader().grade(english, inflected).terms[0].found


def test_a_declared_language_wins_over_the_decks_words(tmp_path: Path) -> None:
    deck = load_deck(_deck(tmp_path, "What is a process?", "A program in ==Prozessen== of the system.", language="german"))
    assert deck.cards[0].language == "german"
    # (not "ein Prozess" alone: "ein" says nothing in German, and "Prozess" alone restates "process", its question)
    assert KeywordGrader().grade(deck.cards[0], "ein Prozess im Speicher").terms[0].found


@pytest.mark.parametrize("said", ["German", "GERMAN"])
def test_a_yaml_deck_may_name_its_language_in_any_case(tmp_path: Path, said: str) -> None:
    """As front matter, an Anki description and a text export's header read it."""
    assert load_deck(_deck(tmp_path, "What is a process?", "Ein ==Prozess==.", language=said)).cards[0].language == "german"


def test_an_unknown_declared_language_is_a_deck_error(tmp_path: Path) -> None:
    with pytest.raises(DeckError, match="language: .*unknown language 'klingon'"):
        load_deck(_deck(tmp_path, "q?", "a", language="klingon"))


def test_an_english_deck_is_unaffected(tmp_path: Path) -> None:
    path = tmp_path / "en.md"
    path.write_text("<details><summary>What is aggregation?</summary>\n\nThe ==aggregating== of the results.\n</details>\n", encoding="utf-8")
    card = load_deck(path).cards[0]
    assert card.language == "english"
    term = KeywordGrader().grade(card, "aggregation of results").terms[0]
    assert (term.found, term.how) == (True, "stem")


@pytest.mark.parametrize(
    ("texts", "language"),
    [
        (["Was ist eine VM?"], "german"),  # short: three German function words of four
        (["Что это?", "Это программа."], "russian"),
        (["Hypervisor", "Maschine"], "english"),  # no function word at all
        (["What is the kernel?", "The kernel is the core of the operating system, and it runs der Prozess."], "english"),
        (["What is a VM?", "Eine virtuelle Maschine: the emulation of a computer, and the hardware it has."], "english"),  # mixed, mostly English
        (["Was ist ein Hypervisor?", "Die Software, die the virtual machines verwaltet und sie trennt."], "german"),  # mixed, mostly German
        (["什么是虚拟机？", "一种软件。"], "english"),  # another script: stemmed as before
        (["Что такое VM?", "Eine Maschine und das ist ein Prozess, nicht mehr."], "german"),
    ],
)
def test_infer_language(texts: list[str], language: str) -> None:
    assert infer_language(texts) == language


def test_stemming_in_is_undone_after_its_block() -> None:
    with stemming_in("russian"):
        assert tokenize("машинами")[0].stem == "машин"
    assert tokenize("машинами")[0].stem == "машинами"


@pytest.mark.parametrize(
    "deck",
    [
        # a <details> deck and an Obsidian note: terse cards whose words show no language, which front matter says
        "---\ntags: [net]\nlanguage: german  # stemmed in German\n---\n<details><summary>Kern?</summary>\n\n==Prozess==\n</details>\n",
        '---\nlanguage: "german"\n---\n#flashcards\nKern? :: ==Prozess==\n',
    ],
)
def test_a_markdown_decks_front_matter_says_its_language(tmp_path: Path, deck: str) -> None:
    path = tmp_path / "deck.md"
    path.write_text(deck, encoding="utf-8")
    card = load_deck(path).cards[0]
    assert card.language == "german"
    assert KeywordGrader().grade(card, "Prozessen").terms[0].found
    path.write_text(deck.replace("german", "english", 1).replace('"english"', "english"), encoding="utf-8")
    assert not KeywordGrader().grade(load_deck(path).cards[0], "Prozessen").terms[0].found


def test_an_unknown_language_in_front_matter_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    from .conftest import run_cli

    path = tmp_path / "deck.md"
    path.write_text("---\ntitle: Netze\nlanguage: klingon\n---\n<details><summary>Kern?</summary>\n\n==Prozess==\n</details>\n", encoding="utf-8")
    result = run_cli("cards", str(path))
    assert result.returncode == 1 and result.stderr.startswith(f"Error: {path}:3: language: unknown language 'klingon'")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("value", ["", " ~", " null  # to fill in"])
def test_an_empty_language_line_in_front_matter_says_no_language(tmp_path: Path, value: str) -> None:
    # YAML reads "language:" with no value as null, and a YAML deck takes it as no language said; a note template
    # may leave the line empty. The deck is read, its language inferred, not refused as the unknown language ''.
    path = tmp_path / "deck.md"
    path.write_text(f"---\nlanguage:{value}\n---\n<details><summary>Kern?</summary>\n\n==Prozess==\n</details>\n", encoding="utf-8")
    assert load_deck(path).cards[0].language == "english"


def _card(language: str, term: str = "Prozess") -> Card:
    return Card(id="c", number=1, question="?", answer=term, key_terms=[parse_term(term)], language=language)


@pytest.mark.parametrize(
    ("term", "answer", "how"),
    [
        ("машина", "машиной", "stem"),  # "й" is a letter: "-ой" is an ending the stemmer knows, no typo
        ("ёлка", "елка", "exact"),  # "ё" is written "е" as often as not
        ("かぎ", "かき", None),  # a key is not a persimmon
        ("ガス", "ガス", "exact"),
        ("Größe", "GROSSE", "exact"),  # Latin accents fold as before
    ],
)
def test_only_accents_are_folded(term: str, answer: str, how: str | None) -> None:
    assert KeywordGrader().grade(_card("russian", term), answer).terms[0].how == how


@pytest.mark.parametrize(
    ("term", "answer"),
    [
        ("ガス", unicodedata.normalize("NFD", "ガス")),  # a voicing mark typed as a character of its own
        ("仮想化ゲスト", unicodedata.normalize("NFD", "仮想化ゲストです")),
        ("仮想化ゲスト", "仮想化ｹﾞｽﾄ"),  # half-width katakana, whose voicing mark always stands apart
        ("エミュレーション", "これはｴﾐｭﾚｰｼｮﾝです"),  # and without one, as before
    ],
)
def test_kana_typed_with_a_separate_voicing_mark_meets_its_term(term: str, answer: str) -> None:
    """A Japanese text is read as pairs of characters: a kana and its voicing mark are one of them, not two."""
    assert KeywordGrader().grade(_card("english", term), answer).terms[0].credit == 1.0


def test_card_ids_keep_reading_letters_with_marks_as_before() -> None:
    from grader.cardtext import card_id

    from grader.normalize import fold

    assert (fold("Йод"), fold("и\u0306"), fold("ガ")) == ("йод", "й", "ガ")  # read as the letters they are
    assert card_id("Какой ключ?") == card_id("Какои ключ?")
    assert card_id("ガスとは?") == card_id("カスとは?")



@pytest.mark.parametrize(("language", "answer", "found"), [("russian", "ВСЕ", True), ("greek", "ΤΟ", True), ("english", "ВСЕ", False)])
def test_a_word_in_the_decks_own_script_is_not_read_as_latin(language: str, answer: str, found: bool) -> None:
    # "ВСЕ" and "ΤΟ" look like "BCE" and "TO": in a deck stemmed in English they are read so (a word made to pass for
    # English), in a Russian or Greek deck they are the words they are
    term = answer.lower()
    assert KeywordGrader().grade(_card(language, term), answer).terms[0].found is found


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        ("german", "weiß nicht"),
        ("german", "Keine Ahnung!"),
        ("german", "Leider, ich weiß es nicht."),
        ("french", "Je ne sais pas"),
        ("french", "aucune idée"),
        ("spanish", "No sé."),
        ("italian", "non lo so"),
        ("portuguese", "não sei"),
        ("russian", "Не знаю"),  # capital "Н" and "е" look Latin, yet in a Russian deck they are Russian
        ("russian", "не знаю, извините"),
        ("german", "idk"),  # English ones too
        ("english", "不知道"),  # Chinese and Japanese decks are stemmed in English (no stemmer): read by their script
        ("english", "我不知道。"),
        ("english", "わかりません"),
        ("english", "모르겠어요"),
        ("english", "잘 모르겠습니다"),
    ],
)
def test_a_non_answer_in_the_decks_language_is_no_attempt(language: str, answer: str) -> None:
    grade = KeywordGrader().grade(_card(language), answer)
    assert (grade.score, grade.answered) == (0.0, False)


@pytest.mark.parametrize(
    ("language", "answer"),
    [("english", "keine Ahnung"), ("german", "Prozess, weiß nicht"), ("russian", "не знаю процесс")],
)
def test_a_non_answer_of_another_language_or_with_words_is_an_attempt(language: str, answer: str) -> None:
    assert KeywordGrader().grade(_card(language), answer).answered


@pytest.mark.parametrize(
    ("language", "term", "answer", "found"),
    [
        ("german", "Virtualisierung", "nicht Virtualisierung", False),
        ("german", "Emulation", "Das ist keine Emulation", False),
        ("german", "Emulation", "Das ist eine Emulation", True),
        ("french", "virtualisation", "ce n'est pas la virtualisation", False),
        ("french", "virtualisation", "c'est la virtualisation", True),
        ("spanish", "emulación", "no es emulación", False),
        ("spanish", "emulación", "es emulación", True),
        ("italian", "emulazione", "non è emulazione", False),
        ("portuguese", "emulação", "não é emulação", False),
        ("russian", "эмуляция", "Не эмуляция", False),
        ("russian", "эмуляции", "нет эмуляции", False),
        ("russian", "эмуляция", "это эмуляция", True),
        ("german", "emulation", "it is not emulation", True),  # English words keep the English rule: "is not" is a verb's
        ("english", "计算机", "不是计算机", False),  # Chinese and Japanese by their script, in any deck
        ("english", "计算机", "是计算机", True),
        ("english", "计算机", "不仅计算机", True),  # "not only": a lone 不 begins words that deny nothing
        ("english", "仿真", "不是计算机而是仿真", True),  # what 不是 denies ends where 而是 begins another phrase
        ("english", "エミュレーション", "エミュレーションではない", False),
        ("english", "仮想化", "仮想化じゃありません", False),
        ("english", "仮想化", "仮想化です", True),
        ("english", "에뮬레이션", "에뮬레이션이 아니다", False),  # Korean by its script: the word before 아니다 or 없다
        ("english", "에뮬레이션", "에뮬레이션이 없다", False),
        ("english", "에뮬레이션", "격리가 아니라 에뮬레이션", True),
        ("english", "에뮬레이션", "격리가 없는 에뮬레이션", True),
        ("turkish", "emülasyon", "emülasyon değil", False),  # Turkish denies the word before değil or yok
        ("turkish", "izolasyon", "izolasyon yok", False),
        ("turkish", "emülasyon", "izolasyon değil, emülasyon", True),
        ("english", "degil", "degil", True),  # only a Turkish deck reads them so
    ],
)
def test_a_denial_in_the_decks_language_earns_nothing(language: str, term: str, answer: str, found: bool) -> None:
    assert KeywordGrader().grade(_card(language, term), answer).terms[0].found is found


@pytest.mark.parametrize(
    ("term", "answer", "found"),
    [
        ("하이퍼바이저", "하이퍼바이저는 가상 머신을 관리합니다", True),  # the hypervisor (as topic) manages virtual machines
        ("에뮬레이션", "에뮬레이션입니다", True),  # it is emulation
        ("가상 머신", "가상 머신을 실행합니다", True),  # runs a virtual machine (as object)
        ("고양이", "고양이가", True),  # a noun that ends as a particle does reads alike with its particle and without
        ("속도", "속도는", True),  # two syllables always stay: "속도", speed, keeps its "도"
        ("속도", "속", False),
        ("에뮬레이션", "에뮬레이션이 아니다", False),  # and a denied noun with its particle is still denied
    ],
)
def test_a_korean_noun_is_read_without_its_particle(term: str, answer: str, found: bool) -> None:
    assert KeywordGrader().grade(_card("english", term), answer).terms[0].found is found


@pytest.mark.parametrize(
    ("language", "question", "term", "answer"),
    [
        ("german", "Was ist die Live-Migration einer virtuellen Maschine?", "laufende virtuelle Maschine verschoben", "Die Antwort: Live-Migration einer virtuellen Maschine"),
        ("german", "Was ist die Live-Migration einer virtuellen Maschine?", "laufende virtuelle Maschine verschoben", "Gute Frage. Live-Migration einer virtuellen Maschine"),
        ("french", "Qu'est-ce que la migration à chaud d'une machine virtuelle ?", "machine virtuelle déplacée", "Bonne question. La migration à chaud d'une machine virtuelle"),
        ("spanish", "¿Qué es la migración en vivo de una máquina virtual?", "máquina virtual movida", "Buena pregunta. La migración en vivo de una máquina virtual"),
    ],
)
def test_a_question_framed_in_the_decks_language_is_still_only_restated(language: str, question: str, term: str, answer: str) -> None:
    # "Die Antwort:", "Bonne question." added words the question lacks, so the copy earned its words (0.38, partial)
    card = Card(id="c", number=1, question=question, answer=term, key_terms=[parse_term(term)], language=language)
    assert KeywordGrader().grade(card, answer).score == 0.0


def test_a_chinese_denial_costs_time_in_proportion_to_the_answer() -> None:
    # answers are untrusted text: a negation that never meets the end of its clause reaches only so far
    card = _card("english", "计算机")
    assert not KeywordGrader().grade(card, "没有" * 50_000 + "计算机").terms[0].found
    assert KeywordGrader().grade(card, "计算机ではない" * 20_000 + "计算机").terms[0].found


@pytest.mark.parametrize(
    ("language", "term", "answer", "credit"),
    [
        ("german", "die Virtualisierung", "Virtualisierung", 1.0),  # "die" is no word to recall, as "the" is none
        ("german", "die Virtualisierung", "die", 0.0),
        ("french", "virtualisation", "pas l'émulation mais la virtualisation", 1.0),  # "mais", "but", ends the denial
        ("german", "Emulation", "nicht Virtualisierung und Emulation", 1.0),
        ("german", "Emulation", "nicht die Emulation", 0.0),
    ],
)
def test_the_decks_languages_function_words_are_stopwords(language: str, term: str, answer: str, credit: float) -> None:
    assert KeywordGrader().grade(_card(language, term), answer).terms[0].credit == credit


@pytest.mark.parametrize("build", [legacy_package, modern_package])
def test_an_anki_deck_says_its_language_in_its_description(tmp_path: Path, build: Callable[[Path, Package], Path]) -> None:
    notes = [Note(BASIC, ["Kern?", "Prozess"], deck="Netze")]
    path = build(tmp_path / "netze.apkg", Package(notes, descriptions={"Netze": "Karten über Netze.<br><div>language: German</div>"}))
    card = load_deck(path).cards[0]
    assert card.language == "german"
    said = build(tmp_path / "said.apkg", Package(notes, descriptions={"Netze": "Karten über Netze.<br><div>Language: German</div>"}))
    assert load_deck(said).cards[0].language == "german"  # written as a sentence starts
    assert KeywordGrader().grade(card, "Prozessen").terms[0].found
    plain = build(tmp_path / "plain.apkg", Package(notes))
    assert load_deck(plain).cards[0].language == "english"


def test_an_unknown_language_in_an_anki_description_is_one_line_naming_the_file(tmp_path: Path) -> None:
    from .conftest import run_cli

    notes = [Note(BASIC, ["Kern?", "Prozess"], deck="Netze")]
    path = modern_package(tmp_path / "netze.apkg", Package(notes, descriptions={"Netze": "language: klingon"}))
    result = run_cli("cards", str(path))
    assert result.returncode == 1 and result.stderr.startswith(f"Error: {path}: language: unknown language 'klingon'")
    assert len(result.stderr.splitlines()) == 1


def test_an_anki_text_export_says_its_language_in_a_header(tmp_path: Path) -> None:
    from .conftest import run_cli

    path = tmp_path / "netze.txt"
    path.write_text("#separator:tab\n#html:false\n#language:german\nKern?\tProzess\n", encoding="utf-8")
    card = load_deck(path).cards[0]
    assert card.language == "german"
    assert KeywordGrader().grade(card, "Prozessen").terms[0].found
    path.write_text("#separator:tab\n#html:false\n#language:klingon\nKern?\tProzess\n", encoding="utf-8")
    result = run_cli("cards", str(path))
    assert result.returncode == 1 and result.stderr.startswith(f"Error: {path}:3: language: unknown language 'klingon'")
    assert len(result.stderr.splitlines()) == 1


# --- Terms derived from an unhighlighted answer, in the deck's language ------------------------------------------

# language -> the cards of a small deck without highlights, each (question, answer)
UNHIGHLIGHTED = {
    "german": [
        ("Was ist ein Hypervisor?", "Der Hypervisor ist die Software, die virtuelle Maschinen erzeugt und ausführt, und er teilt die Hardware zwischen den Gastsystemen auf."),
        ("Was ist Paravirtualisierung?", "Das Gastsystem wird verändert, damit es nicht die Hardware emuliert, sondern den Hypervisor direkt über Hyperaufrufe anspricht."),
        ("Was ist eine Live-Migration?", "Eine laufende virtuelle Maschine wird ohne Unterbrechung auf einen anderen Rechner verschoben, wobei der Speicher schrittweise kopiert wird."),
    ],
    "french": [
        ("Qu'est-ce qu'un hyperviseur ?", "Un hyperviseur est le logiciel qui crée et exécute des machines virtuelles et qui partage le matériel entre les systèmes invités."),
        ("Qu'est-ce que la paravirtualisation ?", "Le système invité est modifié pour qu'il appelle directement l'hyperviseur au lieu d'émuler le matériel."),
    ],
    "russian": [
        ("Что такое гипервизор?", "Гипервизор — это программа, которая создаёт и запускает виртуальные машины и распределяет между ними оборудование."),
        ("Что такое паравиртуализация?", "Гостевая система изменена так, что она не эмулирует оборудование, а напрямую вызывает гипервизор."),
    ],
    "chinese": [  # no stemmer and no function words: stemmed in English, cut at its full-width punctuation, as before
        ("什么是虚拟机监控器？", "虚拟机监控器是创建和运行虚拟机的软件，它在客户系统之间分配硬件。"),
        ("什么是半虚拟化？", "修改客户操作系统，使其直接调用虚拟机监控器，而不是模拟硬件。"),
    ],
}


def _unhighlighted_deck(tmp_path: Path, language: str) -> Path:
    path = tmp_path / f"{language}.yaml"
    cards = "".join(f"  - question: {q!r}\n    answer: {a!r}\n" for q, a in UNHIGHLIGHTED[language])
    path.write_text(f"title: t\ncards:\n{cards}", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("language", "card", "answer", "verdict"),
    [
        ("german", 2, "Die laufende virtuelle Maschine wird ohne Unterbrechung auf einen anderen Rechner verschoben und ihr Speicher schrittweise kopiert.", "correct"),
        # Derived at English stopwords, "der", "ist", "wird" were terms of their own that any German answer has.
        ("german", 2, "Die Maschine wird gelöscht und ist nicht mehr da.", "incorrect"),
        ("french", 0, "C'est le logiciel qui crée et exécute les machines virtuelles et partage le matériel entre les systèmes invités.", "correct"),
        ("french", 0, "C'est un programme qui est dans la machine et qui est très rapide.", "incorrect"),
        ("russian", 0, "Это программа, которая создаёт и запускает виртуальные машины и распределяет между ними оборудование.", "correct"),
        ("russian", 0, "Это то, которая и есть.", "incorrect"),
        ("chinese", 0, "虚拟机监控器是一种创建并运行虚拟机的软件，在客户系统之间分配硬件", "correct"),
        ("chinese", 0, "它是一个打印机，在纸上打印", "incorrect"),
    ],
)
def test_terms_derived_in_the_decks_language_are_met_by_a_right_answer_only(tmp_path: Path, language: str, card: int, answer: str, verdict: str) -> None:
    from grader.scoring import GradingSettings

    deck = load_deck(_unhighlighted_deck(tmp_path, language))
    assert deck.cards[card].key_terms[0].derived
    words_only = KeywordGrader(GradingSettings(match="keyword"))  # the words of the derived terms, not their meaning
    assert words_only.grade(deck.cards[card], answer).verdict.value == verdict


def _derived_in(language: str, answers: list[str], answer: str, question: str) -> list[str]:
    from grader.keyterms import clean_markdown, derive_key_terms, document_frequencies

    with stemming_in(language):
        frequencies = document_frequencies(clean_markdown(a) for a in answers)
        return [t.text for t in derive_key_terms(answer, *frequencies, question)]


def _markdown(cards: list[tuple[str, str]], said: str) -> str:
    return said + "".join(f"<details><summary>{q}</summary>\n\n{a}\n</details>\n\n" for q, a in cards)


def _obsidian(cards: list[tuple[str, str]], said: str) -> str:
    return said + "# Virtualisierung #flashcards\n\n" + "".join(f"{q}::{a}\n\n" for q, a in cards)


def _anki_text(cards: list[tuple[str, str]], said: str) -> str:
    return "#separator:tab\n#html:false\n" + ("#language:german\n" if said else "") + "".join(f"{q}\t{a}\n" for q, a in cards)


def _anki_package(tmp_path: Path, cards: list[tuple[str, str]], said: str) -> Path:
    notes = [Note(BASIC, [q, a], deck="Netze") for q, a in cards]
    return modern_package(tmp_path / "netze.apkg", Package(notes, descriptions={"Netze": "language: german"} if said else {}))


@pytest.mark.parametrize("said", ["", "---\nlanguage: german\n---\n"], ids=["inferred", "declared"])
@pytest.mark.parametrize("form", [".md", ".yaml", "obsidian.md", ".txt", ".apkg"])
def test_every_deck_format_derives_terms_in_the_decks_language(tmp_path: Path, form: str, said: str) -> None:
    import json

    cards = UNHIGHLIGHTED["german"]
    if form == ".apkg":
        path = _anki_package(tmp_path, cards, said)
    else:
        path = tmp_path / f"deck{form}"
        if form == ".yaml":
            text = json.dumps({**({"language": "german"} if said else {}), "cards": [{"question": q, "answer": a} for q, a in cards]})
        else:
            text = {".md": _markdown, "obsidian.md": _obsidian, ".txt": _anki_text}[form](cards, said)
        path.write_text(text, encoding="utf-8")
    deck = load_deck(path)
    assert [c.language for c in deck.cards] == ["german"] * len(cards)
    answers = [c.answer for c in deck.cards]
    for card in deck.cards:
        derived = [t.text for t in card.key_terms]
        assert derived == _derived_in("german", answers, card.answer, card.question)
        assert not {"der", "die", "ist", "und", "wird"} & {t.casefold() for t in derived}


def test_further_reference_answers_derive_their_terms_in_the_decks_language(tmp_path: Path) -> None:
    question, answer = UNHIGHLIGHTED["german"][0]
    other = "Eine Software, die für jedes Gastsystem eine virtuelle Maschine bereitstellt und die Hardware verteilt."
    path = tmp_path / "deck.yaml"
    path.write_text(f"language: german\ncards:\n  - question: {question!r}\n    answer: {answer!r}\n    reference_answers: [{other!r}]\n", encoding="utf-8")
    card = load_deck(path).cards[0]
    assert [t.text for t in card.reference_answers[0].key_terms] == _derived_in("german", [answer], other, question)


def test_an_answer_of_only_function_words_keeps_the_terms_derived_in_english(tmp_path: Path) -> None:
    # Derived in German it has none; its author was told it is graded by terms derived from its answer.
    path = tmp_path / "deck.yaml"
    path.write_text("language: german\ncards:\n  - question: Was ist das?\n    answer: Das ist die.\n", encoding="utf-8")
    card = load_deck(path).cards[0]
    assert _derived_in("german", [card.answer], card.answer, card.question) == []
    assert [t.text for t in card.key_terms] == ["Das ist die"] and card.key_terms[0].derived


def test_derived_terms_are_kept_apart_by_language() -> None:
    from grader.keyterms import derive_key_terms

    answer, question = "Der Speicher wird schrittweise kopiert, und der Rechner ist ein anderer.", "Was ist eine Migration?"
    english = [t.text for t in derive_key_terms(answer, question=question)]
    with stemming_in("german"):
        german = [t.text for t in derive_key_terms(answer, question=question)]
    assert any("der" in t.casefold().split() for t in english)
    assert not any("der" in t.casefold().split() for t in german)  # not what English read of the same words, kept
    assert [t.text for t in derive_key_terms(answer, question=question)] == english


@pytest.mark.parametrize(
    ("language", "answer", "content", "function"),
    [
        (
            "german",
            "Der Hypervisor verteilt die Ressourcen zwischen den virtuellen Maschinen, und es trennt sie voneinander. Im "
            "Gegensatz zum Emulator übersetzt er keine Befehle, sondern lässt sie direkt auf der CPU laufen.",
            {"hypervisor", "ressourcen", "emulator", "befehle", "cpu"},
            {"zwischen", "den", "es", "sie", "im", "zum", "er", "auf"},
        ),
        (
            "spanish",
            "El hipervisor reparte los recursos entre las máquinas virtuales y las aísla unas de otras; a diferencia del "
            "emulador, no traduce las instrucciones, sino que las deja ejecutarse directamente sobre la CPU.",
            {"hipervisor", "recursos", "emulador", "instrucciones", "cpu"},
            {"entre", "las", "unas", "otras", "que", "sobre", "del"},
        ),
        (
            "french",
            "L'hyperviseur répartit les ressources entre les machines virtuelles et les isole les unes des autres ; "
            "contrairement à l'émulateur, il ne traduit pas les instructions, mais les laisse s'exécuter sur le CPU.",
            {"hyperviseur", "ressources", "instructions", "cpu"},
            {"les", "entre", "des", "il", "sur", "à", "unes", "autres"},
        ),
    ],
)
def test_derived_terms_leave_out_the_decks_languages_function_words(language: str, answer: str, content: set[str], function: set[str]) -> None:
    """Not only its commonest: pronouns, prepositions and contractions ("es", "zwischen", "zum") are no words to
    recall, as "it", "between" and "to" are none in English."""
    from grader.keyterms import derive_key_terms

    with stemming_in(language):
        words = {w for t in derive_key_terms(answer, question="?") for w in re.findall(r"\w+", t.text.casefold())}
    assert content <= words
    assert not function & words


@pytest.mark.parametrize("quoted", ["„Hypervisor“", "‚Hypervisor‘", "‹Hypervisor›", "«Hypervisor»"])
def test_quotation_marks_of_other_languages_cut_derived_phrases(quoted: str) -> None:
    """German „…“ and ‚…‘, French and Swiss «…» and ‹…›: a quoted word is a phrase of its own, without its mark."""
    from grader.keyterms import derive_key_terms

    with stemming_in("german"):
        terms = [t.text for t in derive_key_terms(f"Ein sogenannter {quoted} verwaltet sie.", question="Was verwaltet die Maschinen?")]
    assert "hypervisor" in [t.casefold() for t in terms]  # a term of its own
    assert not any(mark in t for t in terms for mark in "„“‚‘‹›«»")


def test_threads_stemming_at_once_get_the_stems_one_thread_gets() -> None:
    """A Snowball stemmer holds the word it works on: grading from several threads (dask's threaded workers) once
    failed with an IndexError, or gave another word's stem."""
    import random
    import string
    import sys
    import threading

    from grader import normalize

    pick = random.Random(1)
    endings = ["ational", "ization", "fulness", "iveness", "ically", "ments", "ings", "ed", "ies", "ousness"]
    words = ["".join(pick.choice(string.ascii_lowercase) for _ in range(pick.randint(3, 9))) + pick.choice(endings) for _ in range(20_000)]
    normalize._stem.cache_clear()
    alone = [normalize.stem(w) for w in words]
    normalize._stem.cache_clear()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns inside a stem, as they may on a busy machine
    together: dict[int, list[str]] = {}
    failures: list[Exception] = []

    def stem_share(k: int) -> None:
        try:
            together[k] = [normalize.stem(w) for w in words[k::4]]
        except Exception as exc:  # any failure is the defect
            failures.append(exc)

    threads = [threading.Thread(target=stem_share, args=(k,)) for k in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
        normalize._stem.cache_clear()
    assert not failures
    assert all(together[k] == alone[k::4] for k in range(4))
