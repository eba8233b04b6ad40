"""Splitting documents into passages, each in one language.

Passages are whole sentences packed up to `max_words` words: short enough that one passage
carries one claim (a narrative is asserted in a sentence or two, and a long window dilutes it),
long enough to carry context. Offsets point into the document's text, so evidence can always be
shown in place. Each sentence's language comes from `narratives.passages.langid`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from narratives.core.langs import OTHER
from narratives.passages.langid import detect_language, detect_languages

SPLITTER = "sentences-v1"  # named in run records: a change of the rules gets a new name


# A sentence ends at . ! ? … (with closing quotes or brackets) followed by space and a capital,
# a digit or an opening quote. Abbreviations such as "Mr." or "т.е." do not end one.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+(?=[\"'«„“(\[]?[A-ZА-ЯЁІЇЄҐ0-9])")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "no", "gen", "col", "lt", "sgt",
    "jan", "feb", "mar", "apr", "aug", "sept", "oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e",
    "г", "гг", "т.е", "т.д", "т.п", "им", "ул", "тыс", "млн", "млрд", "руб", "грн", "пр", "см",
    "тис", "вул", "обл", "р", "ст", "п", "див",
}  # fmt: skip


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    block: int = 0  # paragraph (or line) number: passages never cross a block


@dataclass(frozen=True)
class Passage:
    seq: int
    start: int
    end: int
    text: str
    lang: str
    confidence: float


def sentences(text: str) -> list[Span]:
    """Sentence spans of a text, with offsets into it. A line break always ends a sentence."""
    spans: list[Span] = []
    for block, (line_start, line_end) in enumerate(_lines(text)):
        cursor = line_start
        for m in _BOUNDARY.finditer(text, line_start, line_end):
            if _ends_with_abbreviation(text[cursor : m.start()]):
                continue
            _add_span(spans, text, cursor, m.start(), block)
            cursor = m.end()
        _add_span(spans, text, cursor, line_end, block)
    return spans


def _lines(text: str):
    start = 0
    for m in re.finditer(r"\n", text):
        yield start, m.start()
        start = m.end()
    yield start, len(text)


def _ends_with_abbreviation(chunk: str) -> bool:
    words = chunk.rstrip(".!?…\"'»”)] ").split()
    if not words:
        return False
    last = words[-1].lower().rstrip(".")
    # a lone initial ("J. Smith") or a known abbreviation
    return (
        len(last) == 1 and last.isalpha() and chunk.rstrip().endswith(".")
    ) or last in _ABBREVIATIONS


def _add_span(spans: list[Span], text: str, start: int, end: int, block: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Span(start, end, text[start:end], block))


def _cut_long(spans: list[Span], text: str, max_words: int) -> list[Span]:
    out = []
    for span in spans:
        words = list(re.finditer(r"\S+", span.text))
        if len(words) <= max_words:
            out.append(span)
            continue
        for i in range(0, len(words), max_words):
            chunk = words[i : i + max_words]
            start, end = span.start + chunk[0].start(), span.start + chunk[-1].end()
            out.append(Span(start, end, text[start:end], span.block))
    return out


def split(text: str, max_words: int = 60, default_lang: str | None = None) -> list[Passage]:
    """A document's passages, each with its language and the detector's confidence.

    Language is identified per sentence first, so that a passage never mixes languages: a
    Ukrainian article quoting a Russian statement yields a Russian passage for the quote.
    Sentences too short to judge take the language of the whole document.
    """
    spans = _cut_long(sentences(text), text, max_words)
    if not spans:
        return []
    doc_lang = default_lang or detect_language(text)[0]
    langs = _fill_uncertain(spans, detect_languages([s.text for s in spans]), doc_lang)
    passages: list[Passage] = []
    group: list[tuple[Span, str, float]] = []

    def flush():
        if group:
            start, end = group[0][0].start, group[-1][0].end
            conf = sum(c for _, _, c in group) / len(group)
            passages.append(Passage(len(passages), start, end, text[start:end], group[0][1], conf))
            group.clear()

    words = 0
    for span, (lang, conf) in zip(spans, langs, strict=True):
        n = len(span.text.split())
        if group and (
            span.block != group[-1][0].block or lang != group[-1][1] or words + n > max_words
        ):
            flush()
            words = 0
        group.append((span, lang, conf))
        words += n
    flush()
    return passages


def majority_language(passages: list[Passage]) -> str:
    """A document's language: the language holding most of its characters."""
    weights: Counter[str] = Counter()
    for p in passages:
        weights[p.lang] += len(p.text)
    return weights.most_common(1)[0][0] if weights else OTHER


def _fill_uncertain(spans: list[Span], langs: list[tuple[str | None, float]], doc_lang: str):
    """Sentences too short to judge take the language of their neighbours in the same block
    (the previous sentence, else the next), else the document's."""
    filled = list(langs)
    for i, (lang, conf) in enumerate(langs):
        if lang is not None:
            continue
        same_block = [
            j for j in range(len(spans)) if spans[j].block == spans[i].block and langs[j][0]
        ]
        before = [j for j in same_block if j < i]
        after = [j for j in same_block if j > i]
        pick = before[-1] if before else (after[0] if after else None)
        filled[i] = (langs[pick][0] if pick is not None else doc_lang, conf)
    return filled
