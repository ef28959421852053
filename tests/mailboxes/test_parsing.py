"""Reading mail as Chinese mail agents write it."""

from __future__ import annotations

import base64
import datetime as dt

from mailboxes import parsing


def _mail(headers: str, body: bytes, charset: str) -> bytes:
    return (
        headers.replace("\n", "\r\n").encode()
        + f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n".encode()
        + base64.b64encode(body)
        + b"\r\n"
    )


def test_gb2312_declared_text_with_gbk_characters_is_read_as_gb18030():
    text = "镕铭的冰箱不制冷，型号 BCD-520；喆"  # 镕 and 喆 are not in GB2312
    raw = _mail("From: a@example.cn\nSubject: =?GB2312?B?" + base64.b64encode("冰箱".encode("gbk")).decode() + "?=\n",
                text.encode("gb18030"), "gb2312")  # fmt: skip
    mail = parsing.parse(raw)
    assert mail.text == text and mail.subject == "冰箱"


def test_big5_and_an_unknown_charset_never_fail():
    assert parsing.parse(_mail("From: a@example.tw\n", "冷氣機漏水".encode("big5"), "big5")).text == "冷氣機漏水"
    odd = parsing.parse(_mail("From: a@example.cn\n", "空调".encode(), "x-unknown-charset"))
    assert odd.text == "空调"


def test_a_date_without_a_zone_and_a_mail_without_message_id():
    raw = _mail("From: a@example.cn\nDate: Tue, 1 Dec 2026 09:12:27 -0000\n", b"hello", "us-ascii")
    mail = parsing.parse(raw)
    assert mail.date == dt.datetime(2026, 12, 1, 9, 12, 27, tzinfo=dt.UTC)
    assert mail.message_id.endswith("@no-message-id>") and mail.message_id == parsing.parse(raw).message_id


def test_the_new_text_of_chinese_replies_drops_the_quoted_mail():
    outlook = (
        "收到了，谢谢！\n\n-----原始邮件-----\n发件人: 售后服务台 <desk@example.com>\n"
        "发送时间: 2026年12月1日 10:00\n\n您好"
    )
    foxmail = "好的，周五上午可以。\n\n在 2026年12月1日 10:00，售后服务台 <desk@example.com> 写道：\n> 您好"
    assert parsing.new_text(outlook) == "收到了，谢谢！"
    assert parsing.new_text(foxmail) == "好的，周五上午可以。"


def test_sanitised_html_keeps_text_and_links_and_drops_what_could_run():
    html = (
        '<p onclick="steal()">保修<b>卡</b></p><script>alert(1)</script><a href="javascript:alert(1)">x</a>'
        '<a href="https://example.cn/manual">说明书</a><img src="cid:part1"><iframe src="https://evil"></iframe>'
        '<form action="https://evil"><input name="p"></form>'
    )
    clean, held = parsing.sanitise_html(html)
    assert "保修<b>卡</b>" in clean and "说明书" in clean and 'target="_blank"' in clean
    for bad in ("onclick", "script", "javascript:", "iframe", "<form", "<input", "cid:"):
        assert bad not in clean
    assert held == 0
