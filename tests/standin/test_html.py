"""Telegram HTML parsing: plain text, UTF-16 entity offsets and Telegram's error messages."""

from __future__ import annotations

import pytest

from bot.standin.html import HtmlParseError, ParsedText, parse_html, strip_text, utf16_len


def test_plain_text_and_references() -> None:
    parsed = parse_html("a &lt;b&gt; &amp; &quot;c&quot; &#20320;&#x597D; & &nbsp;")
    assert parsed.text == 'a <b> & "c" 你好 & &nbsp;'
    assert parsed.entities == []


def test_entities_use_utf16_offsets() -> None:
    parsed = parse_html("😀<b>粗</b> <a href='https://example.org/?a=1&amp;b=2'>链接</a>")
    assert parsed.text == "😀粗 链接"
    assert parsed.entities == [
        {"type": "bold", "offset": 2, "length": 1},
        {"type": "text_link", "offset": 4, "length": 2, "url": "https://example.org/?a=1&b=2"},
    ]


def test_all_supported_tags() -> None:
    html = (
        "<strong>b</strong><em>i</em><ins>u</ins><del>s</del><strike>s</strike>"
        '<span class="tg-spoiler">p</span><tg-spoiler>p</tg-spoiler>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote>q</blockquote><blockquote expandable>e</blockquote><B>upper</B>"
    )
    parsed = parse_html(html)
    assert parsed.text == "biusspp👍cx = 1qeupper"
    types = [e["type"] for e in parsed.entities]
    assert types == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "custom_emoji",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "bold",
    ]
    pre = next(e for e in parsed.entities if e["type"] == "pre")
    assert pre["language"] == "python"
    emoji = next(e for e in parsed.entities if e["type"] == "custom_emoji")
    assert emoji == {
        "type": "custom_emoji",
        "offset": 7,
        "length": 2,
        "custom_emoji_id": "5368324170671202286",
    }


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("价格 < 5", 'Unsupported start tag "" at byte offset 7'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
        (
            "<a href>y</a>",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
    ],
)
def test_errors_match_telegram(html: str, message: str) -> None:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(html)
    assert str(caught.value) == message


def test_strip_moves_entities() -> None:
    parsed = strip_text(parse_html("  <b> 粗体 </b>  "))
    assert parsed == ParsedText("粗体", [{"type": "bold", "offset": 0, "length": 2}])


def test_utf16_len() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("你好") == 2
    assert utf16_len("😀") == 2
