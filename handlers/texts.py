"""Every word the bot shows a user: Simplified Chinese, short, plain and polite.

Texts are sent with parse_mode HTML: anything a user typed must pass through `esc`.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from services.errors import Refusal
from services.org import Place
from services.users import Profile
from storage.models import Role


def esc(value: object) -> str:
    return escape(str(value), quote=False)


ROLE_NAMES = {
    Role.resident: "居民",
    Role.volunteer: "海棠先锋志愿者",
    Role.coordinator: "社区工作人员",
    Role.admin: "街道管理员",
}

# The commands of each role, in the order /help and the menu show them.
COMMANDS: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.resident: (
        ("help", "查看可用命令"),
        ("me", "我的信息"),
    ),
    Role.volunteer: (
        ("help", "查看可用命令"),
        ("me", "我的信息和负责的住户"),
    ),
    Role.coordinator: (
        ("help", "查看可用命令"),
        ("me", "我的信息"),
        ("invite", "邀请志愿者加入"),
    ),
    Role.admin: (
        ("help", "查看可用命令"),
        ("me", "我的信息"),
        ("invite", "邀请社区工作人员或志愿者"),
    ),
}
GUEST_COMMANDS = (("start", "开始使用"),)

PRIVACY_NOTICE = (
    "您好！这里是<b>海棠先锋</b>社区服务助手。\n\n"
    "使用前请您了解：\n"
    "• <b>我们保存</b>：您的 Telegram 编号和称呼、所在社区，以及您反映的事情。\n"
    "• <b>为什么</b>：为了把您的事情交给社区办理，并告诉您办理进度。\n"
    "• <b>谁能看到</b>：只有您所在社区的工作人员和负责您家的志愿者；电话号码会隐去中间几位。\n\n"
    "您同意后我们才会保存信息。"
)
CONSENT_YES = "同意"
CONSENT_NO = "不同意"
CONSENT_DECLINED = "好的，我们不会保存您的任何信息。\n如果以后想使用，随时发送 /start。"
CHOOSE_STREET = "谢谢您！请选择您所在的<b>街道</b>："
CHOOSE_COMMUNITY = "请选择您所在的<b>社区</b>（{street}）："
PREV_PAGE = "« 上一页"
NEXT_PAGE = "下一页 »"
BACK_TO_STREETS = "« 重新选择街道"
STATION_UNKNOWN = "这个二维码已失效，请您手动选择社区。"
WELCOME_BACK = "{name}，欢迎回来！发送 /help 查看可用命令。"
BUTTON_EXPIRED = "这个按钮已过期，请重新操作。"
NOT_REGISTERED = "您还没有开始使用。请先发送 /start，了解说明并同意后就可以使用了。"
UNKNOWN_COMMAND = "没有这个命令。发送 /help 查看您可以使用的命令。"
NOT_UNDERSTOOD = "收到啦！目前我还看不懂这类消息，请发送文字，或发送 /help 查看可用命令。"
SOMETHING_WRONG = "抱歉，系统开小差了，请稍后再试。您的信息没有丢失。"
TOO_FAST = "您发得太快了，请稍等一会儿再试。"
HELP_HEADER = "您可以使用这些命令："
TEXT_RECEIVED = "收到您的消息了。反映问题的功能很快开通，请稍候。"

INVITE_CHOOSE_ROLE = "要邀请谁加入？"
INVITE_CHOOSE_GRID = "请选择志愿者负责的<b>网格</b>："
INVITE_CHOOSE_COMMUNITY = "请选择社区工作人员所在的<b>社区</b>："
INVITE_CHOOSE_USES = "这个邀请链接可以用几次？"
INVITE_USES_BUTTON = "{uses} 次"
INVITE_NONE_ALLOWED = "您没有邀请他人的权限。"
INVITE_USAGE = "用法：发送 /invite 按提示选择；\n或直接发送 /invite volunteer 网格号 [次数]，例如 /invite volunteer 1"

REFUSALS: dict[Refusal, str] = {
    Refusal.not_registered: NOT_REGISTERED,
    Refusal.not_allowed: "抱歉，您没有这项操作的权限。",
    Refusal.invite_unknown: "这个邀请码不存在，请核对后重试，或向社区工作人员要一个新链接。",
    Refusal.invite_expired: "这个邀请链接已过期，请向社区工作人员要一个新链接。",
    Refusal.invite_used_up: "这个邀请链接已经用完了，请向社区工作人员要一个新链接。",
    Refusal.invite_too_many_tries: "尝试次数太多了，请 {minutes} 分钟后再试。",
    Refusal.invite_role_held: "您已经是{role_name}，不需要这个邀请。",
    Refusal.unknown_street: "没有找到这个街道，请重新选择。",
    Refusal.unknown_community: "没有找到这个社区，请重新选择。",
    Refusal.unknown_grid: "没有找到这个网格，请核对网格号。",
    Refusal.unknown_station: STATION_UNKNOWN,
    Refusal.bad_uses: "使用次数要在 1 到 {max} 之间。",
    Refusal.not_a_resident: "这一步只适用于居民。",
}


def refusal(code: Refusal, details: dict[str, object]) -> str:
    values = dict(details)
    if "role" in values:
        values["role_name"] = ROLE_NAMES.get(Role(str(values["role"])), "")
    try:
        return REFUSALS[code].format(**values)
    except (KeyError, IndexError):
        return REFUSALS[code]


def help_text(role: Role) -> str:
    lines = [HELP_HEADER] + [f"/{cmd} - {desc}" for cmd, desc in COMMANDS[role]]
    return "\n".join(lines)


def show_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y年%m月%d日 %H:%M")


def bound_to_community(place: Place) -> str:
    return (
        f"好的，已为您登记在 <b>{esc(place.street)} · {esc(place.community)}</b>。\n"
        "有什么需要，直接发文字告诉我就行。发送 /help 查看可用命令。"
    )


def joined(role: Role, place: Place) -> str:
    where = " · ".join(esc(p) for p in (place.street, place.community, place.grid) if p)
    return f"欢迎加入！您现在是<b>{ROLE_NAMES[role]}</b>（{where}）。\n发送 /help 查看您可以使用的命令。"


def profile_text(p: Profile, tz: ZoneInfo) -> str:
    lines = [
        "<b>我的信息</b>",
        f"称呼：{esc(p.display_name)}",
        f"身份：{ROLE_NAMES[p.role]}",
    ]
    place = p.place
    if place.street:
        lines.append(f"街道：{esc(place.street)}")
    if place.community:
        lines.append(f"社区：{esc(place.community)}")
    if place.grid:
        lines.append(f"网格：{esc(place.grid)}")
    if place.household:
        lines.append(f"住址：{esc(place.household)}")
    if p.role == Role.volunteer:
        lines.append(f"负责住户：{p.households} 户")
    if p.role == Role.resident and not place.community:
        lines.append("还没有选择社区：发送 /start 选择。")
    if p.consent_at:
        lines.append(f"同意使用说明：{show_time(p.consent_at, tz)}")
    return "\n".join(lines)


def invite_created(link: str, role: Role, scope_name: str, uses: int, expires: str) -> str:
    return (
        f"邀请链接已生成（{ROLE_NAMES[role]} · {esc(scope_name)}）：\n{esc(link)}\n\n"
        f"可以使用 {uses} 次，{expires} 前有效。请只发给要邀请的人。"
    )
