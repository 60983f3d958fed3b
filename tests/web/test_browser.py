"""The chat page in a real browser (Debian's chromium, headless, driven by Playwright).

Each test plays users by clicking and typing on the page only; screenshots of the steps go to
artifacts/screenshots/.
"""

from __future__ import annotations

import re

import aiohttp
from playwright.async_api import Locator, Page, expect

from bot.sandbox import SANDBOX_TOKEN, Sandbox
from bot.standin.client import SandboxClient
from handlers import texts
from tests.web.conftest import Screenshot

INVITE_LINK = re.compile(r"https://t\.me/HaitangBot\?start=inv_[A-Za-z0-9]+")


def persona(page: Page, telegram_id: int) -> Locator:
    return page.locator(f'button.persona[data-user-id="{telegram_id}"]')


def bot_message(page: Page, text: str | re.Pattern[str]) -> Locator:
    """The newest bot message showing this text (a lazy locator: it follows the text)."""
    return page.locator(".row.from-bot", has=page.locator(".text", has_text=text)).last


async def pinned(message: Locator) -> Locator:
    """The same message by its id, so it is still found after the bot edits its text."""
    await expect(message).to_be_visible()
    message_id = await message.get_attribute("data-message-id")
    return message.page.locator(f'.row[data-message-id="{message_id}"]')


def button(page: Page, label: str) -> Locator:
    """The newest inline button with exactly this label ("同意", not "不同意")."""
    exact = re.compile(f"^{re.escape(label)}$")
    return page.locator(".row.from-bot .kb-button", has_text=exact).last


async def type_and_send(page: Page, text: str) -> None:
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")


async def test_the_page_shows_every_persona(page: Page, screenshot: Screenshot) -> None:
    html = await page.content()
    for name in ("王阿姨", "小李", "张书记", "陈主任"):
        assert name in html
    await expect(persona(page, 1001)).to_contain_text("居民 · 悬桥社区")
    await expect(page.locator("#clock-time")).to_have_text(re.compile(r"11月24日 周二 10:00:0\d"))
    await expect(page.locator("#clock-speed")).to_have_text("已暂停")
    await screenshot("01-start-page")


async def test_a_resident_asks_for_help(page: Page, screenshot: Screenshot) -> None:
    await persona(page, 1001).click()
    await expect(persona(page, 1001)).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#playing-name")).to_have_text("王阿姨")
    await type_and_send(page, "/help")

    await expect(page.locator(".row.from-user .text").last).to_contain_text("/help")
    answer = bot_message(page, texts.HELP_HEADER)
    await expect(answer).to_be_visible()
    await expect(answer).to_contain_text("/me")
    await expect(answer.locator(".time")).to_have_text("10:00")  # Asia/Shanghai
    await expect(page.locator("#text")).to_have_value("")
    await screenshot("02-wang-ayi-help")


async def test_a_coordinator_makes_an_invite_link(page: Page, screenshot: Screenshot) -> None:
    await persona(page, 1001).click()
    await type_and_send(page, "/help")
    await expect(bot_message(page, texts.HELP_HEADER)).to_be_visible()

    await persona(page, 3001).click()
    await expect(page.locator("#playing-name")).to_have_text("张书记")
    await expect(page.locator(".row")).to_have_count(0)  # 王阿姨's chat is gone
    await type_and_send(page, "/invite")
    prompt = await pinned(bot_message(page, "请选择志愿者负责的网格"))
    await expect(prompt.locator(".kb-button")).to_have_text(["第1网格", "第2网格", "第3网格"])
    await screenshot("03-zhang-shuji-invite-grids")

    await button(page, "第1网格").click()
    await expect(prompt.locator(".kb-button")).to_have_text(["1 次", "5 次", "20 次"])
    await button(page, "1 次").click()

    made = bot_message(page, "邀请链接已生成")
    await expect(made).to_contain_text(INVITE_LINK)
    await expect(made).to_contain_text("可以使用 1 次")
    await expect(made.locator(".edited")).to_have_text("已编辑")
    await expect(made.locator(".kb-button")).to_have_count(0)
    await expect(made.locator("a.deep-link")).to_have_count(1)
    assert await page.locator(".row.from-bot").count() == 1, "edited in place, not resent"
    await screenshot("04-zhang-shuji-invite-link")


async def test_a_new_user_taps_through_onboarding(page: Page, screenshot: Screenshot) -> None:
    await page.locator("#new-user").click()
    await page.locator("#new-user-name").fill("钱阿姨")
    await page.locator("#new-user-ok").click()
    await expect(page.locator("#playing-name")).to_have_text("钱阿姨")
    new_user = page.locator("#personas-new button.persona", has_text="钱阿姨")
    await expect(new_user).to_contain_text("未登记")
    await expect(page.locator(".start-button")).to_be_visible()
    await screenshot("05-new-user-empty-chat")

    await page.locator(".start-button").click()
    notice = await pinned(bot_message(page, "我们保存"))
    await expect(notice.locator(".kb-button")).to_have_text(["同意", "不同意"])
    await expect(notice.locator("strong").first).to_have_text("海棠先锋")  # HTML → entities
    await screenshot("06-new-user-privacy-notice")

    await button(page, "同意").click()
    await expect(notice.locator(".kb-button")).to_have_count(0)
    streets = await pinned(bot_message(page, "请选择您所在的街道"))
    await expect(streets.locator(".kb-button")).to_have_text(["平江街道", "双塔街道"])
    await button(page, "平江街道").click()
    await expect(streets).to_contain_text("请选择您所在的社区（平江街道）")
    await screenshot("07-new-user-choose-community")
    await button(page, "悬桥社区").click()
    await expect(streets).to_contain_text("已为您登记在 平江街道 · 悬桥社区")
    await expect(streets.locator(".edited")).to_be_visible()

    # Registered now: the sidebar lists them with their community.
    registered = page.locator("#personas-more button.persona", has_text="钱阿姨")
    await expect(registered).to_contain_text("居民 · 悬桥社区", timeout=10_000)
    await expect(registered).to_have_attribute("aria-pressed", "true")
    await screenshot("08-new-user-registered")


async def test_photo_location_menu_and_alerts(
    page: Page, page_sandbox: Sandbox, screenshot: Screenshot
) -> None:
    await persona(page, 3002).click()  # 刘书记, 钮家巷社区
    await page.locator("#photo-button").click()
    photo = page.locator(".row.from-user img.photo")
    await expect(photo).to_be_visible()
    assert await photo.evaluate("img => img.complete && img.naturalWidth > 0")
    await page.locator("#location-button").click()
    await expect(page.locator(".row.from-user .location")).to_contain_text("北纬 31.3155°")
    await expect(page.locator(".row.from-bot")).to_have_count(2)

    await type_and_send(page, "/help")  # the bot sets this chat's own command menu
    await expect(bot_message(page, texts.HELP_HEADER)).to_be_visible()
    await page.locator("#menu-button").click()
    menu = page.locator("#commands-menu")
    for command in ("/help", "/me", "/invite"):
        await expect(menu.locator(".menu-command", has_text=command)).to_be_visible()
    await expect(menu).to_contain_text("查看可用命令")
    await page.locator("#commands-menu .menu-item", has_text="/invite").click()
    prompt = bot_message(page, "请选择志愿者负责的网格")
    await expect(prompt).to_be_visible()

    # A press from outside the page (a forged button for another community's grid):
    # the page shows the bot's alert as a dialog.
    async with SandboxClient(page_sandbox.base_url) as client:
        [*_, last] = await client.messages(3002)
        await client.press(3002, last["message_id"], "iv:volunteer:1:1", forge=True)
    dialog = page.locator("#alert-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#alert-text")).not_to_be_empty()
    await screenshot("09-photo-location-alert")
    await dialog.locator("#alert-ok").click()
    await expect(dialog).to_be_hidden()


async def test_bot_html_is_shown_as_text_and_reply_keyboards_work(
    page: Page, page_sandbox: Sandbox, screenshot: Screenshot
) -> None:
    await persona(page, 1001).click()
    await type_and_send(page, "/help")
    await expect(bot_message(page, texts.HELP_HEADER)).to_be_visible()

    # A message straight through the Bot API, as the bot could send it.
    text = (
        "<b>粗体</b> &lt;script&gt;alert(1)&lt;/script&gt; <i>斜体</i>\n"
        '<a href="javascript:alert(2)">坏链接</a> <a href="https://example.org/">好链接</a> '
        "<code>&lt;img src=x onerror=alert(3)&gt;</code> 发送 /help"
    )
    keyboard = [[{"text": "我要反映问题"}], [{"text": "发送我的位置", "request_location": True}]]
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{page_sandbox.base_url}/bot{SANDBOX_TOKEN}/sendMessage",
            json={
                "chat_id": 1001,
                "text": text,
                "parse_mode": "HTML",
                "reply_markup": {"keyboard": keyboard, "resize_keyboard": True},
            },
        )
        assert (await response.json())["ok"], await response.text()

    shown = bot_message(page, "粗体")
    await expect(shown).to_contain_text("<script>alert(1)</script>")
    await expect(shown.locator("strong")).to_have_text("粗体")
    await expect(shown.locator("em")).to_have_text("斜体")
    await expect(shown.locator("code")).to_have_text("<img src=x onerror=alert(3)>")
    assert await page.locator("#messages script, #messages img:not(.photo)").count() == 0
    assert await page.locator('a[href^="javascript"]').count() == 0
    await expect(shown.locator("a", has_text="好链接")).to_have_attribute("target", "_blank")
    await expect(shown.locator("button.command")).to_have_text(["/help"])  # not "</script"

    reply_keyboard = page.locator("#reply-keyboard")
    await expect(reply_keyboard.locator(".kb-button")).to_have_text(
        ["我要反映问题", "发送我的位置"]
    )
    await screenshot("10-html-entities-and-reply-keyboard")
    await reply_keyboard.locator(".kb-button", has_text="发送我的位置").click()
    await expect(page.locator(".row.from-user .location")).to_be_visible()
    await reply_keyboard.locator(".kb-button", has_text="我要反映问题").click()
    await expect(page.locator(".row.from-user .text").last).to_contain_text("我要反映问题")


async def test_a_need_goes_from_resident_to_coordinator_and_back(
    page: Page, screenshot: Screenshot
) -> None:
    """Issue 9: as 王阿姨 send a need and see the ticket number; as 张书记 open /inbox and tap
    受理; back as 王阿姨 see the status message."""
    await persona(page, 1001).click()
    await type_and_send(page, "楼道里的灯坏了好几天了，晚上上下楼看不见")
    receipt = bot_message(page, "已收到您反映的问题")
    await expect(receipt).to_be_visible()
    found = re.search(r"GS\d{8}-\d{4}", await receipt.inner_text())
    assert found, await receipt.inner_text()
    number = found.group(0)
    await expect(receipt).to_contain_text("设施维修")
    await screenshot("11-wang-ayi-reports-a-need")

    await persona(page, 3001).click()
    await type_and_send(page, "/inbox")
    await page.locator(".row.from-bot .kb-button", has_text=number).last.click()
    card = await pinned(bot_message(page, number))
    await expect(card).to_contain_text("待受理")
    await screenshot("12-zhang-shuji-ticket-card")
    await card.locator(".kb-button", has_text=re.compile("^受理$")).click()
    await expect(card).to_contain_text("已受理")
    await screenshot("13-zhang-shuji-accepted")

    await persona(page, 1001).click()
    status = bot_message(page, "有新进展")
    await expect(status).to_contain_text(number)
    await expect(status).to_contain_text("已受理")
    await screenshot("14-wang-ayi-sees-the-status")
