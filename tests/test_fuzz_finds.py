"""What the atheris targets (fuzz/, `make fuzz`) found, each kept as a direct test of the public API it
crashed; the same inputs are cases of the hostile corpus (tests/hostile/corpus.py), run by every command."""

from __future__ import annotations

import base64
import zipfile

from builders import clean_submission, write_workbook
from hostile.corpus import broken_deflate, unnamed_member_zip

from perf_toolkit.mail.inbox import Arrival, Ignored, decode_bytes, read_sources
from perf_toolkit.workbook.marker import output_mark
from perf_toolkit.workbook.read import read_workbooks


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
    (tmp_path / "坏压缩数据.zip").write_bytes(broken_deflate({"单位填报表.xlsx": good}, "单位填报表.xlsx"))
    item = _only_ignored(tmp_path / "坏压缩数据.zip")
    assert item.name == "单位填报表.xlsx" and item.reason == "压缩包中的文件已损坏，无法解压，已跳过"


def test_a_workbook_whose_content_types_part_has_broken_deflate_data_is_rejected_not_raised(tmp_path):
    good = write_workbook(tmp_path / "in", "好.xlsx", clean_submission())
    with zipfile.ZipFile(good) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    bad = tmp_path / "收件箱" / "类型部件损坏.xlsx"
    bad.parent.mkdir()
    bad.write_bytes(broken_deflate(parts, "[Content_Types].xml"))
    assert output_mark(bad) is None and output_mark(bad.read_bytes()) is None
    (mailed,) = [i for i in read_sources([bad])]  # the mail stage takes it (the reader judges it)
    assert isinstance(mailed, Arrival)
    reads, skipped = read_workbooks([bad.parent], jobs=1)
    assert not skipped and reads[0].sourced is None and reads[0].findings[0].code == "file-unreadable"


def test_a_raw_8bit_byte_in_an_rfc2231_file_name_is_read_not_raised(tmp_path):
    good = write_workbook(tmp_path, "好.xlsx", clean_submission()).read_bytes()
    mail = tmp_path / "名.eml"
    mail.write_bytes(b"From: a@b.cn\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=W\r\n\r\n--W\r\n"
                     b"Content-Type: application/octet-stream\r\n"
                     b"Content-Disposition: attachment; filename*=UTF-8''%E4%B8%9C\xb8.xlsx\r\n"
                     b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(good) + b"\r\n--W--\r\n")
    [arrival] = list(read_sources([mail]))
    assert isinstance(arrival, Arrival) and arrival.name.endswith(".xlsx") and arrival.data == good


def test_an_empty_zip_or_one_of_hidden_files_only_is_listed_with_its_reason(tmp_path):
    with zipfile.ZipFile(tmp_path / "空.zip", "w"):
        pass
    with zipfile.ZipFile(tmp_path / "苹果.zip", "w") as zf:
        zf.writestr("__MACOSX/._表.xlsx", b"\0\5\26\7")
        zf.writestr(".DS_Store", b"Bud1")
        zf.writestr("文件夹/", b"")
    assert _only_ignored(tmp_path / "空.zip").reason == "压缩包中没有文件，已跳过"
    item = _only_ignored(tmp_path / "苹果.zip")
    assert item.name == "苹果.zip" and "只有隐藏文件或 macOS 附加文件" in item.reason


def test_a_zip_member_with_an_empty_name_is_listed_not_raised(tmp_path):
    (tmp_path / "无名.zip").write_bytes(unnamed_member_zip(b"PK\3\4"))
    assert [i.filename for i in zipfile.ZipFile(tmp_path / "无名.zip").infolist()] == [""]
    item = _only_ignored(tmp_path / "无名.zip")
    assert item.name == "（无名文件）" and "不是电子表格文件" in item.reason
