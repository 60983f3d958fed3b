"""Every word the bot shows a user: Simplified Chinese, short, plain and polite.

Texts are sent with parse_mode HTML: anything a user typed must pass through `esc`.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from nlp import taxonomy
from services.errors import Refusal
from services.org import Place
from services.tickets import TicketCard, VolunteerOption
from services.users import Profile
from storage.models import Rating, Role, Ticket, TicketStatus


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
        ("report", "反映问题"),
        ("mytickets", "我反映的问题"),
        ("me", "我的信息"),
        ("help", "查看可用命令"),
    ),
    Role.volunteer: (
        ("report", "替住户反映问题"),
        ("tasks", "派给我的任务"),
        ("me", "我的信息和负责的住户"),
        ("help", "查看可用命令"),
    ),
    Role.coordinator: (
        ("inbox", "待办事项"),
        ("invite", "邀请志愿者加入"),
        ("me", "我的信息"),
        ("help", "查看可用命令"),
    ),
    Role.admin: (
        ("inbox", "转办到街道的事项"),
        ("invite", "邀请社区工作人员或志愿者"),
        ("me", "我的信息"),
        ("help", "查看可用命令"),
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
    if "status" in values:
        values["status_name"] = STATUS_NAMES.get(TicketStatus(str(values["status"])), "")
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


# ---------------------------------------------------------------- tickets

STATUS_NAMES = {
    TicketStatus.new: "待受理",
    TicketStatus.accepted: "已受理",
    TicketStatus.dispatched: "已派单",
    TicketStatus.in_progress: "处理中",
    TicketStatus.awaiting_confirmation: "待确认",
    TicketStatus.closed: "已办结",
    TicketStatus.escalated: "已转办",
    TicketStatus.rejected: "不予受理",
    TicketStatus.duplicate: "重复",
    TicketStatus.reopened: "重新办理",
}
ACTION_NAMES = {
    "report": "反映问题",
    "accept": "受理",
    "dispatch": "派单",
    "take": "接单",
    "decline": "无法处理",
    "resolve": "已处理",
    "confirm": "确认已解决",
    "unresolved": "反馈未解决",
    "rate": "评价",
    "reopen": "不满意，重新办理",
    "comment": "留言",
    "escalate": "转办街道",
    "refuse": "不予受理",
    "merge": "合并",
    "recategorize": "改分类",
    "attach": "补充",
    "timeout_close": "超时自动办结",
}
RATING_NAMES = {
    Rating.satisfied: "满意",
    Rating.basically: "基本满意",
    Rating.dissatisfied: "不满意",
}

BTN_RECATEGORIZE = "改分类"
BTN_ACCEPT = "受理"
BTN_DISPATCH = "派单"
BTN_ESCALATE = "转办街道"
BTN_REFUSE = "不予受理"
BTN_MERGE = "合并到 {number}"
BTN_PHOTOS = "查看照片"
BTN_OPEN = "查看详情"
BTN_TAKE = "接单"
BTN_DECLINE = "无法处理"
BTN_RESOLVE = "已处理"
BTN_SOLVED = "已解决"
BTN_UNSOLVED = "未解决"
BTN_SKIP = "跳过"
BTN_BACK = "« 返回"

ASK_REPORT = "请用文字说说您遇到的问题，越具体越好。"
ASK_HOUSEHOLD = "请选择是哪一户的事情："
NO_HOUSEHOLDS = "您还没有负责的住户，请联系社区工作人员。"
ASK_REASON = {
    "decline": "请说说无法处理的原因：",
    "escalate": "请写明转办街道的原因：",
    "refuse": "请写明不予受理的原因（居民会看到）：",
}
ASK_RESOLUTION = "请写一下处理结果。也可以发一张照片，把结果写在照片说明里。"
ASK_COMMENT = "谢谢您的评价！还想说点什么吗？可以直接发文字，或点“跳过”。"
ASK_RATING = "谢谢确认！请为这次办理打个分："
CHOOSE_CATEGORY = "请选择正确的分类："
CHOOSE_VOLUNTEER = "派给哪位志愿者？（按是否负责该户、同网格、手头任务少排序）"
NO_VOLUNTEERS = "本社区暂时没有可派单的志愿者。"
NO_TICKETS = "目前没有需要处理的事项。"
NO_MY_TICKETS = "您还没有反映过问题。有事直接发文字告诉我就行。"
NO_TASKS = "您目前没有待办的任务。"
INBOX_HEADER = "待办事项（紧急的在前，其次按时间先后），共 {pages} 页，第 {page} 页："
MY_TICKETS_HEADER = "您反映的问题："
TASKS_HEADER = "派给您的任务："
CANCELLED = "好的，已取消。"
COMMENT_SAVED = "您的意见已记录，谢谢！"
RATING_THANKS = "谢谢您的评价！"
RATED_DISSATISFIED = "抱歉没有让您满意。我们已重新办理，并请社区督办。"
UNRESOLVED_REOPENED = "收到，我们会重新办理，并请社区督办。"
PHOTO_WITHOUT_REPORT = "如需反映问题，请先用文字描述，再发照片或位置。"
STAFF_TEXT_HINT = "如需处理事项，请发送 /inbox 查看待办。"

REFUSALS.update(
    {
        Refusal.no_community: "请先发送 /start 选择您所在的社区，再反映问题。",
        Refusal.not_your_household: "这一户不在您负责的名单里。",
        Refusal.ticket_unknown: "没有找到这件事，或您没有查看的权限。",
        Refusal.ticket_moved_on: "这件事（{number}）已是“{status_name}”，这个操作已失效。",
        Refusal.too_many_photos: "每件事最多附 {limit} 张照片，{number} 已经满了。",
        Refusal.nothing_to_attach: PHOTO_WITHOUT_REPORT,
        Refusal.unknown_category: "没有这个分类，请重新选择。",
        Refusal.unknown_volunteer: "这位志愿者不能接这个单，请重新选择。",
        Refusal.empty_text: "内容不能为空，请再说一下。",
        Refusal.text_too_long: "内容太长了，请控制在 {limit} 字以内。",
        Refusal.not_a_duplicate: "这两件事不能合并。",
    }
)


def category_name(code: str) -> str:
    return taxonomy.chinese_name(code)


def when(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%m月%d日 %H:%M")


def urgency(urgent: bool) -> str:
    return "🔴 紧急" if urgent else "一般"


def ticket_received(ticket: Ticket, tz: ZoneInfo) -> str:
    hours = int((ticket.respond_by - ticket.created_at).total_seconds() // 3600)
    if ticket.category == taxonomy.UNSURE:
        category = "待分诊（工作人员会为您确认）"
    else:
        category = category_name(ticket.category)
    return (
        f"已收到您反映的问题，编号 <b>{ticket.number}</b>。\n"
        f"分类：{category}\n"
        f"紧急程度：{urgency(ticket.urgent)}\n"
        f"接下来：社区工作人员会在 {hours} 小时内（{when(ticket.respond_by, tz)} 前）受理，"
        "进展会随时告诉您。\n"
        "还可以接着发照片（最多 3 张）或位置。"
    )


def photo_added(number: str, count: int) -> str:
    return f"照片已加到 {number}（第 {count} 张）。"


def location_added(number: str) -> str:
    return f"位置已加到 {number}。"


def ticket_line(ticket: Ticket) -> str:
    flag = "🔴" if ticket.urgent else "•"
    supervised = "·督办" if ticket.supervised else ""
    return (
        f"{flag} {ticket.number} {category_name(ticket.category)}"
        f" · {STATUS_NAMES[ticket.status]}{supervised}"
    )


def ticket_card(c: TicketCard, tz: ZoneInfo) -> str:
    t = c.ticket
    head = f"<b>{t.number}</b> {urgency(t.urgent)} · {STATUS_NAMES[t.status]}"
    if t.supervised:
        head += " · <b>督办</b>"
    lines = [head]
    reason = f"（依据：{esc('、'.join(t.keywords.split(';')))}）" if t.keywords else ""
    lines.append(f"分类：{category_name(t.category)}{reason}")
    if t.urgent_cue:
        lines.append(f"紧急原因：{esc(t.urgent_cue)}")
    lines.append(f"内容：{esc(t.text)}")
    lines.append(f"反映人：{esc(c.reporter)}" + (f"  电话：{c.phone}" if c.phone else ""))
    if c.address:
        lines.append(f"地址：{esc(c.address)}")
    if t.latitude is not None and t.longitude is not None:
        lines.append(f"位置：{t.latitude:.5f}, {t.longitude:.5f}")
    if c.photos:
        lines.append(f"照片：{len(c.photos)} 张")
    if c.assignee:
        lines.append(f"处理人：{esc(c.assignee)}")
    if t.resolution_note:
        lines.append(f"处理结果：{esc(t.resolution_note)}")
    if t.rating:
        lines.append(
            f"评价：{RATING_NAMES[t.rating]}"
            + (f"（{esc(t.rating_comment)}）" if t.rating_comment else "")
        )
    for other in c.duplicates:
        lines.append(f"⚠️ 可能重复：{other.number}（7 天内同户或同楼、同类）")
    lines.append("记录：")
    for h in c.history[-8:]:
        status = f" → {STATUS_NAMES[h.to_status]}" if h.to_status else ""
        note = f"：{esc(h.note)}" if h.note and h.action != "report" else ""
        lines.append(
            f"{when(h.at, tz)} {esc(h.actor)} {ACTION_NAMES.get(h.action, h.action)}{status}{note}"
        )
    return "\n".join(lines)


def volunteer_label(o: VolunteerOption) -> str:
    marks = []
    if o.looks_after:
        marks.append("负责该户")
    elif o.same_grid:
        marks.append("同网格")
    marks.append(f"在办 {o.open_load}")
    return f"{o.name}（{'，'.join(marks)}）"


# Outbox notices (rendered at send time from their payload).


def notice_status(p: dict[str, object]) -> str:
    status = STATUS_NAMES[TicketStatus(str(p["status"]))]
    text = f"您反映的问题 <b>{p['number']}</b> 有新进展：<b>{status}</b>"
    if p.get("reason"):
        label = "原因" if status != "重复" else "已与此事合并处理"
        text += f"\n{label}：{esc(p['reason'])}"
    if p.get("note"):
        text += f"\n处理结果：{esc(p['note'])}"
    return text


def notice_confirm(p: dict[str, object]) -> str:
    return (
        f"您反映的问题 <b>{p['number']}</b> 已处理完毕。\n"
        f"处理结果：{esc(p.get('note') or '')}\n\n问题解决了吗？"
    )


def notice_urgent(p: dict[str, object]) -> str:
    return (
        f"🔴 <b>紧急事项 {p['number']}</b>（{category_name(str(p['category']))}）\n"
        f"{esc(p['text'])}\n请尽快受理。"
    )


def notice_dispatched(p: dict[str, object]) -> str:
    flag = "🔴 紧急" if p.get("urgent") else "新"
    return (
        f"{flag}任务 <b>{p['number']}</b>（{category_name(str(p['category']))}）\n"
        f"{esc(p['text'])}\n地址：{esc(p.get('address') or '')}"
    )


def notice_declined(p: dict[str, object]) -> str:
    return (
        f"志愿者 {esc(p['volunteer'])} 无法处理 <b>{p['number']}</b>。\n"
        f"原因：{esc(p['reason'])}\n请重新派单。"
    )


def notice_supervise(p: dict[str, object]) -> str:
    return f"⚠️ <b>督办</b>：{p['number']} {esc(p['reason'])}，已重新办理，请跟进。"


def notice_escalated(p: dict[str, object]) -> str:
    return (
        f"社区转办 <b>{p['number']}</b>（{category_name(str(p['category']))}）\n"
        f"{esc(p['text'])}\n转办原因：{esc(p['reason'])}"
    )


def task_taken(ticket: Ticket) -> str:
    return f"已接单：{ticket.number}。处理好后请点“已处理”，写一下结果。"


def declined_done(ticket: Ticket) -> str:
    return f"已退回社区：{ticket.number}。谢谢您的告知。"


def resolved_done(ticket: Ticket) -> str:
    return f"已提交处理结果：{ticket.number}。正在等居民确认。"


def category_changed(ticket: Ticket) -> str:
    return f"{ticket.number} 的分类已改为：{category_name(ticket.category)}"
