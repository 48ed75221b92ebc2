from mentoring_eval.wording import capitalised, join_words, number_range, plural, sites_phrase


def test_plural_agrees_with_the_count():
    assert plural(1, "OT") == "1 OT"
    assert plural(2, "OT") == "2 OTs"
    assert plural(0, "month") == "0 months"
    assert plural(3, "site needs", "sites need") == "3 sites need"


def test_join_words_reads_as_a_sentence():
    assert join_words([]) == "none"
    assert join_words([7]) == "7"
    assert join_words([1, 4, 5]) == "1, 4 and 5"


def test_join_words_says_what_an_empty_list_is():
    assert join_words([]) == "none"
    assert join_words([], empty="no month") == "no month"


def test_sites_phrase_is_sorted_and_singular_for_one():
    assert sites_phrase([10, 9]) == "sites 9 and 10"
    assert sites_phrase([7]) == "site 7"
    assert sites_phrase([]) == "no sites"


def test_a_range_of_one_value_is_that_value():
    assert number_range("88", "88") == "88"
    assert number_range("51", "121") == "51–121"


def test_capitalised_keeps_the_rest():
    assert capitalised("site 7 and OT12") == "Site 7 and OT12"
    assert capitalised("") == ""
