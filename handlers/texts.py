"""Every word the bot shows a user: Simplified Chinese, short, plain and polite.

Texts are sent with parse_mode HTML: anything a user typed must pass through `esc`.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from nlp import taxonomy
from services.cadence import Coverage, GridCoverage, HouseholdDue
from services.clock import SHANGHAI
from services.errors import Refusal
from services.events import AudienceChoice, EventView
from services.org import Place
from services.stats import MIN_SAMPLE, Durations, Figures, Period, PublicView, Rate, Summary
from services.tasks import TargetOption, TaskView
from services.tickets import TicketCard, VolunteerOption
from services.users import Profile
from services.visits import HouseholdCard, Need, VisitSummary
from storage.models import Rating, Role, Task, Ticket, TicketStatus


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
        ("events", "社区活动"),
        ("subscribe", "订阅周末活动"),
        ("public", "社区办理情况公示"),
        ("me", "我的信息"),
        ("help", "查看可用命令"),
    ),
    Role.volunteer: (
        ("visit", "记录走访"),
        ("households", "我负责的住户"),
        ("report", "替住户反映问题"),
        ("tasks", "我的任务"),
        ("events", "社区活动"),
        ("me", "我的信息和走访情况"),
        ("help", "查看可用命令"),
    ),
    Role.coordinator: (
        ("inbox", "待办事项"),
        ("task", "发布任务"),
        ("taskboard", "任务看板"),
        ("coverage", "走访覆盖情况"),
        ("event", "发布社区活动"),
        ("events", "社区活动和报名情况"),
        ("broadcast", "群发通知"),
        ("broadcasts", "群发记录"),
        ("stats", "数据统计"),
        ("report", "导出 Excel 报表"),
        ("invite", "邀请志愿者加入"),
        ("me", "我的信息"),
        ("help", "查看可用命令"),
    ),
    Role.admin: (
        ("inbox", "转办到街道的事项"),
        ("broadcast", "群发通知"),
        ("broadcasts", "群发记录"),
        ("stats", "数据统计"),
        ("report", "导出 Excel 报表"),
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
    if p.coverage is not None:
        lines.extend(coverage_lines(p.coverage))
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


# ---------------------------------------------------------------- visits, households, tasks (issue 5)

OUTCOME_NAMES = {
    "met_resident": "见到本人",
    "met_family": "见到家属",
    "not_home": "不在家",
    "refused": "拒绝",
}
TASK_STATUS_NAMES = {
    "open": "待接单",
    "taken": "已接单",
    "done": "已完成，待确认",
    "confirmed": "已确认",
    "returned": "退回重做",
    "cancelled": "已取消",
}
TASK_ACTION_NAMES = {
    "create": "发布",
    "take": "接单",
    "decline": "无法处理",
    "complete": "完成",
    "confirm": "确认",
    "return": "退回",
    "cancel": "超时未接，收回",
}

VISIT_CHOOSE = (
    "请选择要走访的住户（最久没走访的在前，⏰ 表示已超过走访周期）。\n"
    "也可以直接输入楼号和门牌，例如：12号101"
)
VISIT_PICK_ONE = "找到几户，请选一下："
VISIT_ASK_NOTE = (
    "请简单记一下走访情况：身体、生活、有什么需要。\n"
    "也可以发一张照片，把情况写在照片说明里。没什么要记的，点“无”。"
)
VISIT_BUTTONS_HINT = "请点上面的按钮选择。"
VISIT_EDIT_OUTCOME = "请重新选择这次走访的情况："
VISIT_EDIT_NOTE = "请发新的走访记录；记录不用改的话，点“不改”。"
VISIT_LOCATION_ADDED = "位置已加到这次走访记录。"
VISIT_PHOTO_ADDED = "照片已加到这次走访记录。"
BTN_NO_NOTE = "无"
BTN_KEEP_NOTE = "不改"
BTN_EDIT_VISIT = "修改记录"
BTN_VISIT_THIS = "记录走访"
HOUSEHOLDS_HEADER = "您负责的住户（最久没走访的在前，⏰ 表示已超过走访周期）："

TASK_ASK_TEXT = "请写下任务内容，例如：明天上午给3号楼独居的王阿姨送米。"
TASK_ASK_DUE = (
    "什么时候之前完成？\n可以这样写：明天下午3点、周六下午2点、11月28日 14:00。\n"
    "不设期限请点“不设期限”。"
)
TASK_ASK_TARGET = "派给谁？\n派给网格：这个网格的志愿者都会收到，先接单的人负责。"
TASK_NO_TARGETS = "本社区还没有志愿者，暂时不能派任务。"
TASK_ASK_RESULT = "请写一下完成情况。也可以发一张照片，把情况写在照片说明里。"
TASK_ASK_DECLINE = "请说说无法处理的原因："
TASK_ASK_RETURN = "请写一下退回的原因（志愿者会看到）："
MY_TASKS_HEADER = "您的任务（截止早的在前）："
TASKBOARD_HEADER = "任务看板（待确认的在前，其次按截止时间）："
NO_BOARD_TASKS = "目前没有进行中的任务。发送 /task 可以发布新任务。"
BTN_NO_DUE = "不设期限"
BTN_TASK_DONE = "完成"
BTN_TASK_CONFIRM = "确认"
BTN_TASK_RETURN = "退回"
BTN_TASK_OPEN = "查看任务"
COVERAGE_RULE = "走访周期：独居老人、高龄每 7 天，低保、残疾每 14 天，其他每 30 天。"

REFUSALS.update(
    {
        Refusal.household_unknown: "没有找到这一户，或您没有查看的权限。",
        Refusal.household_not_found: (
            "没有找到这一户。请按“楼号+门牌”输入，例如：12号101；也可以点上面的按钮选择。"
        ),
        Refusal.visit_unknown: "没有找到这次走访记录，或这个按钮已失效。",
        Refusal.visit_too_old: "这次走访已超过 {hours} 小时，不能再修改了。如需更正，请联系社区工作人员。",
        Refusal.visit_has_photo: "这次走访已经有一张照片了。",
        Refusal.task_unknown: "没有找到这个任务，或您没有查看的权限。",
        Refusal.task_moved_on: "任务 #{task_id} 已是“{task_status_name}”，这个操作已失效。",
        Refusal.task_taken: "任务 #{task_id} 已经由 {name} 接单了，您不用再处理。谢谢！",
        Refusal.time_not_understood: (
            "没看懂这个时间。可以这样写：明天下午3点、周六下午2点、11月28日 14:00。"
        ),
        Refusal.time_in_past: "这个时间已经过去了，请换一个以后的时间。",
    }
)


def task_refusal(code: Refusal, details: dict[str, object]) -> str:
    """A refusal from services.tasks (which may come from the ticket behind the task)."""
    values = dict(details)
    if "task_status" in values:
        values["task_status_name"] = TASK_STATUS_NAMES.get(str(values["task_status"]), "")
    return refusal(code, values)


def _ago(last: datetime | None, now: datetime) -> str:
    if last is None:
        return "从未走访"
    days = (now - last).days
    return "今天走访过" if days < 1 else f"{days} 天前走访"


def household_button(due: HouseholdDue, now: datetime) -> str:
    flag = "⏰ " if due.overdue(now) else ""
    h = due.household
    return f"{flag}{h.building}{h.unit}{h.room}室 {h.head_name} · {_ago(due.last_visit, now)}"


def visit_ask_outcome(address: str, head_name: str) -> str:
    return f"走访：<b>{esc(address)}</b> {esc(head_name)}\n这次见到人了吗？"


def visit_outcome_chosen(address: str, head_name: str, outcome: str) -> str:
    return f"走访：<b>{esc(address)}</b> {esc(head_name)}\n情况：<b>{OUTCOME_NAMES[outcome]}</b>"


NEED_ALREADY = "这件事已经反映过了，编号 {number}。"


def need_label(need: Need) -> str:
    name = category_name(need.category)
    if need.ticket_number:
        return f"✓ 已反映 {need.ticket_number}（{name}）"
    excerpt = need.text if len(need.text) <= 14 else need.text[:13] + "…"
    flag = "🔴 " if need.urgent else ""
    return f"{flag}反映：{name} · {excerpt}"


def visit_summary(s: VisitSummary, tz: ZoneInfo) -> str:
    v = s.visit
    lines = [
        "✅ <b>走访已记录</b>" + ("（已修改）" if v.updated_at else ""),
        f"住户：{esc(s.address)} {esc(s.head_name)}",
        f"时间：{when(v.visited_at, tz)}",
        f"情况：{OUTCOME_NAMES[v.outcome]}",
        f"记录：{esc(v.note) if v.note else '无'}",
    ]
    extras = []
    if v.photo_file_id:
        extras.append("照片 1 张")
    if v.latitude is not None:
        extras.append("已记位置")
    if extras:
        lines.append("附加：" + "，".join(extras))
    lines.append("")
    waiting = [n for n in s.needs if not n.ticket_number]
    if waiting:
        lines.append(f"记录里有 {len(waiting)} 件事可以替这户反映给社区，点一下就行：")
    elif s.needs:
        lines.append("记录里的事都已反映给社区。")
    else:
        lines.append("记录里没有发现需要反映的事。")
    if s.editable:
        lines.append("现在还可以发位置或一张照片；24 小时内可以点“修改记录”。")
    return "\n".join(lines)


def need_filed(ticket: Ticket) -> str:
    return (
        f"已替这户反映给社区，编号 <b>{ticket.number}</b>"
        f"（{category_name(ticket.category)}，{urgency(ticket.urgent)}）。\n进展会告诉您。"
    )


def household_card(c: HouseholdCard, now: datetime, tz: ZoneInfo) -> str:
    h = c.household
    lines = [f"<b>{esc(c.address)}</b> {esc(h.head_name)}", esc(c.place)]
    if c.phone:
        lines.append(f"电话：{c.phone}")
    lines.append("标签：" + ("、".join(esc(t) for t in c.tags) if c.tags else "无"))
    lines.append(f"走访周期：每 {c.interval_days} 天")
    last = "还没有走访过" if c.last_visit is None else when(c.last_visit, tz)
    lines.append(f"上次走访：{last}" + ("  ⏰ 已超期" if c.overdue else ""))
    if c.volunteers:
        lines.append("负责志愿者：" + "、".join(esc(v) for v in c.volunteers))
    lines.append("")
    lines.append("<b>最近走访</b>" if c.visits else "最近走访：无")
    for v in c.visits:
        note = f"：{esc(v.note)}" if v.note else ""
        lines.append(f"{when(v.at, tz)} {esc(v.volunteer)} {OUTCOME_NAMES[v.outcome]}{note}")
    lines.append("")
    lines.append("<b>在办的事</b>" if c.open_tickets else "在办的事：无")
    for t in c.open_tickets:
        lines.append(ticket_line(t))
    return "\n".join(lines)


def coverage_lines(c: Coverage) -> list[str]:
    return [
        f"走访覆盖：{c.covered}/{c.total} 户在周期内走访过（{c.percent}%）",
        f"超期未走访：{c.overdue} 户",
        f"本月走访：{c.visits_this_month} 次",
    ]


def coverage_text(grids: list[GridCoverage]) -> str:
    lines = ["<b>本社区走访覆盖</b>", COVERAGE_RULE, ""]
    for g in grids:
        c = g.coverage
        lines.append(
            f"{esc(g.grid.name)}：{c.covered}/{c.total} 户（{c.percent}%），"
            f"超期 {c.overdue} 户，本月走访 {c.visits_this_month} 次，志愿者 {g.volunteers} 人"
        )
    lines.append("")
    lines.append("点网格查看住户：")
    return "\n".join(lines)


def coverage_button(g: GridCoverage) -> str:
    return f"{g.grid.name} · 超期 {g.coverage.overdue} 户"


def grid_households_header(grid_name: str) -> str:
    return f"{esc(grid_name)}的住户（最久没走访的在前，⏰ 表示已超期）："


def target_label(o: TargetOption) -> str:
    if o.kind == "grid":
        return f"{o.name}（全部 {o.volunteers} 位志愿者，先接先得）"
    return f"{o.name}（{o.grid}）" if o.grid else o.name


def _due(task: Task, tz: ZoneInfo) -> str:
    return when(task.due_at, tz) if task.due_at else "不限"


def _task_target(v: TaskView) -> str:
    if v.grid:
        return f"{esc(v.grid)}的志愿者，先接单的人负责"
    return esc(v.assignee)


def task_name(v: TaskView) -> str:
    return f"{v.ticket_number}" if v.ticket_number else f"任务 #{v.task.id}"


def task_created(v: TaskView, tz: ZoneInfo) -> str:
    t = v.task
    return (
        f"任务 #{t.id} 已发出。\n内容：{esc(t.text)}\n截止：{_due(t, tz)}\n派给：{_task_target(v)}"
    )


def task_line(task: Task, now: datetime) -> str:
    late = task.due_at is not None and task.due_at < now and task.status in ("open", "taken")
    flag = "⏰" if late else ("✅" if task.status == "done" else "📋")
    excerpt = task.text if len(task.text) <= 12 else task.text[:11] + "…"
    return f"{flag} #{task.id} {excerpt} · {TASK_STATUS_NAMES[task.status]}"


def task_card(v: TaskView, tz: ZoneInfo, now: datetime) -> str:
    t = v.task
    late = t.due_at is not None and t.due_at < now and t.status in ("open", "taken", "returned")
    lines = [
        f"<b>任务 #{t.id}</b> · {TASK_STATUS_NAMES[t.status]}" + (" · ⏰ 已超时" if late else "")
    ]
    if v.ticket_number:
        lines.append(f"来自居民反映：{v.ticket_number}")
    lines.append(f"内容：{esc(t.text)}")
    lines.append(f"截止：{_due(t, tz)}")
    lines.append(f"派给：{_task_target(v)}")
    if v.assignee and v.grid:
        lines.append(f"接单人：{esc(v.assignee)}")
    lines.append(f"发布：{esc(v.creator)} {when(t.created_at, tz)}")
    if t.result_note:
        lines.append(f"完成情况：{esc(t.result_note)}")
    lines.append("记录：")
    for h in v.history[-8:]:
        note = f"：{esc(h.note)}" if h.note else ""
        lines.append(
            f"{when(h.at, tz)} {esc(h.actor)} {TASK_ACTION_NAMES.get(h.action, h.action)}{note}"
        )
    return "\n".join(lines)


def task_taken_reply(v: TaskView) -> str:
    if v.ticket_number:
        return f"已接单：{v.ticket_number}。处理好后请点“已处理”，写一下结果。"
    return f"已接单：任务 #{v.task.id}。做完后请点“完成”，写一下情况。"


def task_declined_reply(v: TaskView) -> str:
    if v.ticket_number:
        return f"已退回社区：{v.ticket_number}。谢谢您的告知。"
    return f"已告诉社区：任务 #{v.task.id} 您无法处理。谢谢您的告知。"


def task_completed_reply(v: TaskView) -> str:
    if v.ticket_number:
        return f"已提交处理结果：{v.ticket_number}。正在等居民确认。"
    return f"已提交：任务 #{v.task.id}。正在等社区确认。"


def task_confirmed_reply(v: TaskView) -> str:
    return f"已确认：任务 #{v.task.id}。"


def task_returned_reply(v: TaskView) -> str:
    return f"已退回给 {esc(v.assignee)}：任务 #{v.task.id}。"


def _notice_due(p: dict[str, object]) -> str:
    due = p.get("due")
    if not due:
        return "不限"
    # The outbox renders without the settings: times in notices are shown in Suzhou's zone.
    return when(datetime.fromisoformat(str(due)), SHANGHAI)


def notice_task_offer(p: dict[str, object]) -> str:
    to = f"{esc(p['grid'])}的志愿者，先接单的人负责" if p.get("grid") else "您"
    return (
        f"📋 <b>新任务 #{p['task_id']}</b>（{esc(p['creator'])}发布）\n{esc(p['text'])}\n"
        f"截止：{_notice_due(p)}\n派给：{to}"
    )


def notice_task_taken(p: dict[str, object]) -> str:
    return f"任务 #{p['task_id']} 已由 {esc(p['volunteer'])} 接单，您不用再处理了。谢谢！"


def notice_task_accepted(p: dict[str, object]) -> str:
    return f"{esc(p['volunteer'])} 接了任务 #{p['task_id']}：{esc(p['text'])}"


def notice_task_declined(p: dict[str, object]) -> str:
    return (
        f"{esc(p['volunteer'])} 无法处理任务 #{p['task_id']}。\n原因：{esc(p['reason'])}\n"
        f"任务：{esc(p['text'])}"
    )


def notice_task_done(p: dict[str, object]) -> str:
    return (
        f"{esc(p['volunteer'])} 完成了任务 #{p['task_id']}：{esc(p['text'])}\n"
        f"完成情况：{esc(p.get('note') or '')}\n请确认，或退回重做。"
    )


def notice_task_confirmed(p: dict[str, object]) -> str:
    return f"任务 #{p['task_id']} 社区已确认完成，谢谢您！"


def notice_task_returned(p: dict[str, object]) -> str:
    return (
        f"任务 #{p['task_id']} 被退回，请再处理一下。\n原因：{esc(p['reason'])}\n"
        f"任务：{esc(p['text'])}"
    )


# ---------------------------------------------------------------- follow-ups and weekend events (issue 6)

ACTION_NAMES.update({"supervise": "超时未受理，报街道督办", "untaken": "超时未接单，退回社区"})

WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
AUDIENCE_NAMES = {"community": "全社区", "grid": "网格", "street": "全街道"}


def _moment(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


def event_when(starts: datetime, ends: datetime, tz: ZoneInfo = SHANGHAI) -> str:
    """11月28日（周六）14:00-16:00; an event over several days shows both dates."""
    start, end = starts.astimezone(tz), ends.astimezone(tz)
    day = f"{start.month}月{start.day}日（{WEEKDAY_NAMES[start.weekday()]}）"
    if start.date() == end.date():
        return f"{day}{start:%H:%M}-{end:%H:%M}"
    return f"{day}{start:%H:%M} 至 {end.month}月{end.day}日 {end:%H:%M}"


def _minutes(value: object) -> str:
    minutes = int(str(value))
    if minutes < 120:
        return f"{minutes} 分钟"
    return f"{minutes // 60} 小时"


def _hours_text(value: object) -> str:
    return f"{float(str(value)):g}"


# Follow-up notices (outbox kinds followup_*), rendered at send time.


def notice_ack_remind(p: dict[str, object]) -> str:
    flag = "🔴 紧急事项" if p.get("urgent") else "事项"
    return (
        f"⏰ <b>提醒</b>：{flag} <b>{p['number']}</b>（{category_name(str(p['category']))}）"
        f"已经 {_minutes(p['minutes'])}没有受理了。\n{esc(p['text'])}\n请尽快受理。"
    )


def notice_escalated_supervision(p: dict[str, object]) -> str:
    return (
        f"⚠️ <b>督办</b>：紧急事项 <b>{p['number']}</b>（{category_name(str(p['category']))}）"
        f"已经 {_minutes(p['minutes'])}无人受理，请督促社区尽快办理。\n{esc(p['text'])}"
    )


def notice_supervised(p: dict[str, object]) -> str:
    return (
        f"⚠️ 紧急事项 <b>{p['number']}</b> {_minutes(p['minutes'])}无人受理，"
        "已报街道<b>督办</b>。请马上受理。"
    )


def notice_take_remind(p: dict[str, object]) -> str:
    return (
        f"⏰ <b>提醒</b>：派给您的任务 <b>{p['number']}</b> 已经 {_hours_text(p['hours'])} 小时"
        f"还没接单。\n{esc(p['text'])}\n能处理请点“接单”，处理不了请点“无法处理”。"
    )


def notice_take_returned(p: dict[str, object]) -> str:
    return (
        f"派给 {esc(p['volunteer'])} 的 <b>{p['number']}</b> {_hours_text(p['hours'])} 小时没有接单，"
        "已退回社区，请重新派单。"
    )


def notice_take_withdrawn(p: dict[str, object]) -> str:
    return (
        f"任务 <b>{p['number']}</b> 超过 {_hours_text(p['hours'])} 小时没有接单，已交回社区安排。"
    )


def notice_confirm_ask(p: dict[str, object]) -> str:
    return (
        f"您好！您反映的问题 <b>{p['number']}</b> 已处理，还在等您确认。\n"
        f"处理结果：{esc(p.get('note') or '')}\n\n问题解决了吗？"
        f"（{float(str(p['days'])):g} 天内没有回复，会自动办结）"
    )


def notice_timeout_closed(p: dict[str, object]) -> str:
    return (
        f"您反映的问题 <b>{p['number']}</b> 处理后 {float(str(p['days'])):g} 天没有收到确认，"
        "已自动办结。如果问题还在，请直接告诉我们。"
    )


def notice_task_remind(p: dict[str, object]) -> str:
    return (
        f"⏰ <b>提醒</b>：任务 #{p['task_id']} 已经 {_hours_text(p['hours'])} 小时还没接单。\n"
        f"{esc(p['text'])}\n发送 /tasks 查看。"
    )


def notice_task_unaccepted(p: dict[str, object]) -> str:
    return (
        f"任务 #{p['task_id']}（派给 {esc(p['volunteer'])}）{_hours_text(p['hours'])} 小时没有接单，"
        f"已收回，请重新安排。\n{esc(p['text'])}"
    )


def notice_task_overdue(p: dict[str, object]) -> str:
    return (
        f"⏰ 任务 #{p['task_id']} 已过截止时间（{when(_moment(p['due_at']), SHANGHAI)}），"
        f"请尽快完成。\n{esc(p['text'])}"
    )


def notice_task_overdue_staff(p: dict[str, object]) -> str:
    who = f"（{esc(p['volunteer'])}）" if p.get("volunteer") else ""
    return (
        f"⏰ 任务 #{p['task_id']}{who}已过截止时间"
        f"（{when(_moment(p['due_at']), SHANGHAI)}），还没有完成。\n{esc(p['text'])}"
    )


def notice_visit_digest(p: dict[str, object]) -> str:
    households = p.get("households")
    assert isinstance(households, list)
    lines = [f"📋 <b>本周走访提醒</b>：您负责的住户中有 {p['total']} 户超过走访周期了："]
    for h in households:
        days = h.get("days")
        ago = "从未走访" if days is None else f"{days} 天前走访"
        lines.append(f"• {esc(h['address'])} {esc(h['head'])}（{ago}）")
    if int(str(p["total"])) > len(households):
        lines.append(f"……还有 {int(str(p['total'])) - len(households)} 户")
    lines.append("发送 /visit 记录走访。")
    return "\n".join(lines)


# Weekend events (周末社区).

EVENT_ASK_TITLE = (
    "好的，我们来发布一个社区活动，一共 7 步，随时发送 /cancel 取消。\n"
    "第 1 步：活动名称是什么？（{limit} 字以内，例如：周末亲子手工课）"
)
EVENT_ASK_START = (
    "第 2 步：什么时候开始？\n可以这样写：2026-11-28 14:00、11月28日 14:00、周六下午2点。"
)
EVENT_ASK_END = "第 3 步：什么时候结束？\n可以只写时间，例如：16:00 或 下午4点（与开始是同一天）。"
EVENT_ASK_PLACE = "第 4 步：在哪里举办？例如：社区党群服务中心二楼活动室"
EVENT_ASK_CAPACITY = "第 5 步：最多多少人参加？请写数字，例如：30"
EVENT_ASK_AUDIENCE = "第 6 步：这个活动面向谁？"
EVENT_ASK_DESCRIPTION = "第 7 步：写几句活动介绍（适合谁、要带什么）。不写请点“跳过”。"
EVENT_BUTTONS_HINT = "请点上面的按钮选择。"
EVENT_DISCARDED = "好的，这个活动没有发布。"
EVENTS_HEADER = "最近的社区活动："
EVENTS_NONE = "最近没有社区活动。"
EVENTS_SUBSCRIBE_HINT = "想每周五收到周末活动推荐，请发送 /subscribe。"
EVENTS_STAFF_NONE = "本社区还没有进行中的活动。发送 /event 发布新活动。"
SUBSCRIBED = "已订阅：每周五 18:00 把周末的社区活动发给您。不想收了，发送 /unsubscribe。"
ALREADY_SUBSCRIBED = "您已经订阅了，每周五 18:00 会收到周末活动推荐。不想收了，发送 /unsubscribe。"
UNSUBSCRIBED = "已取消订阅，不会再给您发周末活动推荐了。"
NOT_SUBSCRIBED = "您还没有订阅。想订阅请发送 /subscribe。"
CHECKIN_CHOOSE = "要显示哪个活动的签到码？"
CHECKIN_USAGE = "请把现场工作人员给的签到码发给我，例如：/checkin 123456"
BTN_EVENT_JOIN = "报名"
BTN_EVENT_LEAVE = "取消报名"
BTN_EVENT_LEAVE_WAITING = "退出候补"
BTN_EVENT_PUBLISH = "发布"
BTN_EVENT_DISCARD = "不发布"
BTN_EVENT_CODE = "签到码"

REFUSALS.update(
    {
        Refusal.event_title_too_long: "活动名称太长了，请控制在 {limit} 字以内。",
        Refusal.event_time_unreadable: (
            "没看懂这个时间，请写日期和钟点，例如：2026-11-28 14:00、11月28日 14:00、周六下午2点。"
        ),
        Refusal.event_in_past: "这个时间已经过去了，请换一个以后的时间。",
        Refusal.event_end_before_start: "结束时间要晚于开始时间，请再写一次结束时间。",
        Refusal.event_capacity: "人数请写 1 到 {limit} 之间的数字，例如：30",
        Refusal.event_unknown: "没有找到这个活动，或这个操作已失效。",
        Refusal.event_started: "活动已经开始了，不能再报名或取消。",
        Refusal.event_already_joined: "您已经报过名了（或在候补名单中）。发送 /events 可以查看。",
        Refusal.event_not_joined: "您还没有报名这个活动。",
        Refusal.checkin_code_wrong: "签到码不对，或已经过期了，请向现场工作人员核对。",
        Refusal.checkin_not_attending: "您没有报名这个活动（或还在候补），请联系现场工作人员。",
        Refusal.checkin_already: "您已经签到过了，谢谢！",
        Refusal.checkin_nothing_running: "现在没有可以签到的活动（活动开始前 1 小时起可以显示签到码）。",
        Refusal.event_rating_closed: "这个活动现在不能评价。",
        Refusal.event_already_rated: "您已经评价过了，谢谢！",
    }
)


def event_ask_title(limit: int) -> str:
    return EVENT_ASK_TITLE.format(limit=limit)


def audience_label(choice: AudienceChoice) -> str:
    if choice.audience == "grid":
        return f"{choice.name}"
    return f"{AUDIENCE_NAMES[choice.audience]}（{choice.name}）"


def _event_lines(v: EventView, tz: ZoneInfo) -> list[str]:
    e = v.event
    lines = [
        f"<b>{esc(e.title)}</b>",
        f"时间：{event_when(e.starts_at, e.ends_at, tz)}",
        f"地点：{esc(e.place)}",
    ]
    if e.description:
        lines.append(f"介绍：{esc(e.description)}")
    return lines


def event_preview(v: EventView, audience: str, tz: ZoneInfo) -> str:
    lines = ["请确认活动信息：", "", *_event_lines(v, tz)]
    lines.append(f"人数：最多 {v.event.capacity} 人")
    lines.append(f"面向：{esc(audience)}")
    lines.append("")
    lines.append("确认无误请点“发布”，发布后会通知面向的居民和志愿者。")
    return "\n".join(lines)


def event_published(v: EventView, told: int) -> str:
    return (
        f"活动“{esc(v.event.title)}”已发布，已通知 {told} 位居民和志愿者。\n"
        "报名的人会在活动前 24 小时和 2 小时收到提醒。活动开始前 1 小时起，"
        "发送 /checkin 显示签到码。"
    )


def event_card(v: EventView, tz: ZoneInfo) -> str:
    """An event as a resident or volunteer sees it."""
    lines = _event_lines(v, tz)
    if v.mine == "attending":
        lines.append("✅ 您已报名。到场后把签到码发给我就行。")
    elif v.mine == "waiting":
        lines.append(f"⏳ 您在候补第 {v.position} 位，有人取消会马上通知您。")
    elif v.left:
        lines.append(f"名额：还剩 {v.left} 个（共 {v.event.capacity} 个）")
    else:
        lines.append("名额已满，现在报名会排进候补。")
    return "\n".join(lines)


def event_staff_card(v: EventView, tz: ZoneInfo) -> str:
    """An event as its coordinators see it: the numbers."""
    lines = _event_lines(v, tz)
    state = "草稿（未发布）" if v.event.status == "draft" else "已发布"
    lines.append(f"状态：{state}")
    lines.append(f"报名：{v.attending}/{v.event.capacity} 人，候补 {v.waiting} 人")
    return "\n".join(lines)


def event_joined(v: EventView, tz: ZoneInfo) -> str:
    e = v.event
    return (
        f"报名成功！<b>{esc(e.title)}</b>\n时间：{event_when(e.starts_at, e.ends_at, tz)}\n"
        f"地点：{esc(e.place)}\n活动前会提醒您。到场后把工作人员给的签到码发给我就行。"
    )


def event_waiting(v: EventView, position: int) -> str:
    return (
        f"“{esc(v.event.title)}”名额已满，已把您排在候补第 {position} 位。有人取消时会马上通知您。"
    )


def event_left(title: str, was_waiting: bool) -> str:
    if was_waiting:
        return f"已退出“{esc(title)}”的候补。"
    return f"已取消报名：“{esc(title)}”。名额会让给候补的人。"


def checkin_code(v: EventView, code: str, tz: ZoneInfo) -> str:
    e = v.event
    return (
        f"签到码：<b>{code}</b>\n活动：{esc(e.title)}（{event_when(e.starts_at, e.ends_at, tz)}）\n"
        f"请参加的人把这 {len(code)} 位数字直接发给我（或发送 /checkin {code}）。"
        f"活动结束（{when(e.ends_at, tz)}）后失效。\n"
        f"已报名 {v.attending} 人。"
    )


def checked_in(title: str) -> str:
    return f"签到成功！欢迎参加“{esc(title)}”。"


def event_rated(stars: int) -> str:
    return f"谢谢您的评价（{'⭐' * stars}）！我们会把活动办得更好。"


def _notice_event(p: dict[str, object]) -> list[str]:
    lines = [
        f"<b>{esc(p['title'])}</b>",
        f"时间：{event_when(_moment(p['starts_at']), _moment(p['ends_at']))}",
        f"地点：{esc(p['place'])}",
    ]
    if p.get("description"):
        lines.append(f"介绍：{esc(p['description'])}")
    return lines


def notice_event_announce(p: dict[str, object]) -> str:
    return "\n".join(
        ["📢 <b>社区活动</b>", *_notice_event(p), f"名额：{p['capacity']} 人，想参加请点“报名”。"]
    )


def notice_event_promoted(p: dict[str, object]) -> str:
    return "\n".join(
        [
            "🎉 有人取消了报名，您已从候补转为<b>正式报名</b>：",
            *_notice_event(p),
            "活动前会提醒您。",
        ]
    )


def notice_event_reminder(p: dict[str, object]) -> str:
    hours = float(str(p.get("hours") or 0))
    ahead = "明天这个时候" if hours >= 24 else f"{hours:g} 小时后"
    return "\n".join(
        [
            f"⏰ <b>活动提醒</b>：您报名的活动{ahead}开始。",
            *_notice_event(p),
            "到场后把工作人员给的签到码发给我就行。来不了请发送 /events 取消报名，把名额让给别人。",
        ]
    )


def notice_event_rate_ask(p: dict[str, object]) -> str:
    return f"谢谢您参加昨天的“{esc(p['title'])}”！请给这次活动打个分（1-5 星）："


def notice_event_digest(p: dict[str, object]) -> str:
    found = p.get("events")
    assert isinstance(found, list)
    lines = ["🌳 <b>周末社区活动</b>"]
    for e in found:
        left = int(e.get("left") or 0)
        places = f"还剩 {left} 个名额" if left else "已满，可排候补"
        lines.append(
            f"• {esc(e['title'])}：{event_when(_moment(e['starts_at']), _moment(e['ends_at']))}，"
            f"{esc(e['place'])}（{places}）"
        )
    lines.append("想参加请点下面的按钮报名。不想再收，发送 /unsubscribe。")
    return "\n".join(lines)


def event_button(title: str) -> str:
    short = title if len(title) <= 12 else title[:11] + "…"
    return f"报名：{short}"


def star_button(stars: int) -> str:
    return f"{stars} 星"


# ---------------------------------------------------------------- figures (issue 8)

DISTRICT_NAME = "姑苏区"
SAMPLE_TOO_SMALL = "样本不足"
STATS_ONLY_STAFF = (
    "抱歉，数据统计只对社区工作人员和街道管理员开放。\n"
    "想了解本社区的办理情况，可以发送 /public 查看公示。"
)
STATS_PERIOD_USAGE = (
    "统计期间请这样写：\n"
    "/{command} 2026-11（某一个月）\n"
    "/{command} 2026-11-01..2026-11-15（某几天）\n"
    "不写就是本月。"
)
PUBLIC_NO_COMMUNITY = "请先发送 /start 选择您所在的社区，就能查看本社区的办理情况了。"
STATS_CAPTION = "{scope} {period} 数据看板"
REPORT_CAPTION = "{scope} {period} 报表（Excel，可用电脑或手机打开）"
REPORT_FILE = "海棠先锋报表_{scope}_{period}.xlsx"
RATE_NAMES = ("响应率", "解决率", "满意率", "重新办理")

# The dashboard (handlers/dashboard.py).
CHART_TITLE = "{scope} {period} 数据看板"
CHART_AS_OF = "截至 {when}"
CHART_CATEGORIES = "诉求分类（件）"
CHART_RATES = "办理情况（%）"
CHART_TREND = "近12周趋势"
TREND_RECEIVED = "收到诉求"
TREND_CLOSED = "办结"
TREND_VISITS = "走访（次，右轴）"
CHART_COVERAGE = "走访覆盖率（按网格，%）"
CHART_COVERAGE_LOWEST = "走访覆盖率最低的 {n} 个网格（%）"
CHART_EMPTY = "本期暂无数据"

# The workbook (handlers/workbook.py).
SHEET_SUMMARY = "汇总"
SHEET_TICKETS = "诉求明细"
SHEET_VISITS = "走访覆盖"
SHEET_VOLUNTEERS = "志愿者"
SUMMARY_HEADER = ("指标", "数值", "分子", "分母", "说明")
CATEGORY_HEADER = ("分类", "合计")
TREND_HEADER = ("周（周一）", "收到诉求", "办结", "走访次数")
TICKET_HEADER = (
    "编号",
    "社区",
    "网格",
    "分类",
    "紧急",
    "状态",
    "反映时间",
    "应受理时限",
    "受理时间",
    "处理时间",
    "办结时间",
    "评价",
    "重新办理",
    "督办",
)
VISITS_HEADER = ("社区", "网格", "住户数", "按期走访户数", "覆盖率")
VOLUNTEER_HEADER = ("志愿者", "社区", "网格", "走访次数", "完成任务")
YES = "是"
RATE_NOTES = {
    "响应率": "在受理时限内受理的件数 / 收到的件数",
    "解决率": "已办结（居民确认或超时自动办结）/ 收到的件数（不含重复件；不予受理的件计入分母）",
    "满意率": "满意和基本满意 / 有评价的件数（超时自动办结的件没有评价，不计入）",
    "重新办理": "曾因未解决或不满意重新办理的件数 / 收到的件数",
    "走访覆盖率": "按期走访的住户 / 全部住户（独居、高龄 7 天，低保、残疾 14 天，其他 30 天）",
}


def scope_label(name: str) -> str:
    return name or DISTRICT_NAME


def period_label(period: Period) -> str:
    if period.is_month:
        return f"{period.first.year}年{period.first.month}月"
    first, last = period.first, period.last
    end = f"{last.month}月{last.day}日" if last.year == first.year else f"{last:%Y年%m月%d日}"
    return f"{first.year}年{first.month}月{first.day}日至{end}"


def pct(value: Rate | float | None) -> str:
    if isinstance(value, Rate):
        value = value.value
    return "—" if value is None else f"{value * 100:.1f}%"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} 分钟"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} 小时".replace(".0 ", " ")
    return f"{seconds / 86400:.1f} 天".replace(".0 ", " ")


def _spread(label: str, d: Durations) -> str:
    if not d.count:
        return f"{label}：暂无"
    return f"{label}：一半在 {duration_text(d.median)} 内，九成在 {duration_text(d.p90)} 内"


def stats_summary(f: Figures, tz: ZoneInfo) -> str:
    """The short text that comes with the /stats dashboard."""
    v = f.volunteers
    lines = [
        f"<b>{esc(scope_label(f.scope_name))} · {period_label(f.period)}</b>"
        f"（截至 {when(f.as_of, tz)}）",
        f"收到诉求 {f.received} 件（紧急 {f.urgent} 件）",
        f"响应率 {pct(f.response)}（{f.response.numerator}/{f.response.denominator}）",
        f"解决率 {pct(f.resolution)}（{f.resolution.numerator}/{f.resolution.denominator}）",
        f"满意率 {pct(f.satisfaction)}（{f.satisfaction.denominator} 件有评价）",
        f"重新办理 {pct(f.reopened)}（{f.reopened.numerator} 件）",
        _spread("受理用时", f.acknowledge),
        _spread("处理用时", f.resolve),
        f"走访覆盖率 {pct(f.coverage_total)}"
        f"（{f.coverage_total.numerator}/{f.coverage_total.denominator} 户）",
        f"志愿者 {v.active}/{v.volunteers} 人参与：走访 {v.visits} 次，完成任务 {v.tasks_done} 件",
        "发送 /report 可以获取 Excel 报表。",
    ]
    return "\n".join(lines)


def summary_text(s: Summary) -> str:
    """The monthly summary message (issue 6): the few key figures of last month."""

    def rate(pair: tuple[int, int]) -> str:
        return pct(Rate(*pair))

    year, month = s.period.split("-")[:2]
    return "\n".join(
        [
            f"<b>{esc(scope_label(s.scope_name))} {int(year)}年{int(month)}月工作小结</b>",
            f"收到诉求 {s.received} 件",
            f"响应率 {rate(s.response)}，解决率 {rate(s.resolution)}，"
            f"满意率 {rate(s.satisfaction)}",
            f"重新办理 {rate(s.reopened)}",
            f"走访覆盖率 {rate(s.coverage)}，走访 {s.visits} 次，完成任务 {s.tasks_done} 件",
        ]
    )


def _public_rate(value: float | None) -> str:
    return SAMPLE_TOO_SMALL if value is None else pct(value)


def public_text(v: PublicView) -> str:
    """/public: aggregates only, nothing about any person."""
    m = v.mine
    lines = [
        f"<b>{esc(m.community)} {period_label(v.period)} 办理情况公示</b>",
        f"共收到诉求 {m.received} 件",
        f"响应率：{_public_rate(m.response)}",
        f"解决率：{_public_rate(m.resolution)}",
        f"满意率：{_public_rate(m.satisfaction)}",
        "",
        f"<b>{esc(v.street)}各社区满意率</b>",
    ]
    rank = 0
    for r in v.ranking:
        mark = " ← 本社区" if r.community == m.community else ""
        if r.satisfaction is None:
            lines.append(f"· {esc(r.community)} {SAMPLE_TOO_SMALL}{mark}")
        else:
            rank += 1
            lines.append(f"{rank}. {esc(r.community)} {pct(r.satisfaction)}{mark}")
    lines.append("")
    lines.append(
        f"只公示汇总数字，不含任何个人信息。件数少于 {MIN_SAMPLE} 件的比率显示“{SAMPLE_TOO_SMALL}”。"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- broadcasts (issue 7)

ASK_BROADCAST = "请发送要群发的内容：一段文字，或一张带说明文字的照片。发送 /cancel 取消。"
CHOOSE_AUDIENCE = "发给谁？"
BROADCAST_TARGETS = {
    "residents": "{name} 全体居民",
    "volunteers": "{name} 全体志愿者",
    "grid": "{name} 的居民和志愿者",
    "event": "活动“{name}”的报名者",
    "street": "{name} 全体居民和志愿者",
}
BTN_SEND_BROADCAST = "确认发送"
BTN_CANCEL = "取消"
BTN_STOP_BROADCAST = "停止发送"
BROADCAST_DISCARDED = "已取消，没有发送。"
NO_BROADCASTS = "您还没有群发过消息。"
BROADCASTS_HEADER = "最近的群发："
REFUSALS.update(
    {
        Refusal.broadcast_unknown: "没有找到这条群发。",
        Refusal.broadcast_started: "这条群发已经开始或结束了，不能再改。",
    }
)


def broadcast_audience(target: str, name: str) -> str:
    return BROADCAST_TARGETS[target].format(name=name)


def broadcast_preview(text: str, has_photo: bool, audience: str, count: int, skipped: int) -> str:
    lines = [f"将发送给 <b>{esc(audience)}</b>，共 <b>{count}</b> 人。"]
    if skipped:
        lines.append(f"（另有 {skipped} 人联系不上，已跳过）")
    lines.append("内容预览：" + ("（附照片）" if has_photo else ""))
    lines.append(esc(text))
    return "\n".join(lines)


def broadcast_progress(p: dict[str, object]) -> str:
    return f"正在群发…\n已发送 {p['sent']}/{p['total']}，失败 {p['failed']}，联系不上 {p['unreachable']}"


def broadcast_report(p: dict[str, object]) -> str:
    return (
        f"群发完成：共 {p['total']} 人\n已发送 {p['sent']}，"
        f"联系不上 {p['unreachable']}，失败 {p['failed']}"
    )


def broadcast_line(status: str, when_text: str, sent: int, total: int, failed: int) -> str:
    names = {"sending": "发送中", "done": "已完成", "cancelled": "已停止"}
    return f"{when_text} {names.get(status, status)}：已发送 {sent}/{total}，失败 {failed}"


# The workbook's summary sheet: row labels and their notes.
SUMMARY_ROWS = {
    "median": "中位数",
    "p90": "90%分位",
    "hours": "{name}{label}（小时）",
    "scope": "范围",
    "period": "统计期间",
    "as_of": "统计截至",
    "received": "收到诉求",
    "received_note": "本期新收到的诉求件数",
    "urgent": "紧急诉求",
    "acknowledge": "受理用时",
    "acknowledge_note": "从反映到受理",
    "resolve": "处理用时",
    "resolve_note": "从反映到处理完毕（已处理）",
    "coverage": "走访覆盖率",
    "volunteers": "志愿者人数",
    "active": "参与志愿者",
    "active_note": "本期走访或完成任务的志愿者",
    "visits": "走访次数",
    "tasks_done": "完成任务",
    "rating": "评价：{name}",
}
