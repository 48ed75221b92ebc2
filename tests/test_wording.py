from mentoring_eval.wording import join_words, plural


def test_plural_agrees_with_the_count():
    assert plural(1, "OT") == "1 OT"
    assert plural(2, "OT") == "2 OTs"
    assert plural(0, "month") == "0 months"
    assert plural(3, "site needs", "sites need") == "3 sites need"


def test_join_words_reads_as_a_sentence():
    assert join_words([]) == "none"
    assert join_words([7]) == "7"
    assert join_words([1, 4, 5]) == "1, 4 and 5"
