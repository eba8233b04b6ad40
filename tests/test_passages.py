from narratives.passages.split import detect_languages, sentences, split


def test_sentences_keep_offsets_and_skip_abbreviations():
    text = "Mr. Smith met Dr. Jones on 7 March. The U.S. embassy warned! Then what?\nНовая строка."
    spans = sentences(text)
    assert [s.text for s in spans] == [
        "Mr. Smith met Dr. Jones on 7 March.",
        "The U.S. embassy warned!",
        "Then what?",
        "Новая строка.",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_passages_are_packed_within_the_word_limit_and_never_mix_languages():
    text = (
        "Russian officials claimed that Ukraine organised the attack. They gave no evidence at all. "
        "Officials repeated the claim on television.\n"
        "Україна заперечує будь-яку причетність до теракту. Це пропаганда, заявили в розвідці. "
        "Речник МЗС назвав звинувачення абсурдними."
    )
    passages = split(text, max_words=20)
    assert [p.lang for p in passages] == ["en", "uk"]
    assert all(len(p.text.split()) <= 20 for p in passages)
    assert all(text[p.start : p.end] == p.text for p in passages)
    assert [p.seq for p in passages] == [0, 1]


def test_long_sentence_is_cut_at_words():
    text = " ".join(f"word{i}" for i in range(50)) + "."
    passages = split(text, max_words=20, default_lang="en")
    assert [len(p.text.split()) for p in passages] == [20, 20, 10]


def test_language_identification_ru_uk_en_and_other():
    texts = [
        "В Кремле заявили, что следы теракта ведут на Украину.",
        "У Києві назвали ці звинувачення абсурдними та брехливими.",
        "The Islamic State group claimed the attack near Moscow.",
        "Der Anschlag wurde von der Terrormiliz für sich reklamiert.",
        "Ок",
    ]
    langs = [lang for lang, _ in detect_languages(texts)]
    assert langs == ["ru", "uk", "en", "other", None]


def test_short_sentence_takes_its_neighbours_language():
    passages = split(
        "Це пропаганда. Україна заперечує будь-яку причетність до теракту.", max_words=6
    )
    assert [p.lang for p in passages] == ["uk", "uk"]


def test_letters_settle_ukrainian_and_russian_where_the_statistics_say_kazakh():
    from narratives.passages.langid import detect_languages

    texts = [
        "Офіційних коментарів поки що немає.",  # lingua alone: Kazakh, confidence 1.0
        "У МЗС України заявили, що Москва використовує трагедію.",
        "Это было известно заранее, пишет газета.",
        "Қазақстан үкіметі бүгін жаңа заң қабылдады деп хабарлады.",  # Kazakh letters: other
        "Беларускія ўлады паведамілі пра новыя правілы ўезду.",  # Belarusian ў: other
    ]
    assert [lang for lang, _ in detect_languages(texts)] == ["uk", "uk", "ru", "other", "other"]
