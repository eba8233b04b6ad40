"""Identifying a text's language with lingua, restricted to the tracker's languages plus the
neighbours they are confused with, which are reported as "other"."""

from __future__ import annotations

from functools import lru_cache

from narratives.core.langs import OTHER, TRACKED

LANGID = "lingua-v1"  # named in run records


# Texts shorter than this many letters are too short to judge: they take the document's language.
MIN_LETTERS = 20
MIN_CONFIDENCE = 0.5


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    # The three tracked languages plus their usual confusions, so that Belarusian, Bulgarian or
    # German text is reported as "other" instead of being forced into en/ru/uk.
    languages = [
        Language.ENGLISH, Language.RUSSIAN, Language.UKRAINIAN, Language.BELARUSIAN,
        Language.BULGARIAN, Language.KAZAKH, Language.SERBIAN, Language.MACEDONIAN,
        Language.GERMAN, Language.FRENCH, Language.SPANISH, Language.ITALIAN,
        Language.POLISH, Language.PORTUGUESE, Language.TURKISH, Language.DUTCH,
    ]  # fmt: skip
    return (
        LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
    )


def detect_language(text: str, default: str | None = None) -> tuple[str, float]:
    lang, conf = detect_languages([text])[0]
    return (lang or default or OTHER), conf


_UK_ONLY = set("іїєґІЇЄҐ")
_RU_ONLY = set("ыэъёЫЭЪЁ")


def detect_languages(texts: list[str]) -> list[tuple[str | None, float]]:
    """(language, confidence) per text: en, ru, uk, "other", or None when the text is too short
    or the detector too unsure to judge."""
    if not texts:
        return []
    results = _detector().compute_language_confidence_values_in_parallel(texts)
    out: list[tuple[str | None, float]] = []
    for text, values in zip(texts, results, strict=True):
        chars = set(text)
        # letters only one of the two alphabets has settle ru vs uk even for a few words
        if chars & _UK_ONLY and not chars & _RU_ONLY:
            hint = "uk"
        elif chars & _RU_ONLY and not chars & _UK_ONLY:
            hint = "ru"
        else:
            hint = None
        if not values:
            out.append((hint, 0.0))
            continue
        top = values[0]
        code = top.language.iso_code_639_1.name.lower()
        lang = code if code in TRACKED else OTHER
        if hint and lang in ("ru", "uk", OTHER) and lang != hint and top.value < 0.9:
            lang = hint
        letters = sum(ch.isalpha() for ch in text)
        if letters < MIN_LETTERS or top.value < MIN_CONFIDENCE:
            lang = hint
        out.append((lang, float(top.value)))
    return out
