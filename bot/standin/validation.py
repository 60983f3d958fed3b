"""Strict validation of Bot API requests against the specification and Telegram's limits.

``RequestValidator.validate`` takes the raw parameters of one call (strings from a form or a
query string, or JSON values) and either returns them converted to their proper types or raises
``BadRequest`` carrying Telegram's error shape ("Bad Request: ..."). Rules:

* every field must be in the spec and every required field present;
* values must fit one of the field's types (Integer, Float, Boolean, String, InputFile,
  "Array of X", an object type checked recursively, abstract types resolved to a subtype);
* documented limits: text 1-4096 and captions up to 1024 UTF-16 units after entity parsing,
  callback_data 1-64 bytes, exactly one action per inline button, bot command syntax;
* text and captions with parse_mode "HTML" must parse as Telegram HTML.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from bot.standin.html import HtmlParseError, ParsedText, parse_html, strip_text, utf16_len
from bot.standin.spec import ARRAY_PREFIX, PRIMITIVE_TYPES, ApiSpec, MethodSpec, TypeSpec

__all__ = [
    "BadRequest",
    "RequestValidator",
    "Upload",
    "ValidatedRequest",
]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
# Methods whose "text" is a message text (1-4096 after parsing).
MESSAGE_TEXT_METHODS = frozenset({"sendmessage", "editmessagetext"})
PARSE_MODES = frozenset({"html", "markdownv2", "markdown"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Fields of InlineKeyboardButton that are not its action (the spec: "Exactly one of the fields
# other than text, icon_custom_emoji_id, and style must be used").
BUTTON_NON_ACTION_FIELDS = frozenset({"text", "icon_custom_emoji_id", "style"})
BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_INTEGER = re.compile(r"^-?[0-9]+$")
# What Telegram calls the object when a JSON-serialized parameter does not parse.
_JSON_NAMES = {
    "reply_markup": "reply keyboard markup",
    "entities": "entities",
    "caption_entities": "caption entities",
}


class BadRequest(Exception):
    """A request Telegram would refuse with 400; ``description`` is the full text."""

    def __init__(self, description: str) -> None:
        if not description.startswith("Bad Request: "):
            description = f"Bad Request: {description}"
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class ValidatedRequest:
    method: MethodSpec
    params: dict[str, Any]
    # "text" / "caption" after entity parsing and trimming, when present.
    formatted: dict[str, ParsedText] = field(default_factory=dict)


class _Mismatch(Exception):
    """The value does not have the shape of the type (used to choose among union members)."""


def _type_label(types: tuple[str, ...]) -> str:
    return " or ".join(types)


def _is_primitive(type_name: str) -> bool:
    return type_name in PRIMITIVE_TYPES


class RequestValidator:
    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec

    # ---- entry point -------------------------------------------------------------------------

    def validate(
        self, method: MethodSpec, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> ValidatedRequest:
        state = _CallState(uploads)
        values = dict(params)
        for name, upload in uploads.items():
            spec_field = method.fields.get(name)
            if spec_field is not None and "InputFile" in spec_field.types:
                values[name] = upload
                state.used.add(name)
        for name in values:
            if name not in method.fields:
                raise BadRequest(f'unknown parameter "{name}"')
        # A JSON null is an omitted parameter.
        values = {name: value for name, value in values.items() if value is not None}
        for spec_field in method.fields.values():
            if spec_field.required and spec_field.name not in values:
                raise BadRequest(_missing_message(method.name, spec_field.name))
        out: dict[str, Any] = {}
        for name, value in values.items():
            spec_field = method.fields[name]
            out[name] = self._coerce(value, spec_field.types, name, state, top=True)
        unused = sorted(set(uploads) - state.used)
        if unused:
            raise BadRequest(f'unknown parameter "{unused[0]}"')
        request = ValidatedRequest(method=method, params=out)
        self._check_method_rules(request)
        return request

    def check_value(self, value: Any, types: tuple[str, ...], path: str = "value") -> Any:
        """Check one value (e.g. a response object) against spec types; raises BadRequest."""
        return self._coerce(value, types, path, _CallState({}), top=False)

    # ---- values ------------------------------------------------------------------------------

    def _coerce(
        self, value: Any, types: tuple[str, ...], path: str, state: _CallState, *, top: bool
    ) -> Any:
        for type_name in types:
            if _is_primitive(type_name):
                try:
                    return self._primitive(value, type_name, path, state)
                except _Mismatch:
                    continue
        complex_types = [t for t in types if not _is_primitive(t)]
        if complex_types and top and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                what = _JSON_NAMES.get(path, f"{path}")
                raise BadRequest(f"can't parse {what} JSON object") from None
        arrays = [t for t in complex_types if t.startswith(ARRAY_PREFIX)]
        objects = [t for t in complex_types if not t.startswith(ARRAY_PREFIX)]
        if isinstance(value, list) and arrays:
            inner = (arrays[0][len(ARRAY_PREFIX) :],)
            return [
                self._coerce(item, inner, f"{path}[{i}]", state, top=False)
                for i, item in enumerate(value)
            ]
        if isinstance(value, dict) and objects:
            return self._object(value, objects, path, state)
        raise BadRequest(f'field "{path}" must be of type {_type_label(types)}')

    def _primitive(self, value: Any, type_name: str, path: str, state: _CallState) -> Any:
        if type_name == "Integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and _INTEGER.match(value.strip()):
                return int(value.strip())
        elif type_name == "Float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    number = float(value)
                except ValueError:
                    raise _Mismatch from None
                if math.isfinite(number):
                    return number
        elif type_name == "Boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        elif type_name == "String":
            if isinstance(value, str):
                return value
        elif type_name == "InputFile":
            if isinstance(value, Upload):
                return value
            if isinstance(value, str) and value.startswith("attach://"):
                name = value[len("attach://") :]
                upload = state.uploads.get(name)
                if upload is None:
                    raise BadRequest(f'file "{name}" referenced by "{path}" was not uploaded')
                state.used.add(name)
                return upload
        raise _Mismatch

    def _object(
        self, value: dict[str, Any], type_names: list[str], path: str, state: _CallState
    ) -> dict[str, Any]:
        candidates: list[TypeSpec] = []
        for name in type_names:
            candidates.extend(t for t in self.spec.concrete_types(name) if t not in candidates)
        if not candidates:
            raise BadRequest(f'field "{path}" has an unknown type {_type_label(tuple(type_names))}')
        chosen = self._choose(value, candidates, type_names, path)
        return self._check_object(value, chosen, path, state)

    def _choose(
        self, value: dict[str, Any], candidates: list[TypeSpec], names: list[str], path: str
    ) -> TypeSpec:
        if len(candidates) == 1:
            return candidates[0]
        tagged = [(t, self.spec.discriminator(t)) for t in candidates]
        if all(tag is not None for _, tag in tagged):
            for spec, tag in tagged:
                assert tag is not None
                if value.get(tag[0]) == tag[1]:
                    return spec
            key = tagged[0][1][0] if tagged[0][1] else "type"
            if key not in value:
                raise BadRequest(
                    f'can\'t parse {_type_label(tuple(names))}: field "{key}" is required '
                    f'in "{path}"'
                )
            raise BadRequest(
                f'unsupported {_type_label(tuple(names))} {key} "{value[key]}" in "{path}"'
            )
        for spec, tag in tagged:
            if tag is not None and value.get(tag[0]) == tag[1]:
                return spec

        def score(spec: TypeSpec) -> tuple[int, int]:
            known = sum(1 for key in value if key in spec.fields)
            missing = sum(1 for f in spec.fields.values() if f.required and f.name not in value)
            return known - len(value), -missing

        return max(candidates, key=score)

    def _check_object(
        self, value: dict[str, Any], spec: TypeSpec, path: str, state: _CallState
    ) -> dict[str, Any]:
        for key in value:
            if key not in spec.fields:
                raise BadRequest(f'can\'t parse {spec.name}: unknown field "{key}" in "{path}"')
        for spec_field in spec.fields.values():
            if spec_field.required and spec_field.name not in value:
                raise BadRequest(
                    f'can\'t parse {spec.name}: field "{spec_field.name}" is required in "{path}"'
                )
        out = {
            key: self._coerce(item, spec.fields[key].types, f"{path}.{key}", state, top=False)
            for key, item in value.items()
        }
        self._check_type_rules(spec.name, out, path)
        return out

    # ---- documented limits -------------------------------------------------------------------

    def _check_type_rules(self, type_name: str, value: dict[str, Any], path: str) -> None:
        if type_name in ("KeyboardButton", "InlineKeyboardButton") and not value["text"]:
            raise BadRequest(f'button text must be non-empty in "{path}"')
        if type_name == "InlineKeyboardButton":
            _check_inline_button(value)
        elif type_name == "BotCommand":
            if not BOT_COMMAND.match(value["command"]):
                raise BadRequest("BOT_COMMAND_INVALID")
            if not 1 <= len(value["description"]) <= 256:
                raise BadRequest("BOT_COMMAND_DESCRIPTION_INVALID")

    def _check_method_rules(self, request: ValidatedRequest) -> None:
        method = request.method.name.lower()
        params = request.params
        for name in ("text", "caption"):
            if name in params and "parse_mode" in request.method.fields:
                request.formatted[name] = self._format(request, name)
        text = request.formatted.get("text")
        if method in MESSAGE_TEXT_METHODS and text is not None:
            if not text.text:
                raise BadRequest("message text is empty")
            if utf16_len(text.text) > TEXT_LIMIT:
                raise BadRequest("message is too long")
        caption = request.formatted.get("caption")
        if caption is not None and utf16_len(caption.text) > CAPTION_LIMIT:
            raise BadRequest("message caption is too long")
        if method == "answercallbackquery" and len(params.get("text") or "") > (
            CALLBACK_ANSWER_LIMIT
        ):
            raise BadRequest("MESSAGE_TOO_LONG")
        if method == "sendchataction" and params["action"] not in CHAT_ACTIONS:
            raise BadRequest("wrong parameter action in request")
        if method == "setmycommands" and len(params["commands"]) > 100:
            raise BadRequest("BOT_COMMANDS_TOO_MUCH")
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            count = sum(len(row) for row in markup["inline_keyboard"])
            if count > 100:
                raise BadRequest("BUTTONS_TOO_MUCH")

    def _format(self, request: ValidatedRequest, name: str) -> ParsedText:
        params = request.params
        raw = params[name]
        mode = params.get("parse_mode")
        entities_field = "entities" if name == "text" else "caption_entities"
        if mode is not None and str(mode).lower() not in PARSE_MODES and mode != "":
            raise BadRequest("unsupported parse_mode")
        if entities_field in params:
            parsed = ParsedText(raw, list(params[entities_field]))
        elif mode is not None and str(mode).lower() == "html":
            try:
                parsed = parse_html(raw)
            except HtmlParseError as exc:
                raise BadRequest(f"can't parse entities: {exc}") from None
        else:
            # Markdown modes are passed through unparsed (see docs/sandbox.md).
            parsed = ParsedText(raw)
        return strip_text(parsed)


@dataclass
class _CallState:
    uploads: dict[str, Upload]
    used: set[str] = field(default_factory=set)


def _missing_message(method: str, name: str) -> str:
    if name == "text" and method.lower() in MESSAGE_TEXT_METHODS:
        return "message text is empty"
    return f"{name} is empty"


def _check_inline_button(button: dict[str, Any]) -> None:
    actions = [key for key in button if key not in BUTTON_NON_ACTION_FIELDS]
    if not actions:
        raise BadRequest(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        listed = ", ".join(f'"{a}"' for a in actions)
        raise BadRequest(
            "can't parse inline keyboard button: exactly one of the optional fields must be "
            f"used, found {listed}"
        )
    if "callback_data" in button:
        size = len(button["callback_data"].encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_LIMIT:
            raise BadRequest("BUTTON_DATA_INVALID")
