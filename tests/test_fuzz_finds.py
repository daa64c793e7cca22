"""What the atheris targets (fuzz/, `make fuzz`) found, each kept as a direct test of the public API it
crashed; the same inputs are cases of the hostile corpus (tests/hostile/corpus.py), run by every command."""

from __future__ import annotations

from builders import clean_submission, write_workbook
from hostile.corpus import _bad_deflate

from perf_toolkit.mail.inbox import Ignored, decode_bytes, read_sources


def _only_ignored(path) -> Ignored:
    [item] = list(read_sources([path]))
    assert isinstance(item, Ignored)
    return item


def test_a_charset_name_holding_nul_bytes_decodes_instead_of_raising(tmp_path):
    assert decode_bytes("报送".encode("gb18030"), "\0\0\0\0gb2312") == "报送"
    mail = tmp_path / "字符集.eml"
    mail.write_bytes(b"From: =?\0\0\0\0gb2312?b?!!!?= <a@b.cn>\r\nSubject: =?\0utf-8?q?=FF?=\r\n\r\ntext\r\n")
    item = _only_ignored(mail)
    assert item.reason == "邮件中没有电子表格附件" and item.sender == "a@b.cn"


def test_an_mbox_without_a_message_is_skipped_with_its_reason(tmp_path):
    for name, data in (("空.mbox", b""), ("无分隔行.mbox", b"Subject: hi\n\nno From line\n")):
        (tmp_path / name).write_bytes(data)
        item = _only_ignored(tmp_path / name)
        assert item.name == name and "邮箱文件中没有邮件" in item.reason


def test_a_zip_member_whose_deflate_data_is_broken_is_skipped_with_its_reason(tmp_path):
    good = write_workbook(tmp_path, "好.xlsx", clean_submission()).read_bytes()
    (tmp_path / "坏压缩数据.zip").write_bytes(_bad_deflate(good))
    item = _only_ignored(tmp_path / "坏压缩数据.zip")
    assert item.name == "单位填报表.xlsx" and item.reason == "压缩包中的文件已损坏，无法解压，已跳过"
