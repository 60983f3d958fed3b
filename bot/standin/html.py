"""Telegram-flavoured HTML: parse message text the way the Bot API does for parse_mode="HTML".

The rules follow Telegram's own parser (tdlib's ``parse_html``): a fixed set of tags, the
character references ``&lt; &gt; &amp; &quot;`` and numeric ``&#...;``; an unknown reference
stays a literal ``&``. Anything else (an unsupported tag, a bare ``<``, an unclosed or
mismatched tag) is an error whose message matches Telegram's wording, which the server reports
as ``Bad Request: can't parse entities: <message>``.

Offsets and lengths of the resulting entities are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "HtmlParseError",
    "ParsedText",
    "parse_html",
    "strip_text",
    "utf16_len",
]

# Tag name -> entity type. "span" needs class="tg-spoiler"; "a" becomes a text link;
# "code" directly inside "pre" gives the pre block its language.
_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_BOOLEAN_ATTRIBUTES = {("blockquote", "expandable")}
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_REFERENCE = re.compile(r"&(?:#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}))|([a-zA-Z]{2,4}));")
_SPACES = " \t\n\r\f\v"


class HtmlParseError(ValueError):
    """Text that Telegram would refuse with "can't parse entities"."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int
    language: str = ""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_reference(text: str, index: int) -> tuple[str, int] | None:
    """The character of the reference starting at ``text[index] == "&"`` and its length."""
    match = _REFERENCE.match(text, index)
    if match is None:
        return None
    hex_code, dec_code, name = match.groups()
    if name is not None:
        char = _NAMED_REFERENCES.get(name)
        return (char, match.end() - index) if char is not None else None
    code = int(hex_code, 16) if hex_code is not None else int(dec_code)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end() - index


def _decode_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&" and (ref := _decode_reference(value, i)) is not None:
            out.append(ref[0])
            i += ref[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.src = text
        self.pos = 0
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def error(self, message: str) -> HtmlParseError:
        return HtmlParseError(message)

    def char_at(self, index: int) -> str:
        return self.src[index] if index < len(self.src) else ""

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.utf16 += utf16_len(chars)

    def run(self) -> ParsedText:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c == "&":
                ref = _decode_reference(src, self.pos)
                if ref is not None:
                    self.emit(ref[0])
                    self.pos += ref[1]
                    continue
            if c != "<":
                self.emit(c)
                self.pos += 1
                continue
            if self.char_at(self.pos + 1) == "/":
                self.end_tag()
            else:
                self.start_tag()
        if self.stack:
            name = self.stack[-1].name
            raise self.error(f'Can\'t find end tag corresponding to start tag "{name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.out), self.entities)

    def start_tag(self) -> None:
        src = self.src
        begin = self.pos
        i = begin + 1
        while i < len(src) and src[i] not in _SPACES and src[i] != ">":
            i += 1
        tag = src[begin + 1 : i].lower()
        offset = _byte_offset(src, begin)
        if tag not in _TAGS:
            raise self.error(f'Unsupported start tag "{tag}" at byte offset {offset}')
        argument = ""
        while True:
            while i < len(src) and src[i] in _SPACES:
                i += 1
            if i >= len(src):
                raise self.error(f"Unclosed start tag at byte offset {offset}")
            if src[i] == ">":
                break
            name_start = i
            while i < len(src) and src[i] not in _SPACES and src[i] not in "=>":
                i += 1
            attribute = src[name_start:i].lower()
            if not attribute:
                raise self.error(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
            while i < len(src) and src[i] in _SPACES:
                i += 1
            if self.char_at(i) != "=":
                if (tag, attribute) in _BOOLEAN_ATTRIBUTES:
                    argument = "expandable"
                    continue
                raise self.error(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {offset}'
                )
            i += 1
            while i < len(src) and src[i] in _SPACES:
                i += 1
            if i >= len(src):
                raise self.error(f"Unclosed start tag at byte offset {offset}")
            if src[i] in "'\"":
                quote = src[i]
                end = src.find(quote, i + 1)
                if end < 0:
                    raise self.error(f"Unclosed start tag at byte offset {offset}")
                value = _decode_attribute(src[i + 1 : end])
                i = end + 1
            else:
                token_start = i
                while i < len(src) and (src[i].isalnum() or src[i] in ".-"):
                    i += 1
                if i < len(src) and src[i] not in _SPACES and src[i] != ">":
                    raise self.error(
                        f"Unexpected end of name token at byte offset "
                        f"{_byte_offset(src, token_start)}"
                    )
                value = src[token_start:i].lower()
            argument = self.attribute_argument(tag, attribute, value, argument)
        if tag == "span" and argument != "spoiler":
            raise self.error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        self.pos = i + 1
        self.stack.append(_OpenTag(tag, argument, self.utf16))

    @staticmethod
    def attribute_argument(tag: str, attribute: str, value: str, current: str) -> str:
        if tag == "a" and attribute == "href":
            return value
        if tag == "code" and attribute == "class" and value.startswith("language-"):
            return value[len("language-") :]
        if tag == "span" and attribute == "class" and value.startswith("tg-"):
            return value[len("tg-") :]
        if tag == "tg-emoji" and attribute == "emoji-id":
            return value
        if tag == "blockquote" and attribute == "expandable":
            return "expandable"
        return current

    def end_tag(self) -> None:
        src = self.src
        begin = self.pos
        offset = _byte_offset(src, begin)
        if not self.stack:
            raise self.error(f"Unexpected end tag at byte offset {offset}")
        i = begin + 2
        while i < len(src) and src[i] not in _SPACES and src[i] != ">":
            i += 1
        name = src[begin + 2 : i].lower()
        while i < len(src) and src[i] in _SPACES:
            i += 1
        if self.char_at(i) != ">":
            raise self.error(f"Unclosed end tag at byte offset {offset}")
        open_tag = self.stack.pop()
        if name and name != open_tag.name:
            raise self.error(
                f'Unmatched end tag at byte offset {offset}, expected "</{open_tag.name}>", '
                f'found "</{name}>"'
            )
        self.pos = i + 1
        self.close(open_tag)

    def close(self, tag: _OpenTag) -> None:
        length = self.utf16 - tag.utf16_start
        parent = self.stack[-1] if self.stack else None
        if tag.name == "code" and parent is not None and parent.name == "pre":
            # <pre><code class="language-x">...</code></pre> is one pre block with a language.
            if tag.argument:
                parent.language = tag.argument
            return
        if length == 0:
            return
        entity: dict[str, Any] = {
            "type": _TAGS[tag.name],
            "offset": tag.utf16_start,
            "length": length,
        }
        if tag.name == "a":
            if not tag.argument:
                return
            entity["url"] = tag.argument
        elif tag.name == "tg-emoji":
            if not tag.argument:
                raise self.error("Custom emoji entity must contain a custom emoji identifier")
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "blockquote" and tag.argument == "expandable":
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)


def parse_html(text: str) -> ParsedText:
    """Plain text and entities of Telegram HTML; raises HtmlParseError like Telegram."""
    return _Parser(text).run()


def strip_text(parsed: ParsedText) -> ParsedText:
    """Trim surrounding whitespace as Telegram does, moving and clipping the entities."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    entities: list[dict[str, Any]] = []
    for entity in parsed.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, entities)
