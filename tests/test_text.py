"""The text helpers every writer relies on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from perf_toolkit.text import scrub

#: Characters scrub must act on, among ordinary Chinese and ASCII text.
AWKWARD = "\x00\x01\x08\x0b\x0c\x0e\x1f\t\n\r\ud800\udfff\ufffe\uffff\u202a\u202e\u2066\u2069\ufe5d\ufe5e中文 a1%\u2028"


@given(st.text(alphabet=st.sampled_from(AWKWARD) | st.characters(), max_size=40))
def test_scrub_removes_what_xml_and_readers_cannot_hold_and_keeps_the_rest(text):
    cleaned = scrub(text)
    kept = "".join(c for c in text if not ("\x00" <= c <= "\x08" or c in "\x0b\x0c" or "\x0e" <= c <= "\x1f"
                                           or "\ud800" <= c <= "\udfff" or c in "\ufffe\uffff"
                                           or "\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069"))
    assert cleaned == kept.replace("\ufe5d", "〔").replace("\ufe5e", "〕")
    assert scrub(cleaned) == cleaned


def test_clean_text_is_returned_as_it_is():
    text = "年度目标：新建高标准农田 1.2 万亩。\n第二行\t制表"
    assert scrub(text) is text
