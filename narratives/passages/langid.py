"""Identifying a text's language with lingua, restricted to the tracker's languages plus the
neighbours they are confused with, which are reported as "other"."""

from __future__ import annotations

from functools import lru_cache

from narratives.core.langs import OTHER, TRACKED

LANGID = "lingua-v2-script"  # named in run records


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


_CYRILLIC = {"ru", "uk", "be", "bg", "kk", "sr", "mk"}


def detect_language(text: str, default: str | None = None) -> tuple[str, float]:
    lang, conf = detect_languages([text])[0]
    return (lang or default or OTHER), conf


# Letters that settle the language of a Cyrillic text where the detector's statistics do not
# (lingua calls "Офіційних коментарів поки що немає." Kazakh with confidence 1.0): ї є ґ are
# Ukrainian's alone; і is Ukrainian's, Belarusian's (which also has ў) and Kazakh's (which has
# its own letters); ы э ё are Russian's, Belarusian's and Kazakh's but never Ukrainian's or
# Bulgarian's. ъ is left out: Bulgarian writes it constantly.
_UK_STRONG = set("їєґЇЄҐ")
_UK_I = set("іІ")
_RU_LETTERS = set("ыэёЫЭЁ")
_BE_ONLY = set("ўЎ")
_KK_ONLY = set("әғқңөұүһӘҒҚҢӨҰҮҺ")
_SR_MK_ONLY = set("јљњћђџѓќѕЈЉЊЋЂЏЃЌЅ")


def script_hint(text: str) -> str | None:
    """uk or ru when the text's letters decide it, else None (then the detector decides)."""
    chars = set(text)
    if chars & (_BE_ONLY | _KK_ONLY | _SR_MK_ONLY):
        return None  # another Cyrillic language's letters: the detector's call
    uk = bool(chars & _UK_STRONG) or bool(chars & _UK_I)
    ru = bool(chars & _RU_LETTERS)
    if uk and not ru:
        return "uk"
    if ru and not uk:
        return "ru"
    return None


def detect_languages(texts: list[str]) -> list[tuple[str | None, float]]:
    """(language, confidence) per text: en, ru, uk, "other", or None when the text is too short
    or the detector too unsure to judge."""
    if not texts:
        return []
    results = _detector().compute_language_confidence_values_in_parallel(texts)
    out: list[tuple[str | None, float]] = []
    for text, values in zip(texts, results, strict=True):
        hint = script_hint(text)
        if not values:
            out.append((hint, 0.0))
            continue
        top = values[0]
        code = top.language.iso_code_639_1.name.lower()
        lang = code if code in TRACKED else OTHER
        if hint and code in _CYRILLIC:
            # the letters settle it between the Cyrillic languages, whatever the statistics say
            out.append((hint, float(top.value)))
            continue
        letters = sum(ch.isalpha() for ch in text)
        if letters < MIN_LETTERS or top.value < MIN_CONFIDENCE:
            lang = hint
        out.append((lang, float(top.value)))
    return out
