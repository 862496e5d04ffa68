"""Text normalisation shared by deck parsing, matching and term derivation.

Everything is compared in one canonical form: case-folded, accents removed,
punctuation treated as a word break, each word paired with its Snowball stem so
that ``aggregating`` meets ``aggregation``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import NamedTuple

import snowballstemmer

# A word is a run of letters and digits; an apostrophe inside keeps "don't" whole.
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
# Latin combining marks: a decomposed "é" (e and U+0301, as some keyboards and file systems write it) is one letter.
# Card ids have always read words with these inside and every other mark between (``id_text``); grading reads every
# script's marks as parts of words (``marked_word_patterns``).
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# Characters nothing shows (Unicode's default-ignorable code points: soft hyphen, zero-width spaces and joiners, word
# joiner, byte order mark, bidi marks and controls, variation selectors, tag characters, Hangul fillers). A text is
# graded as a reader sees it, so one inside a word is not there: "n<U+200B>ot sharing" is "not sharing", as a
# teacher reads it, and denies the term, where the word broke in two and the denial was lost.
_HIDDEN_CHARS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_HIDDEN = re.compile(f"[{_HIDDEN_CHARS}]")
# Words as card ids have always read them: Latin combining marks inside, hidden characters between (``id_text``).
_HAS_ONLY_MARK = re.compile(f"[{_MARKS}]")
_LETTERS_AS_WRITTEN = rf"[^\W_](?:[^\W_]|[{_MARKS}])*"
_WORD_AS_WRITTEN = re.compile(rf"{_LETTERS_AS_WRITTEN}(?:['’]{_LETTERS_AS_WRITTEN})*", re.UNICODE)
# Letters of other scripts, and Latin small capitals, that a reader takes for Latin letters ("nоt" with a Cyrillic
# "о" reads "not"; Unicode's confusables, TR39), case by case (``_as_seen``).
_LOOKALIKES = str.maketrans(
    {
        other: latin
        for latin, others in {
            "a": "аαᴀ", "b": "ʙ", "c": "сᴄ", "d": "ԁᴅ", "e": "еᴇ", "g": "ɢ", "h": "һʜ", "i": "іιɪ", "j": "јᴊ", "k": "ᴋ",
            "l": "ӏʟ", "m": "ᴍ", "n": "ɴ", "o": "оοᴏ", "p": "рρᴘ", "q": "ԛ", "r": "ʀ", "s": "ѕꜱ", "t": "ᴛ", "u": "υᴜ",
            "v": "νᴠ", "w": "ԝᴡ", "x": "х", "y": "уγʏ", "z": "ᴢ",
            "A": "АΑ", "B": "ВΒ", "C": "С", "E": "ЕΕ", "H": "НΗ", "I": "ІӀΙ", "J": "Ј", "K": "КΚ", "M": "МΜ", "N": "Ν",
            "O": "ОΟ", "P": "РΡ", "Q": "Ԛ", "S": "Ѕ", "T": "ТΤ", "W": "Ԝ", "X": "ХΧ", "Y": "УΥ", "Z": "Ζ",
        }.items()
        for other in others
    }
)  # fmt: skip
_LATIN = re.compile("[A-Za-z]")


def _mark_ranges() -> str:
    """Every combining mark (Unicode categories Mn, Mc, Me) as ranges of a character class.

    A regex word character is none of them, though in many scripts they are letters of the word: a decomposed "é" (e and U+0301,
    as some keyboards and file systems write it), Arabic and Hebrew vowel points, Thai vowels, Devanagari vowel
    signs. Made from the running Python's Unicode tables (7 ms, once, for the first text with a character that is not
    ASCII); blocks that hold no mark are not looked through (CJK ideographs, Hangul syllables, surrogates, private use).
    """
    scanned = (*range(0x300, 0x3400), *range(0xA000, 0xAC00), *range(0xD7B0, 0xD800), *range(0xF900, 0x20000), *range(0xE0100, 0xE01F0))
    marks = [c for c in scanned if unicodedata.category(chr(c))[0] == "M"]
    runs: list[list[int]] = []
    for c in marks:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in runs)


@lru_cache(maxsize=1)
def marked_word_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Whether a text has a combining mark or a hidden character, and the word pattern that keeps both inside words
    (``_WORD`` is faster, and most texts have neither): made on first use."""
    inside = f"{_mark_ranges()}{_HIDDEN_CHARS}"
    letters = rf"[^\W_](?:[^\W_]|[{inside}])*"
    return re.compile(f"[{inside}]"), re.compile(rf"{letters}(?:['’]{letters})*", re.UNICODE)


# Text of these blocks holds no combining mark and no hidden character (Latin but the soft hyphen, Greek, Cyrillic
# but its marks, general punctuation but the invisible ones, CJK ideographs and kana, Hangul syllables, full-width
# forms): its words are ``_WORD``'s, without building the pattern that looks for marks (``_mark_ranges``).
_MARK_FREE = (
    "[\x00-\xac\xae-\u02ff\u0370-\u0482\u048a-\u052f\u2010-\u2027\u2030-\u205e\u3001-\u3029\u3030-\u3098"
    "\u30a1-\u30fa\u4e00-\u9fff\uac00-\ud7a3\uff01-\uff5e]*"
)


@lru_cache(maxsize=1)
def _mark_free() -> re.Pattern[str]:
    """``_MARK_FREE`` compiled on first use: its wide ranges cost a millisecond and a half, which ASCII text never needs."""
    return re.compile(_MARK_FREE)


def _written_words(text: str) -> list[str]:
    """The words of a text as written (``_WORD``), its combining marks and hidden characters kept inside them."""
    if text.isascii() or _mark_free().fullmatch(text):
        return _WORD.findall(text)
    has_mark, marked_word = marked_word_patterns()
    return marked_word.findall(text) if has_mark.search(text) else _WORD.findall(text)


def _as_seen(word: str) -> str:
    """A written word as a reader sees it: without hidden characters, and its look-alike letters read as Latin ones
    when it has a Latin letter or has two or more letters that all look Latin ("ΝΟΤ" in Greek capitals reads "NOT";
    a Greek "ρ" alone, a Russian "он", stay as they are), unless it is written in the script of the language its
    deck is stemmed in: there "Не" is Russian, "not", and no "He"."""
    word = _HIDDEN.sub("", word)
    seen = word.translate(_LOOKALIKES)
    if _LATIN.search(word):
        return seen
    return seen if len(seen) > 1 and seen.isascii() and not _in_own_script(word) else word


# The scripts of the stemming languages not written in Latin letters whose letters look Latin (``_LOOKALIKES``).
_SCRIPTS = {"russian": ("\u0400", "\u052f"), "serbian": ("\u0400", "\u052f"), "greek": ("\u0370", "\u03ff")}


def _in_own_script(word: str) -> bool:
    """Whether a word begins with a letter of the script of the language words are stemmed in (``stemming_in``)."""
    script = _SCRIPTS.get(_STEMMING.get())
    return script is not None and script[0] <= word[0] <= script[1]


# Snowball's stemmers, each made on first use. Grading stems in its deck's language (``stemming_in``), English
# unless the deck says or shows another (``decks.in_its_language``); everything else stems in English.
_STEMMERS = {"english": snowballstemmer.stemmer("english")}
# A Snowball stemmer keeps the word it is stemming in itself: two threads stemming at once (dask's threaded workers,
# a web server grading) corrupt each other's stems, or fail. One thread stems at a time; answers' words are cached.
_STEMMING_LOCK = threading.Lock()
STEMMING_LANGUAGES = frozenset(snowballstemmer.algorithms()) - {"porter", "dutch_porter"}  # the two are older English and Dutch
_STEMMING: ContextVar[str] = ContextVar("stemming", default="english")


@contextmanager
def stemming_in(language: str) -> Iterator[None]:
    """Stem words in ``language`` (one of ``STEMMING_LANGUAGES``) inside the block, in this thread only."""
    token = _STEMMING.set(language)
    try:
        yield
    finally:
        _STEMMING.reset(token)


def stemming_language() -> str:
    """The language words are stemmed in here (``stemming_in``): for what caches what it reads by language."""
    return _STEMMING.get()


# Negations carry meaning ("non privileged" is not "privileged"), so they are
# kept as content and spelled one way.
NEGATIONS = {"no": "not", "not": "not", "non": "not", "never": "not", "nt": "not", "cannot": "not"}
# English contractions typed without their apostrophe ("doesnt", "isnt"), in English decks: they meet the negation of
# an author's highlighted term (``match``). Not read as "not" everywhere: "dont" is French, and in terms derived from
# a reference the datasets' figures do not support it (eval/RESULTS.md).
UNMARKED_CONTRACTIONS = frozenset(
    "dont doesnt didnt isnt arent wasnt werent hasnt havent hadnt wont wouldnt cant couldnt shouldnt mustnt neednt".split()
)

# Order words (before, after, first, once, until, again) are content: sequence is often the point.
STOPWORDS = frozenset(
    """a about above   against all also am an and any are as at be because been
     being below between both but by can could did do does doing down during each
    e.g eg etc few for from further had has have having he her here hers herself him himself
    his how i ie if in into is it its itself just let lets me more most my myself of off on
     only or other our ours ourselves out over own same she should so some such than that
    the their theirs them themselves then there these they this those through to too under
     up us very was we were what when where which while who whom why will with would you
    your yours yourself yourselves s t d ll m re ve y may might must shall one's way thing
    things something basically means meaning like well used use using""".split()
)


# Each language's function words beyond the commonest that ``language.function_words`` counts to tell a deck's
# language: articles, pronouns, prepositions, auxiliaries and the words that join phrases, in the languages a deck may
# be stemmed in. They are stopwords there, as "the", "and" and "between" are in English. As in English, negations
# ("nicht", "sans"), order words ("vor", "nach", "bis", "après") and "without" stay content.
_MORE_FUNCTION_WORDS = {
    "german": """aber alle allem allen aller alles als also am an andere anderen anderer anderes auch auf aus bei beim
        bin bist bzw da dabei dadurch dafür dagegen daher damit daran darauf darin darum darüber dass daß dein deine
        deinem deinen deiner dem den denen denn der deren des dessen deshalb dies diese diesem diesen dieser dieses
        doch dort du durch ein eine einem einen einer eines einige einigen einiger einiges er es etwas euch euer eure
        für gegen gewesen habe haben hat hatte hatten hier ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in
        indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener jenes kann können könnte man manche mehr mein
        meine meinem meinen meiner mich mir mit muss müssen musste noch nur ob obwohl oder sehr sein seine seinem seinen
        seiner seines selbst sich sie sind so solche solchen soll sollen sollte sondern sonst sowie über um und uns
        unser unsere unserem unseren unter viel vom von während war waren was weil welche welchem welchen welcher
        welches wenn wer werde werden wie wir wird wo wurde wurden würde würden zu zum zur zwar zwischen""",
    "french": """a ai ainsi alors as au aussi autre autres aux avec avez avoir avons c ça car ce ceci cela celle celles celui ces
        cet cette ceux chez comme d dans de des donc dont du elle elles en entre est et était étaient été être eux fait
        il ils j je l la le les leur leurs lorsque lui m ma mais me même mes moi mon n nous on ont or ou où par peut
        peuvent plus pour qu quand que qui s sa se sera seront ses si soit son sont sous sur t ta te tes toi ton tous
        tout toute toutes très tu un une uns unes vos votre vous y""",
    "spanish": """a al algo algunas algunos ante así cada como con contra cual cuales cuando de del desde donde
        durante e el ella ellas ellos en entonces entre era eran es esa esas ese eso esos esta estaba estaban estado
        estamos están estar estas este esto estos estoy fue fueron ha han has hay la las le les lo los más me mi mis
        mucho muchos muy ni nos nosotros o os otra otras otro otros para pero poco por porque pues que quien quienes se
        sea sean ser si sido siendo sino sobre son su sus también tanto te tiene tienen todo todos tu tus un una uno unos
        unas y ya yo""",
    "italian": """a ad agli ai al alla alle allo anche ancora che ci come con così cui da dal dalla dalle dallo degli
        dei del della delle dello di dove e ed è era erano essere fa fra gli ha hanno ho i il in io la le lei li lo loro
        lui ma mi mia mio molto ne nei nel nella nelle nello noi o oppure per perché più può quale quali quando quella
        quelle quelli quello questa queste questi questo se si sia siamo sono su sua sue sui sul sulla suo suoi tra tu
        tutti tutto un una uno vi voi""",
    "portuguese": """a à ainda ao aos as às com como da das de dela dele do dos e é ela elas ele eles em entre era
        eram essa essas esse esses esta está estão estas este estes eu foi foram há isso isto já lhe lhes mais mas me
        mesmo meu minha muito na nas nem no nos nós num numa o onde os ou para pela pelas pelo pelos pois por porque
        qual quando que quem se ser seu seus sua suas são só sobre também te tem têm ter tinha um uma umas uns você
        vocês""",
    "dutch": """aan al alle als bij dan dat de der deze die dit door een en er haar had heb hebben heeft hem het hier
        hij hoe hun ik in is je kan kon maar me meer men met mij mijn nog nu of om omdat onder ons ook op over te tegen
        toch u uit van veel voor want was wat we wel werd wie wij wil worden wordt zal ze zelf zich zij zijn zo zou""",
    "russian": """а более бы был была были было быть в вам вас весь во вот все всего всех вы где да даже для его её
        если есть ещё же за и из или им их к как когда кто ли либо мне может мы на над надо наш но ну о об однако он
        она они оно от очень по под при с со так также такой там те тем то того тоже той только том ты у уже хотя
        чего чем что чтобы эта эти это этот я является являются""",
    "swedish": """alla allt att av blev bli blir de dem den denna deras dess det detta dig din dina ditt du där då
        eller en er ett från för han hans har hen henne hennes hon honom hur här i jag ju kan man med mellan men mig min
        mina mitt mot mycket ni nu när och om oss på samma sig sin sina sitt som så till under upp ut vad var vara vi
        vid vilka vilken vilket än är åt över eftersom""",
    "danish": "men eller fordi",
    "norwegian": "men eller fordi",
    "catalan": "pero o perque ni",
    "polish": "ale lub czy bo",
    "czech": "a i nebo protoze",
    "serbian": "а или али",
    "greek": "αλλα ή",
}


def stopwords() -> frozenset[str]:
    """The stopwords of the language words are stemmed in (``stemming_in``): English's, and in a deck stemmed in
    another language its function words too ("der", "und", "aber", "zwischen"), for there they carry no meaning
    either."""
    language = _STEMMING.get()
    return STOPWORDS if language == "english" else _stopwords_in(language)


@lru_cache(maxsize=None)
def _stopwords_in(language: str) -> frozenset[str]:
    """``stopwords`` in a language other than English, read as its words are (made on first use); never a negation."""
    from .language import function_words

    return STOPWORDS | (_words_read_in(language, f"{function_words(language)} {_MORE_FUNCTION_WORDS.get(language, '')}") - {"not"})


def _words_read_in(language: str, text: str) -> frozenset[str]:
    """The words of a list written for a language, as a deck stemmed in it reads its answers' words (folded, its
    negations as "not"): how its stopwords, fillers and frames are compared with an answer's."""
    with stemming_in(language):
        return frozenset(t.word for t in tokenize(text))


# Short forms students write that no fuzzy match can expand.
SHORT_FORMS = {
    "hw": "hardware",
    "sw": "software",
    "mem": "memory",
    "info": "information",
    "app": "application",
    "apps": "application",
    "db": "database",
    "env": "environment",
    "perf": "performance",
    "sec": "security",
    "w": "with",
    "impl": "implementation",
    "approx": "approximation",
    "inf": "infinity",
    "yep": "yes",
    "yup": "yes",
    "yeah": "yes",
    "nope": "no",
    "nah": "no",
}


# Words of general English that say the opposite of each other: a highlighted term's word is contradicted where the
# answer says its opposite instead (``match._opposite_said``). No subject's terms: only the language's own pairs.
OPPOSITE_WORDS = tuple(
    tuple(pair.split("/"))
    for pair in (
        "same/different similar/different identical/different high/low higher/lower highest/lowest large/small "
        "larger/smaller largest/smallest big/small bigger/smaller increase/decrease increase/reduce before/after "
        "global/local first/last positive/negative fast/slow faster/slower easy/hard easier/harder strong/weak "
        "stronger/weaker true/false correct/wrong right/wrong open/closed internal/external early/late earlier/later "
        "inside/outside input/output upper/lower top/bottom left/right long/short longer/shorter add/remove "
        "accept/reject enable/disable include/exclude expand/shrink sparse/dense explicit/implicit manual/automatic "
        "public/private absolute/relative continuous/discrete simple/complex cheap/expensive forward/backward "
        "push/pull send/receive success/failure always/never ascending/descending better/worse best/worst "
        "greatest/smallest greatest/least greater/smaller past/future start/end begin/end allow/prevent "
        "many/few heavy/light thick/thin wide/narrow deep/shallow soft/hard active/passive static/dynamic "
        "online/offline sequential/parallel serial/parallel parallel/orthogonal parallel/perpendicular inner/outer horizontal/vertical read/write "
        "import/export encrypt/decrypt encode/decode compress/decompress known/unknown visible/hidden win/lose "
        "gain/loss buy/sell rise/fall synchronous/asynchronous symmetric/asymmetric centralized/decentralized"
    ).split()
)


# Numbers written as words or as digits ("type two" is "Type 2", "two phases" is "2 phases"): in an author's
# highlighted term either stands for the other (eval/RESULTS.md: in terms cut from prose, "two terminals", not so).
# Not zero, one or first: prose is full of them ("one of the", "first we"), and the decks' "at most 1" was met by any.
NUMBER_WORDS = {
    word: str(n)
    for n, word in enumerate(
        "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split(),
        start=2,
    )
} | {word: f"{n}{suffix}" for n, word, suffix in ((2, "second", "nd"), (3, "third", "rd"), (4, "fourth", "th"), (5, "fifth", "th"))}


class Token(NamedTuple):
    """A word of a text: its folded form, its stem, and where it stands."""

    word: str
    stem: str
    start: int
    end: int


def fold(text: str) -> str:
    """Case-fold and strip accents: the canonical spelling for comparison.

    Only marks that are accents go: a letter that a mark makes a letter of its own in its script stays (``_own_letters``).
    """
    decomposed = unicodedata.normalize("NFKD", text)
    if not decomposed.isascii():
        own_letters, composed = _own_letters()
        decomposed = own_letters.sub(lambda m: composed[m[0]], decomposed)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _fold_every_mark(text: str) -> str:
    """``fold`` as card ids have always read words: every mark stripped, those of ``_own_letters`` too."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


# Letters that Unicode writes as another letter and a mark, but that are letters of their own, not accented ones: the
# Cyrillic ones (Russian "й" is no "и": "машиной" is an ending of "машина", "война", war, is no "воина"; Ukrainian "ї",
# Belarusian "ў", Macedonian "ќ") but "ё", which Russian writes as "е" as often as not, and the grave accents "ѐ",
# "ѝ"; and kana with their voicing marks ("が" is not "か": かき, persimmon, is not かぎ, key). Latin, Greek and the
# other scripts' marks are accents and go, as they always have.
_ACCENTED_CYRILLIC = "ЁёЀѐЍѝѶѷ"


@lru_cache(maxsize=1)
def _own_letters() -> tuple[re.Pattern[str], dict[str, str]]:
    """The decomposed forms of those letters, as a pattern, and each one's letter (made on first use)."""
    scanned = [chr(c) for c in (*range(0x400, 0x530), *range(0x3040, 0x3100))]
    own = [c for c in scanned if c not in _ACCENTED_CYRILLIC and len(unicodedata.normalize("NFD", c)) == 2]
    composed = {unicodedata.normalize("NFD", c): c for c in own}
    return re.compile("|".join(sorted(composed, key=len, reverse=True))), composed


# Longer runs of letters are no words (the longest in English dictionaries has 45 letters) and are their own stems:
# Snowball's English stemmer copies the whole word for each "y" it marks, so "yyyy..." costs time quadratic in its
# length (a 200 KB one took 2.5 s, a 10 MB answer hours), and answers are untrusted text.
LONGEST_STEMMED = 100


def stem(word: str) -> str:
    """Snowball stem of a folded word, in the language words are stemmed in (``stemming_in``)."""
    return _stem(word, _STEMMING.get())


@lru_cache(maxsize=65536)
def _stem(word: str, language: str) -> str:
    """``stem`` (cached: answers repeat their words)."""
    if word in NEGATIONS:
        return "not"
    if len(word) > LONGEST_STEMMED:
        return word
    if _HANGUL.match(word):
        return _korean_stem(word)
    with _STEMMING_LOCK:
        stemmer = _STEMMERS.get(language) or _STEMMERS.setdefault(language, snowballstemmer.stemmer(language))
        return stemmer.stemWord(word)


# Korean writes a noun with its particle or copula attached ("하이퍼바이저는", the hypervisor as topic; "에뮬레이션입니다",
# it is emulation), and Snowball has no Korean stemmer: these endings come off, longest first, while two syllables stay
# (so "속도", speed, keeps its "도"), until none is left ("고양이가" and "고양이" both read "고양"). Endings that begin
# as many nouns as they end ("인", "나", "라") stay on.
_KOREAN_ENDINGS = tuple(
    sorted(
        (
            unicodedata.normalize("NFKD", w)  # as words are read (``fold``): syllables as their letters
            for w in "입니다 입니까 이에요 예요 이었다 였다 이다 이며 이고 이라는 라는 이라고 라고 이란 란 으로는 로는 으로 로 "
            "에서는 에서 에게 에는 에도 에 께서 한테 와는 과는 와 과 까지 부터 처럼 보다 만 도 의 을 를 은 는 이 가".split()
        ),
        key=len,
        reverse=True,
    )
)
_KOREAN_INITIALS = re.compile("[\u1100-\u1112]")  # a syllable's first letter, one per syllable


def _korean_stem(word: str) -> str:
    """A Korean word without its particles and copula (``_KOREAN_ENDINGS``)."""
    while True:
        ending = next((e for e in _KOREAN_ENDINGS if word.endswith(e)), None)
        if ending is None or len(_KOREAN_INITIALS.findall(word[: -len(ending)])) < 2:
            return word
        word = word[: -len(ending)]


# Scripts written without spaces between words: Thai, Lao, Tibetan, Myanmar, Khmer, hiragana and katakana (half-width
# too), Han ideographs and their iteration marks.
_SPACELESS = "\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"


@lru_cache(maxsize=1)
def _spaceless_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A character of those scripts, and their runs (a split keeps them, at odd places): compiled on first use, as
    their wide ranges cost some 4 ms that ASCII text never needs."""
    return re.compile(f"[{_SPACELESS}]"), re.compile(f"([{_SPACELESS}]+)")


def is_spaceless(word: str) -> bool:
    """Whether a text begins with a character of a script written without spaces between words."""
    return word[:1] >= "\u0e00" and bool(_spaceless_patterns()[0].match(word))


def is_spaceless_in(text: str) -> bool:
    """Whether a text has a character of a script written without spaces between words."""
    return not text.isascii() and bool(_spaceless_patterns()[0].search(text))


def phrase_words(tokens: list[Token]) -> float:
    """How many words tokens make: a pair of characters of a script without spaces counts as half of one (a word of
    Chinese is about two characters), any other token as one."""
    return sum(0.5 if is_spaceless(t.word) else 1 for t in tokens)


def tokenize(text: str) -> list[Token]:
    """Split text into word tokens with offsets into the original string.

    Folding can change a string's length (``ß`` -> ``ss``), so words are found in
    the original text and folded one by one to keep offsets true. No letter or
    digit stands between two words (the pattern takes them all), so ``find``
    from the end of one word places the next: cheaper than a match object per word.

    A run of a script written without spaces between words (Chinese, Japanese,
    Thai) is one "word" to the pattern, a whole clause: it is read as its
    overlapping pairs of characters instead ("计算机仿真": 计算, 算机, 机仿, 仿真),
    so that a term is found inside a clause, in the order it is written, without
    a dictionary to cut the words (a lone character is a token of its own).
    """
    if is_spaceless_in(text):
        return _tokenize_spaceless(text)
    out = []
    end = 0
    known = _known_pieces().get
    for written in _written_words(text):
        start = text.find(written, end)
        end = start + len(written)
        pieces = known(written)
        for piece in _word_pieces(written) if pieces is None else pieces:
            out.append(_new_token(Token, piece + (start, end)))
    return out


def _tokenize_spaceless(text: str) -> list[Token]:
    """``tokenize`` for a text with runs of a script written without spaces: each run as its pairs of characters."""
    out = []
    end = 0
    for written in _written_words(text):
        start = text.find(written, end)
        end = start + len(written)
        at = start
        for i, part in enumerate(_spaceless_patterns()[1].split(written)):
            if i % 2 == 0:
                out += [Token(word, word_stem, at, at + len(part)) for word, word_stem in _word_pieces(part)] if part else []
            else:
                starts = [k for k, c in enumerate(part) if k == 0 or not _is_voicing_mark(c)] + [len(part)]
                pairs = [(0, len(part))] if len(starts) <= 2 else [(starts[k], starts[k + 2]) for k in range(len(starts) - 2)]
                out += [Token(word, stem(word), at + a, at + b) for a, b in pairs if _has_letter(word := fold(part[a:b]))]
            at += len(part)
    return out


def _is_voicing_mark(char: str) -> bool:
    """Whether a character is a kana's voicing mark written after it (decomposed "カ" + "゙" for "ガ", half-width
    "ｹﾞ" for "ゲ"): part of the kana before it, not one of a pair's two characters."""
    return char in "\u3099\u309a\uff9e\uff9f"


def _has_letter(text: str) -> bool:
    """Whether a pair of characters holds a letter, not only marks (Thai writes a vowel and a tone mark in a row)."""
    return any(c.isalnum() for c in text)


_new_token = tuple.__new__  # a Token without the Python-level __new__ of a NamedTuple: a third of tokenizing's cost

# Stemming language -> written word -> its pieces (see _word_pieces), up to KNOWN_PIECES words a language: answers
# repeat their words, and a dictionary look-up costs less than a call to a cached function.
_PIECES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}
KNOWN_PIECES = 65536


def _known_pieces() -> dict[str, tuple[tuple[str, str], ...]]:
    """The written words whose pieces are known, with their stems in the language words are stemmed in."""
    language = _STEMMING.get()
    known = _PIECES.get(language)
    return known if known is not None else _PIECES.setdefault(language, {})


def _word_pieces(word: str) -> tuple[tuple[str, str], ...]:
    """The canonical pieces of one written word with their stems (kept in ``_PIECES``).

    Folding may split a word ("¼" -> "1⁄4"); each piece keeps the word's offsets.
    """
    known = _known_pieces()
    pieces = known.get(word)
    if pieces is None:
        seen = word if word.isascii() else _as_seen(word)
        parts = [part for piece in _written_words(fold(seen).replace("’", "'")) for part in _unelided(piece)]
        if not word.isascii():  # read as seen after folding case too: a folded "Γ" is "γ", which looks like y
            parts = [_as_seen(part) for part in parts]
        pieces = tuple(_piece_and_stem(part) for part in parts)
        if len(known) < KNOWN_PIECES:
            known[word] = pieces
    return pieces


# What an apostrophe joins to the word before it ("docker's", "they're", "I've"): not a word of its own.
_CLITICS = frozenset({"s", "re", "ve", "ll", "d", "m", "t"})


def _unelided(piece: str) -> list[str]:
    """The words an apostrophe joins: "docker's" is "docker", "l'émulation" and "qu'est" are "emulation" and
    "est" (an elided article or pronoun is no word of its own), "dell'acqua" is both."""
    if "'" not in piece or piece.endswith("n't"):
        return [piece]
    head, *rest = piece.split("'")
    words = [head] if len(head) > 2 and not head.endswith("qu") else []
    words += [w for w in rest if w not in _CLITICS]
    return words or [head]


def _piece(part: str) -> str:
    """A folded piece as it is compared: every negation spelled "not"."""
    return "not" if part.endswith("n't") or part in NEGATIONS else part


def _piece_and_stem(part: str) -> tuple[str, str]:
    piece = "not" if part in _negations()[0] else _piece(part)
    return piece, stem(piece)


def content_tokens(text: str) -> list[Token]:
    """Tokens that carry meaning: stopwords removed, negations kept."""
    return content_of(tokenize(text))


def content_of(tokens: list[Token], keep: frozenset[str] = frozenset()) -> list[Token]:
    """The tokens of a tokenized text that carry meaning (for callers that need both lists), and the stopwords in
    ``keep`` (those a card's term is made of: see ``term_words``)."""
    common = stopwords()
    if keep:
        return [t for t in tokens if t.word not in common or t.word in keep]
    return [t for t in tokens if t.word not in common]


# Words that join a term made only of stopwords without being part of what it names ("up and down", "the same").
_GLUE = frozenset("a an the and or".split())


def term_words(tokens: list[Token]) -> list[Token]:
    """The words a key term is found by: its content words or, for a term the author wrote only in stopwords
    ("up and down", "only"), those less the articles and conjunctions between them."""
    return content_of(tokens) or [t for t in tokens if t.word not in _GLUE] or tokens


# Other languages' negations, each read as "not" in a deck stemmed in its language, and what may stand between one
# and the phrase it denies there (in English, articles only: "not a", "no real"): articles and, where the negation
# comes before the verb "to be", that verb ("no es emulación", "non è", "não é", "не является"). Written folded, as
# words are compared.
_NEGATIONS_IN = {
    "german": ("nicht nie niemals kein keine keinen keinem keiner keines", "der die das den dem des ein eine einen einem einer eines"),
    "french": ("pas non jamais aucun aucune", "le la les un une des du de"),
    "spanish": ("no nunca ningun ninguna ninguno", "el la los las un una unos unas es son era fue"),
    "catalan": ("no mai cap", "el la els les un una es son"),
    "italian": ("non mai nessun nessuno nessuna", "il lo la i gli le un uno una e sono era"),
    "portuguese": ("nao nunca nenhum nenhuma", "o a os as um uma e sao era foi"),
    "dutch": ("niet geen nooit", "de het een"),
    "swedish": ("inte ej ingen inget inga aldrig", "en ett den det de"),
    "danish": ("ikke ingen intet aldrig", "en et den det de"),
    "norwegian": ("ikke ikkje ingen intet aldri", "en ei et den det de"),
    "polish": ("nie zaden zadna zadne", "jest sa"),
    "czech": ("ne neni nejsou zadny zadna zadne", "je jsou"),
    "romanian": ("nu niciun nicio", "un o este sunt"),
    "hungarian": ("nem nincs", "a az egy"),
    "indonesian": ("tidak bukan", "sebuah seorang"),
    "russian": ("не нет", "является являются"),
    "serbian": ("не ne није nije", "је je"),
    "greek": ("δεν μη μην οχι", "ο η το οι τα ενα μια ειναι"),
}


@lru_cache(maxsize=None)
def _negations_in(language: str) -> tuple[frozenset[str], re.Pattern[str]]:
    """A language's negations, and what may stand between one and the phrase it denies (English articles too)."""
    words, between = _NEGATIONS_IN.get(language, ("", ""))
    gap = "|".join(("a an the any some such single " + between).split())
    return frozenset(words.split()), re.compile(rf"(?:[\s-]+(?:{gap})\b)*[\s-]+$", re.I)


def _negations() -> tuple[frozenset[str], re.Pattern[str]]:
    """``_negations_in`` the language words are stemmed in (``stemming_in``)."""
    return _negations_in(_STEMMING.get())


_PHRASE_GAP = re.compile(r"[\s-]+$")
# "does not know", "is not clear", "cannot be": a negated verb or predicate, often a right answer put another way.
_AUXILIARY_BEFORE = re.compile(
    r"\b(?:do|does|did|is|are|was|were|be|been|am|can|could|will|would|shall|should|may|might|must|has|have|had|or)\s+$", re.I
)


# What denies the phrase after it in an author's highlighted term or an answer read against one (``negated``'s
# ``broad``), as "not" after a verb does: "without competition", "lack of parallelisation", "neither A nor B". English
# only.
BROAD_NEGATIONS = frozenset({"without", "lack", "lacks", "lacking", "neither", "nor", "instead", "rather"})
# The word a negation of ``BROAD_NEGATIONS`` must have after it to deny: "instead of stacking", "rather than a lock"
# ("rather slow" denies nothing).
_DENIES_ONLY_BEFORE = {"instead": re.compile(r"\s+of\b", re.I), "rather": re.compile(r"\s+than\b", re.I)}
_BROAD_GAP = re.compile(r"(?:[\s-]+(?:of|than|a|an|the|any|some|such|single)\b)*[\s-]+$", re.I)
# Between two items of a denied list: "not A, B or C", "no A or B", "without A nor B".
_NEXT_ITEM = re.compile(r"\s*,?\s*(?:or|nor)\s+(?:(?:a|an|the|any)\s+)?$|\s*,\s*(?:(?:a|an|the|any)\s+)?$", re.I)
_OR = re.compile(r"\b(?:or|nor)\b", re.I)
_OBJECT_GAP = re.compile(r"[\s-]+(?:from|on|in|with|to|of|about|into|for|by)[\s-]+(?:(?:a|an|the|any)[\s-]+)?$", re.I)
# A negated verb that is a stopword, before its object: "does not have deadlock freedom", "doesn't use a push model".
_STOPWORD_VERB_GAP = re.compile(r"[\s-]+(?:have|has|had|use|uses|used)[\s-]+(?:(?:a|an|the|any)[\s-]+)?$", re.I)
# Where a denied list's commas run on to: the next "or"/"nor" before the sentence ends, with no new clause between.
_SENTENCE_END = re.compile(r"[.;:!?]")
_NEW_CLAUSE = re.compile(r"\b(?:is|are|was|were|be|has|have|had|but|which|that|because|so|while|whereas|it|they|we|this)\b", re.I)


class _ListMarks:
    """Where a text's sentences end, its "or"s stand and its new clauses begin, found once for all its denials: an
    answer of 100,000 characters with a denied list in every line is read once, not once per list."""

    def __init__(self, text: str) -> None:
        self.ends = [m.start() for m in _SENTENCE_END.finditer(text)]
        self.ors = [m.start() for m in _OR.finditer(text)]
        self.clauses = [m.start() for m in _NEW_CLAUSE.finditer(text)]

    def list_runs_on(self, at: int) -> bool:
        """Whether an "or" follows ``at`` before the sentence ends, and no new clause begins before it."""
        i = bisect_left(self.ors, at)
        if i == len(self.ors):
            return False
        or_at = self.ors[i]
        j = bisect_left(self.ends, at)
        k = bisect_left(self.clauses, at)
        return (j == len(self.ends) or self.ends[j] > or_at) and (k == len(self.clauses) or self.clauses[k] > or_at)


def _denies_the_next_item(text: str, end: int, between: str, marks: list[_ListMarks]) -> bool:
    """Whether a denial runs on past the phrase it ends at ``end`` to the next, as items of one list: across "or" or
    "nor", and across a comma where the list's "or" follows before the sentence ends ("not sharing, aggregation or
    emulation"), with no new clause between ("not sharing, aggregation is" denies no aggregation). ``marks``: the
    text's ``_ListMarks``, made on first use."""
    if not _NEXT_ITEM.match(between):
        return False
    if "," not in between or _OR.search(between):
        return True
    if not marks:
        marks.append(_ListMarks(text))
    return marks[0].list_runs_on(end + len(between))


def negated(text: str, tokens: list[Token], broad: bool = False) -> list[bool]:
    """Which content tokens of a text a negation denies: the phrase right after "not", "no", "never", "n't", "non-"
    (and the language's own, in a deck stemmed in another: "nicht", "keine", "pas", "не"; see ``_spaceless_denied``
    for Chinese and Japanese).

    Only a negation that stands directly before a phrase denies it ("not
    sharing", "no live migration", "not an emulation"); one before a verb
    ("cannot be scratched", "does not have") or a clause ("no, because") denies
    nothing, since it is as often a right answer put another way as a wrong one. ``broad`` (English, for an
    author's highlighted terms): one after a verb denies too ("it is not linear", "there is no closed form"), and
    so do ``BROAD_NEGATIONS`` ("without", "lack of", "neither ... nor", "instead of", "rather than"); a denial runs on over the items of a list
    ("not sharing, aggregation or emulation") and, after a negated verb, to its object one preposition on ("does not
    suffer from sparsity") or after a negated "have" or "use" ("does not have deadlock freedom").
    """
    out = [False] * len(tokens)
    marks: list[_ListMarks] = []  # see _denies_the_next_item
    language = _STEMMING.get()
    own, denial_gap = _negations_in(language)
    broad = broad and language == "english"
    for i, tok in enumerate(tokens):
        if tok.word != "not" and not (broad and tok.word in BROAD_NEGATIONS):
            continue
        if (before := _DENIES_ONLY_BEFORE.get(tok.word)) is not None and not before.match(text, tok.end):
            continue
        if own and fold(_seen(text[tok.start : tok.end])) in own:
            read = fold  # its language's: the gap is read as its words are ("non è", "não é")
        elif not broad and _is_verb_negation(text, tok):
            continue
        else:
            read = str
        gap = _BROAD_GAP if broad else denial_gap
        prev_end = tok.end
        # A negated verb's object, a preposition right after the verb, is denied too: "does not suffer from sparsity".
        verb_object = broad and tok.word == "not" and _is_verb_negation(text, tok)
        for j in range(i + 1, len(tokens)):
            between = read(_seen(text[prev_end : tokens[j].start]))
            if tokens[j].word == "not" or not (
                gap.match(between)
                or (broad and gap is _PHRASE_GAP and _denies_the_next_item(text, prev_end, between, marks))
                or (verb_object and j == i + 2 and _OBJECT_GAP.match(between))
                or (verb_object and j == i + 1 and _STOPWORD_VERB_GAP.match(between))
            ):
                break
            out[j] = True
            gap, prev_end = _PHRASE_GAP, tokens[j].end
    if is_spaceless_in(text):
        for j in _spaceless_denied(text, tokens):
            out[j] = True
    after = _DENIALS_AFTER_IN.get(language, frozenset())
    if not text.isascii() and _HANGUL.search(text):
        after |= _KOREAN_DENIALS
    if after:
        for j in range(1, len(tokens)):
            if tokens[j].word in after:
                out[j - 1] = True
    return out


def freed(text: str, tokens: list[Token], free: frozenset[str] = frozenset({"free"})) -> list[bool]:
    """Which content tokens of an English text a "free" right after denies: "deadlock-free", "error free" (without
    deadlock, without errors). Kept apart from ``negated``: "context-free" and "lock-free" are also names, which a card
    that says them itself keeps (``free``: the words read as "free", "freedom" too for what a card names)."""
    out = [False] * len(tokens)
    if _STEMMING.get() != "english" or "free" not in text.casefold():
        return out
    for j in range(1, len(tokens)):
        if tokens[j].word in free and _PHRASE_GAP.fullmatch(text, tokens[j - 1].end, tokens[j].start):
            out[j - 1] = True
    return out


# Languages whose negation of a noun stands after it, in a deck stemmed in them: Turkish "emülasyon değil" (not
# emulation), "izolasyon yok" (no isolation). The word right before one is denied, as in Korean.
_DENIALS_AFTER_IN = {"turkish": frozenset("degil degildir degiller degiliz yok yoktur".split())}


# Korean denies what stands before it: "에뮬레이션이 아니다" (it is not emulation), "격리가 없는" (with no isolation).
# Korean is written in spaced words, a noun with its particle attached: the word right before one of these is denied.
_KOREAN_DENIALS = frozenset(
    unicodedata.normalize("NFKD", w)  # as words are read (``fold``): syllables as their letters
    for w in "아니다 아닙니다 아니에요 아니예요 아니야 아님 아닌 아니라 아니고 없다 없음 없습니다 없어요 없는 없고 없이".split()
)
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


# Chinese negations of a noun or a phrase that stand before it ("不是计算机", "没有内核"), and where what they deny ends:
# at a clause's end, or at a word that starts another phrase ("而是", "但", "和"). A lone 不, 无, 非 or 没 is left alone:
# it begins as many words that deny nothing (不同, 不仅, 无论, 无线, 非常) as words that do.
_DENIAL_BEFORE = re.compile("并不是|並不是|不是|并非|並非|没有|沒有|不属于|不屬於")
_DENIAL_ENDS = re.compile(r"[而但是也和或与與就却卻]|[^\w]")
# Japanese ones that stand after it ("エミュレーションではない", "仮想化じゃありません"): what they deny is the run of kanji and katakana
# right before (hiragana are the particles and endings between words).
_DENIAL_AFTER = re.compile("(?:では|じゃ)(?:ない|ありません|なく)|でない")
_DENIABLE = re.compile("[\u3005\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
# The longest phrase one denies, in characters (a long noun phrase): answers are untrusted text, and a negation does
# not reach to the end of a clause that never ends.
_DENIED_CHARS = 12


def _spaceless_denied(text: str, tokens: list[Token]) -> list[int]:
    """Which tokens a Chinese or Japanese negation denies (``negated``): those inside what it denies."""
    spans = []
    for m in _DENIAL_BEFORE.finditer(text):
        end = _DENIAL_ENDS.search(text, m.end(), m.end() + _DENIED_CHARS)
        spans.append((m.end(), end.start() if end else min(len(text), m.end() + _DENIED_CHARS)))
    for m in _DENIAL_AFTER.finditer(text):
        start = m.start()
        while start > max(0, m.start() - _DENIED_CHARS) and _DENIABLE.match(text, start - 1):
            start -= 1
        spans.append((start, m.start()))
    starts = [t.start for t in tokens]
    denied = []
    for start, end in spans:
        j = bisect_left(starts, start)
        while j < len(tokens) and tokens[j].end <= end:
            denied.append(j)
            j += 1
    return denied


def _is_verb_negation(text: str, tok: Token) -> bool:
    """Whether a negation token negates a verb: a contraction ("don't", "isn't", "cannot"), or "not"
    after an auxiliary ("is not"), or the "or not" of "whether or not"."""
    written = _seen(text[tok.start : tok.end]).casefold().replace("’", "'")
    if written.endswith("n't") or written == "cannot":
        return True
    before = text[max(0, tok.start - 12) : tok.start]
    if _seen(before) != before:  # hidden or look-alike letters: the words before as a reader sees them
        return bool(_AUXILIARY_BEFORE.search(_seen(text[max(0, tok.start - 24) : tok.start])))
    return bool(_AUXILIARY_BEFORE.search(text, max(0, tok.start - 12), tok.start))


def _seen(text: str) -> str:
    """A stretch of text as a reader sees it (``_as_seen``): hidden characters dropped, look-alike letters read."""
    if text.isascii():
        return text
    return _HIDDEN.sub("", marked_word_patterns()[1].sub(lambda m: _as_seen(m[0]), text))


def normalize(text: str) -> str:
    """One canonical string for a text: folded words joined by single spaces."""
    return " ".join(_words(text))


def _words(text: str) -> list[str]:
    """The folded words of a text, as ``tokenize`` has them, without their offsets (so faster)."""
    return [piece for written in _written_words(text) for piece, _ in _word_pieces(written)]


def id_text(question: str) -> str:
    """``normalize`` as card ids have always hashed it: the words as written, not as seen (``_as_seen``).

    Ids are kept in practice histories and review files, so a question with a zero-width non-joiner inside a word (as
    Persian writes many) or with a Greek or Cyrillic letter keeps its id.
    """
    if question.isascii():
        return normalize(question)
    words = (_WORD_AS_WRITTEN if _HAS_ONLY_MARK.search(question) else _WORD).findall(question)
    return " ".join(piece for written in words for piece in _written_pieces(written))


@lru_cache(maxsize=4096)
def _written_pieces(word: str) -> tuple[str, ...]:
    """The folded pieces of a word as written (``_word_pieces`` without ``_as_seen``)."""
    parts = (part for piece in _WORD.findall(_fold_every_mark(word).replace("’", "'")) for part in _unelided(piece))
    return tuple(_piece(part) for part in parts)


# What students write instead of an answer. Graders give these nothing, and they
# must rank below any real attempt, however far off (a wrong answer that uses
# none of the terms still earns marks for what it does say).
NON_ANSWERS = frozenset(
    normalize(phrase)
    for written in (
        "not answered", "no answer", "no answer given", "no response",
        "I don't know", "I do not know", "don't know", "idk", "dunno",
        "no idea", "I have no idea", "no clue", "not sure", "I'm not sure", "I am not sure",
        "I forgot", "forgot", "I don't remember", "don't remember", "n/a",
        "I dunno", "I have no clue", "not a clue", "I can't remember", "can't remember", "I can't recall",
        "I don't know the answer", "I don't know the rest",
    )
    for phrase in (written, written.replace("'", ""))  # "I dont know", "cant remember": the apostrophe left out
)
# Words that wrap a non-answer without making it one ("sorry, I don't know", "um, no idea", "I still don't know"):
# left out before the look-up.
NON_ANSWER_FILLERS = frozenset("sorry please thanks thank honestly really um uh hmm well ok okay still just then".split())

# The same in the languages a deck may be stemmed in (``stemming_in``): its phrases, then its fillers. Read as that
# language reads them (its negations among them), in a deck of that language, beside the English ones.
_NON_ANSWERS_IN = {
    "german": (
        "ich weiß nicht", "weiß nicht", "ich weiß es nicht", "weiß ich nicht", "keine Ahnung", "ich habe keine Ahnung",
        "hab keine Ahnung", "keine Antwort", "nicht sicher", "ich bin mir nicht sicher", "vergessen", "ich habe es vergessen",
        "ich erinnere mich nicht", "leider ähm äh hm",
    ),
    "french": (
        "je ne sais pas", "je sais pas", "sais pas", "aucune idée", "je n'ai aucune idée", "pas d'idée", "aucune réponse",
        "pas de réponse", "pas sûr", "je ne suis pas sûr", "je ne suis pas sûre", "j'ai oublié", "oublié",
        "je ne me souviens pas", "désolé désolée euh hum",
    ),
    "spanish": (
        "no sé", "no lo sé", "yo no sé", "ni idea", "no tengo idea", "no tengo ni idea", "sin respuesta", "no estoy seguro",
        "no estoy segura", "no me acuerdo", "no recuerdo", "lo olvidé", "olvidé", "perdón eh em pues",
    ),
    "catalan": ("no ho sé", "no sé", "ni idea", "no ho recordo", "perdó eh"),
    "italian": (
        "non lo so", "non so", "boh", "nessuna idea", "non ne ho idea", "non ho idea", "nessuna risposta", "non ricordo",
        "non mi ricordo", "non sono sicuro", "non sono sicura", "ho dimenticato", "scusa scusate mah ehm",
    ),
    "portuguese": (
        "não sei", "eu não sei", "não faço ideia", "nenhuma ideia", "sem ideia", "sem resposta", "não me lembro",
        "não lembro", "esqueci", "não tenho certeza", "desculpa desculpe hum",
    ),
    "dutch": ("ik weet het niet", "weet ik niet", "weet niet", "geen idee", "ik heb geen idee", "geen antwoord", "vergeten", "sorry eh uhm"),
    "swedish": ("jag vet inte", "vet inte", "ingen aning", "jag har ingen aning", "inget svar", "förlåt eh"),
    "danish": ("jeg ved det ikke", "ved ikke", "ingen anelse", "jeg aner det ikke", "intet svar", "undskyld øh"),
    "norwegian": ("jeg vet ikke", "vet ikke", "ingen anelse", "jeg aner ikke", "inget svar", "beklager eh"),
    "finnish": ("en tiedä", "ei aavistustakaan", "en muista", "ei vastausta", "anteeksi öö"),
    "polish": (
        "nie wiem", "nie mam pojęcia", "nie pamiętam", "zapomniałem", "zapomniałam", "brak odpowiedzi", "nie jestem pewien",
        "nie jestem pewna", "przepraszam",
    ),
    "czech": ("nevím", "netuším", "nemám tušení", "nepamatuji si", "bez odpovědi", "promiň promiňte"),
    "hungarian": ("nem tudom", "fogalmam sincs", "nem emlékszem", "bocsánat"),
    "romanian": ("nu știu", "habar n-am", "nu am idee", "nu îmi amintesc", "scuze"),
    "turkish": ("bilmiyorum", "fikrim yok", "hiçbir fikrim yok", "hatırlamıyorum", "emin değilim", "pardon"),
    "indonesian": ("tidak tahu", "saya tidak tahu", "tidak tau", "gak tahu", "nggak tahu", "tidak ingat", "maaf"),
    "russian": (
        "не знаю", "я не знаю", "без понятия", "понятия не имею", "не помню", "я не помню", "забыл", "забыла", "не уверен",
        "не уверена", "нет ответа", "извините простите ну эм увы",
    ),
    "serbian": ("не знам", "ne znam", "немам појма", "nemam pojma", "извини izvini"),
    "greek": ("δεν ξέρω", "δεν γνωρίζω", "δεν θυμάμαι", "καμία ιδέα", "συγγνώμη"),
}  # fmt: skip
# Chinese, Japanese and Korean have no stemmer, so no deck is stemmed in them: their non-answers are read in every deck
# (no other language writes them).
_SCRIPT_NON_ANSWERS = (
    "不知道", "我不知道", "不清楚", "我不清楚", "不记得", "我不记得", "不記得", "忘了", "我忘了", "没有答案", "沒有答案", "不会", "不會",
    "わかりません", "分かりません", "わからない", "分からない", "知りません", "しりません", "知らない", "わかんない", "忘れました",
    "覚えていません",
    "모르겠어요", "모르겠습니다", "모르겠다", "모르겠음", "몰라요", "몰라", "모름", "잘 모르겠어요", "잘 모르겠습니다", "기억이 안 나요",
    "기억 안 남", "답 없음",
)  # fmt: skip


# Longer texts are never a stock phrase in English (checked first: grading calls this for every answer).
_NON_ANSWER_MAX_CHARS = 3 * max(map(len, NON_ANSWERS))


@lru_cache(maxsize=None)
def _non_answers(language: str) -> tuple[frozenset[str], frozenset[str], int]:
    """The non-answers of a deck stemmed in ``language``, its fillers, and the longest a non-answer's text can be (made
    on first use, in that language, as its answers' words are read)."""
    *phrases, fillers = _NON_ANSWERS_IN.get(language, ("",))
    phrases += _SCRIPT_NON_ANSWERS
    with stemming_in(language):
        said = NON_ANSWERS | {" ".join(t.word for t in tokenize(p)) for p in phrases}
    fillers_read = NON_ANSWER_FILLERS | _words_read_in(language, fillers)
    return said, fillers_read, max(_NON_ANSWER_MAX_CHARS, 3 * max(map(len, phrases)))


def is_non_answer(text: str, tokens: list[Token] | None = None) -> bool:
    """Whether an answer says nothing: no word at all ("?", "..."), or "I don't know" and the like, however
    politely or twice said, in English or in the language its deck is stemmed in (``stemming_in``).

    ``tokens``: the text's ``tokenize``, when the caller has it already.
    """
    non_answers, fillers, longest = _non_answers(_STEMMING.get())
    if len(text) > longest:
        return False
    if tokens is None:  # a run of Chinese or Japanese is read as its pairs of characters, as grading reads it
        words = [t.word for t in tokenize(text)] if is_spaceless_in(text) else _words(text)
    else:
        words = [t.word for t in tokens]
    if not words:
        return True
    said = [w for w in words if w not in fillers]
    if said and said[: len(said) // 2] == said[len(said) // 2 :]:  # "idk idk"
        said = said[: len(said) // 2]
    return " ".join(said) in non_answers


# An answer that repeats this share of its question's words, and adds none, restates it.
RESTATED_SHARE = 0.7
# Words that frame a copied question without adding to it ("The answer: <question>", "Good question. <question>"), and
# in a deck stemmed in another language its own beside them ("Die Antwort: <Frage>", "Bonne question. <question>").
ANSWER_FRAMES = frozenset("answer question good great interesting important think guess maybe probably".split())
_ANSWER_FRAMES_IN = {
    "german": "antwort frage gut gute guter interessant interessante wichtig wichtige denke glaube vielleicht wahrscheinlich",
    "french": "réponse question bonne bon intéressant intéressante important importante pense crois peut-être probablement",
    "spanish": "respuesta pregunta buena bueno interesante importante creo pienso quizás quizá probablemente",
    "italian": "risposta domanda buona buon interessante importante penso credo forse probabilmente",
    "portuguese": "resposta pergunta boa bom interessante importante acho penso talvez provavelmente",
    "dutch": "antwoord vraag goede goed interessant interessante belangrijk belangrijke denk misschien waarschijnlijk",
    "russian": "ответ вопрос хороший хорошая хорошее интересный интересная важный важная думаю наверное возможно",
    "swedish": "svar fråga bra intressant intressanta viktig viktigt tror kanske förmodligen",
}


@lru_cache(maxsize=None)
def _answer_frames_in(language: str) -> frozenset[str]:
    """``ANSWER_FRAMES`` in a deck stemmed in ``language``, read as its words are (made on first use)."""
    return ANSWER_FRAMES | _words_read_in(language, _ANSWER_FRAMES_IN.get(language, ""))


def restates_question(answer: str, question: str, tokens: list[Token] | None = None) -> bool:
    """Whether an answer only restates its question: most of the question's words, and none the question lacks.

    A short answer made of a few words of a long question ("topaz is harder")
    can be right; a copy of the question never is. ``tokens``: the answer's
    ``tokenize``, when the caller has it already.
    """
    asked = content_stems(question)
    words = set()
    common = stopwords()
    frames = _answer_frames_in(_STEMMING.get())
    for tok in tokenize(answer) if tokens is None else tokens:  # most answers are told apart by their first few words
        if tok.word in common or tok.word in frames:
            continue
        said = tok.stem if tok.stem in asked else _misspelt_in(tok.word, question)
        if said is None:
            return False
        words.add(said)
    return bool(words) and len(words) >= RESTATED_SHARE * len(asked)


def _misspelt_in(word: str, question: str) -> str | None:
    """The stem of the question's word that ``word`` spells otherwise (one edit in five letters or more, two in nine,
    the first two letters right), if any: "privileged" restates a question about "priviliged" operations."""
    if len(word) < 5 or not RESTATE_TYPOS:
        return None
    words, stems, starts = _long_words(question)
    if word[:2] not in starts:  # most answers' first word the question lacks: no need to look further
        return None
    from .match import nearest_spelling  # only while grading, when the matcher is loaded

    found = nearest_spelling(word, words, 2)
    if found is None or found[1] > (1 if len(found[0]) <= 8 else 2):
        return None
    return stems[found[2]]


def _long_words(question: str) -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """A question's content words of five letters or more, their stems and first two letters."""
    return _long_words_in(question, _STEMMING.get())


@lru_cache(maxsize=4096)
def _long_words_in(question: str, language: str) -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """A question's content words of five letters or more, their stems and first two letters (kept: asked about
    for every answer)."""
    tokens = [t for t in content_tokens(question) if len(t.word) >= 5]
    return tuple(t.word for t in tokens), tuple(t.stem for t in tokens), frozenset(t.word[:2] for t in tokens)


# Whether a misspelling of a question word still restates it (``_misspelt_in``).
RESTATE_TYPOS = True


def content_stems(text: str) -> frozenset[str]:
    """The stems of a text's content words."""
    return _content_stems(text, _STEMMING.get())


@lru_cache(maxsize=65536)
def _content_stems(text: str, language: str) -> frozenset[str]:
    """``content_stems`` in a stemming language, kept: a card's question and terms are asked about for every answer."""
    return frozenset(t.stem for t in content_tokens(text))
