// The sandbox chat page: plays one user at a time through the /sandbox/ control API.
// Plain JavaScript, no frameworks. Text from the bot is always put into the page as text
// (textContent / text nodes), with Telegram's entities turned into elements: never as HTML.
"use strict";

(function () {
  const TIME_ZONE = "Asia/Shanghai";
  const LONG_POLL_S = 20;
  const CLOCK_SYNC_MS = 5000;
  const SIDEBAR_REFRESH_MS = 4000;
  const NEW_USER_FIRST_ID = 9001;
  // A spot in Gusu District (平江路 area) for "send location".
  const GUSU = { latitude: 31.3155, longitude: 120.629 };
  const SAFE_SCHEMES = ["http:", "https:", "tg:", "mailto:"];

  const botUsername = document.body.dataset.botUsername || "";

  const $ = (id) => document.getElementById(id);
  const ui = {
    messages: $("messages"),
    placeholder: $("placeholder"),
    composer: $("composer"),
    text: $("text"),
    send: $("send-button"),
    photo: $("photo-button"),
    location: $("location-button"),
    menu: $("menu-button"),
    commandsMenu: $("commands-menu"),
    replyKeyboard: $("reply-keyboard"),
    chatSub: $("chat-sub"),
    playing: $("playing"),
    playingName: $("playing-name"),
    playingDesc: $("playing-desc"),
    playingAvatar: $("playing-avatar"),
    toast: $("toast"),
    alertDialog: $("alert-dialog"),
    alertText: $("alert-text"),
    newUser: $("new-user"),
    newUserDialog: $("new-user-dialog"),
    newUserForm: $("new-user-form"),
    newUserName: $("new-user-name"),
    newUserText: $("new-user-text"),
    listMain: $("personas-main"),
    listMore: $("personas-more"),
    listNew: $("personas-new"),
    clockTime: $("clock-time"),
    clockSpeed: $("clock-speed"),
  };

  const state = {
    user: null, // {id, name, description}
    session: 0, // bumped on every switch: answers for an older chat are dropped
    controller: null, // aborts the running long poll
    nodes: new Map(), // message_id -> {sig, node}
    messages: [],
    seenAnswers: null, // callback_query_ids already shown (or older than the chat's opening)
    localUsers: new Map(), // new users made on this page: id -> name
    clock: null,
  };

  // ---- small helpers ----------------------------------------------------------------------

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function api(path, options) {
    const response = await fetch(path, options);
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      throw new Error((body && body.error) || "HTTP " + response.status);
    }
    return body;
  }

  function post(path, payload) {
    return api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
  }

  function avatarLetter(name) {
    const trimmed = (name || "").trim();
    if (trimmed.length >= 2 && "小老阿".includes(trimmed[0])) return trimmed[1];
    return trimmed[0] || "?";
  }

  const timeFormat = new Intl.DateTimeFormat("zh-CN", {
    timeZone: TIME_ZONE,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const dayFormat = new Intl.DateTimeFormat("zh-CN", {
    timeZone: TIME_ZONE,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    weekday: "long",
  });
  const clockFormat = new Intl.DateTimeFormat("zh-CN", {
    timeZone: TIME_ZONE,
    month: "numeric",
    day: "numeric",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });

  function parts(format, ms) {
    const out = {};
    for (const part of format.formatToParts(new Date(ms))) out[part.type] = part.value;
    return out;
  }

  function clockText(ms) {
    const p = parts(clockFormat, ms);
    return `${p.month}月${p.day}日 ${p.weekday} ${p.hour}:${p.minute}:${p.second}`;
  }

  function dayText(ms) {
    const p = parts(dayFormat, ms);
    return `${p.year}年${p.month}月${p.day}日 ${p.weekday}`;
  }

  // ---- toast and alert --------------------------------------------------------------------

  let toastTimer = null;
  function toast(text) {
    ui.toast.textContent = text;
    ui.toast.hidden = false;
    ui.toast.classList.remove("leaving");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      ui.toast.classList.add("leaving");
      toastTimer = setTimeout(() => {
        ui.toast.hidden = true;
      }, 300);
    }, 3000);
  }

  function showAlert(text) {
    ui.alertText.textContent = text;
    if (!ui.alertDialog.open) ui.alertDialog.showModal();
    $("alert-ok").focus();
  }

  // ---- rendering Telegram text ------------------------------------------------------------

  function safeUrl(raw) {
    try {
      const url = new URL(raw, window.location.href);
      return SAFE_SCHEMES.includes(url.protocol) ? url : null;
    } catch (error) {
      return null;
    }
  }

  // "/start <payload>" of a link to this bot (t.me/<bot>?start=..., tg://resolve?...), or null.
  function deepLinkPayload(url) {
    if (!url || !botUsername) return null;
    const host = url.hostname.toLowerCase();
    const bot = botUsername.toLowerCase();
    if ((url.protocol === "https:" || url.protocol === "http:") &&
        (host === "t.me" || host === "telegram.me") &&
        url.pathname.replace(/^\/+/, "").toLowerCase() === bot) {
      return url.searchParams.get("start") || "";
    }
    if (url.protocol === "tg:" && (url.searchParams.get("domain") || "").toLowerCase() === bot) {
      return url.searchParams.get("start") || "";
    }
    return null;
  }

  function linkNode(raw, label) {
    const url = safeUrl(raw);
    if (!url) return document.createTextNode(label);
    const link = make("a", "link", label);
    link.href = url.href;
    const payload = deepLinkPayload(url);
    if (payload !== null) {
      link.classList.add("deep-link");
      link.title = "在沙盒里用新用户打开这个链接";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        openNewUserDialog(payload);
      });
    } else {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
    return link;
  }

  // A /command in a bot message: tapping it sends the command, as in Telegram.
  function commandNode(command, label) {
    const node = make("button", "command", label);
    node.type = "button";
    node.title = "点击发送 " + command;
    node.addEventListener("click", () => sendText(command));
    return node;
  }

  // Plain text, with links and /commands made clickable as Telegram apps do.
  const AUTO = /https?:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+|(?<![^\s(（])\/[a-zA-Z0-9_]{1,32}(?![\w/])/g;
  function appendPlain(parent, text) {
    if (!text) return;
    let last = 0;
    for (const match of text.matchAll(AUTO)) {
      let found = match[0];
      if (!found.startsWith("/")) found = found.replace(/[.,;:!?)\]']+$/, "");
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(found.startsWith("/") ? commandNode(found, found) : linkNode(found, found));
      last = match.index + found.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // The element for one entity: {outer} goes into the parent, {inner} receives its text.
  function entityNode(entity, slice) {
    const simple = {
      bold: "strong",
      italic: "em",
      underline: "u",
      strikethrough: "s",
      code: "code",
    };
    if (simple[entity.type]) {
      const node = make(simple[entity.type]);
      return { outer: node, inner: node };
    }
    switch (entity.type) {
      case "pre": {
        const pre = make("pre");
        const code = make("code");
        if (entity.language) code.dataset.language = entity.language;
        pre.appendChild(code);
        return { outer: pre, inner: code };
      }
      case "blockquote":
      case "expandable_blockquote": {
        const quote = make("blockquote");
        return { outer: quote, inner: quote };
      }
      case "spoiler": {
        const node = make("span", "spoiler");
        node.title = "点击显示";
        node.addEventListener("click", () => node.classList.add("revealed"));
        return { outer: node, inner: node };
      }
      case "text_link":
      case "url": {
        const link = linkNode(entity.type === "url" ? slice : entity.url, "");
        if (link.nodeType === Node.TEXT_NODE) {
          const span = make("span");
          return { outer: span, inner: span };
        }
        return { outer: link, inner: link };
      }
      case "email": {
        const link = linkNode("mailto:" + slice, "");
        return { outer: link, inner: link };
      }
      case "bot_command": {
        const command = commandNode(slice.split("@")[0]);
        return { outer: command, inner: command };
      }
      case "mention":
      case "hashtag":
      case "cashtag":
      case "text_mention": {
        const node = make("span", "mention");
        return { outer: node, inner: node };
      }
      default: {
        const node = make("span");
        return { outer: node, inner: node };
      }
    }
  }

  function renderRange(parent, text, start, end, entities, auto) {
    let position = start;
    let i = 0;
    while (i < entities.length) {
      const entity = entities[i];
      const entityEnd = entity.offset + entity.length;
      if (entity.offset < position || entityEnd > end) {
        i += 1; // overlapping or outside: Telegram never sends these, ignore
        continue;
      }
      const before = text.slice(position, entity.offset);
      if (auto) appendPlain(parent, before);
      else parent.appendChild(document.createTextNode(before));
      const inside = [];
      let j = i + 1;
      while (j < entities.length && entities[j].offset < entityEnd) {
        inside.push(entities[j]);
        j += 1;
      }
      const node = entityNode(entity, text.slice(entity.offset, entityEnd));
      const linked = ["url", "text_link", "email", "bot_command", "code", "pre"].includes(entity.type);
      renderRange(node.inner, text, entity.offset, entityEnd, inside, auto && !linked);
      parent.appendChild(node.outer);
      position = entityEnd;
      i = j;
    }
    const rest = text.slice(position, end);
    if (auto) appendPlain(parent, rest);
    else parent.appendChild(document.createTextNode(rest));
  }

  function renderText(text, entities) {
    const box = make("div", "text");
    const list = (entities || [])
      .filter((e) => Number.isInteger(e.offset) && Number.isInteger(e.length) && e.length > 0)
      .slice()
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    renderRange(box, text, 0, text.length, list, true);
    return box;
  }

  // ---- messages ---------------------------------------------------------------------------

  function icon(path) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    svg.appendChild(shape);
    return svg;
  }
  const ICON_FILE = "M7 3h7l5 5v13H7z M14 3v5h5 M10 13h6 M10 17h6";
  const ICON_PIN = "M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z M12 7a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5";
  const ICON_OPEN = "M14 4h6v6 M20 4l-9 9 M18 14v6H4V6h6";

  function dayKey(date) {
    return dayText(date * 1000);
  }

  function buildMessage(message) {
    const fromBot = message.from === "bot";
    const row = make("div", "row " + (fromBot ? "from-bot" : "from-user"));
    row.dataset.messageId = String(message.message_id);
    row.dataset.day = dayKey(message.date);
    row.appendChild(make("div", "day-chip", row.dataset.day));

    const bubble = make("div", "bubble");
    if (message.has_photo && message.photo_file_id) {
      const link = make("a", "photo-link");
      link.href = "/sandbox/files/" + encodeURIComponent(message.photo_file_id);
      link.target = "_blank";
      link.rel = "noopener";
      link.title = "查看大图";
      const img = make("img", "photo");
      img.src = link.href;
      img.alt = "照片";
      img.addEventListener("load", () => keepAtBottom());
      link.appendChild(img);
      bubble.appendChild(link);
      bubble.classList.add("has-photo");
    }
    if (message.document) {
      const doc = message.document;
      const link = make("a", "document");
      link.href = "/sandbox/files/" + encodeURIComponent(doc.file_id);
      link.download = doc.file_name || "";
      link.title = "下载文件";
      const badge = make("span", "document-icon");
      badge.appendChild(icon(ICON_FILE));
      link.appendChild(badge);
      const info = make("span", "document-info");
      info.appendChild(make("span", "document-name", doc.file_name || "文件"));
      info.appendChild(make("span", "document-action", "点击下载"));
      link.appendChild(info);
      bubble.appendChild(link);
    }
    if (message.location) {
      const place = make("div", "location");
      const pin = make("span", "location-pin");
      pin.appendChild(icon(ICON_PIN));
      place.appendChild(pin);
      const info = make("span", "location-info");
      info.appendChild(make("span", "location-title", "位置"));
      const { latitude, longitude } = message.location;
      info.appendChild(
        make("span", "location-coords", `北纬 ${latitude.toFixed(4)}°，东经 ${longitude.toFixed(4)}°`),
      );
      place.appendChild(info);
      bubble.appendChild(place);
    }
    const hasText = typeof message.text === "string";
    const body = hasText ? message.text : message.caption;
    const textBox = body ? renderText(body, hasText ? message.entities : null) : make("div", "text");
    const meta = make("span", "meta");
    if (message.edited) meta.appendChild(make("span", "edited", "已编辑"));
    meta.appendChild(make("span", "time", timeFormat.format(new Date(message.date * 1000))));
    textBox.appendChild(meta);
    if (!body) textBox.classList.add("only-meta");
    bubble.appendChild(textBox);
    row.appendChild(bubble);

    const markup = message.reply_markup;
    if (fromBot && markup && Array.isArray(markup.inline_keyboard)) {
      row.appendChild(buildInlineKeyboard(message, markup.inline_keyboard));
    }
    return row;
  }

  function buildInlineKeyboard(message, rows) {
    const keyboard = make("div", "inline-keyboard");
    for (const buttons of rows) {
      const line = make("div", "kb-row");
      for (const button of buttons) {
        const node = make("button", "kb-button");
        node.type = "button";
        node.appendChild(make("span", "kb-label", button.text));
        if (typeof button.callback_data === "string") {
          node.addEventListener("click", () => press(message.message_id, button.callback_data, node));
        } else if (typeof button.url === "string") {
          node.appendChild(icon(ICON_OPEN));
          node.classList.add("kb-url");
          node.addEventListener("click", () => openUrl(button.url));
        } else {
          node.classList.add("kb-unsupported");
          node.addEventListener("click", () => toast("沙盒里不能使用这种按钮"));
        }
        line.appendChild(node);
      }
      keyboard.appendChild(line);
    }
    return keyboard;
  }

  function openUrl(raw) {
    const url = safeUrl(raw);
    if (!url) {
      toast("这个链接打不开");
      return;
    }
    const payload = deepLinkPayload(url);
    if (payload !== null) openNewUserDialog(payload);
    else window.open(url.href, "_blank", "noopener,noreferrer");
  }

  function nearBottom() {
    const list = ui.messages;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 160;
  }

  let stickToBottom = true;
  function keepAtBottom() {
    if (stickToBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function showEmpty() {
    ui.placeholder.replaceChildren();
    const name = state.user ? state.user.name : "";
    ui.placeholder.appendChild(make("p", "placeholder-title", "还没有消息"));
    ui.placeholder.appendChild(make("p", null, `这是${name}和机器人的对话。点下面的按钮开始。`));
    const start = make("button", "start-button", "开始 /start");
    start.type = "button";
    start.addEventListener("click", () => sendText("/start"));
    ui.placeholder.appendChild(start);
    ui.placeholder.hidden = false;
  }

  function renderMessages(messages) {
    const wasNearBottom = nearBottom();
    const seen = new Set();
    let addedByUser = false;
    for (const message of messages) {
      seen.add(message.message_id);
      const sig = JSON.stringify(message);
      const known = state.nodes.get(message.message_id);
      if (known && known.sig === sig) continue;
      const node = buildMessage(message);
      if (known) {
        known.node.replaceWith(node);
        node.classList.add("updated");
      } else {
        ui.messages.appendChild(node);
        if (message.from === "user") addedByUser = true;
      }
      state.nodes.set(message.message_id, { sig, node });
    }
    for (const [id, known] of state.nodes) {
      if (!seen.has(id)) {
        known.node.remove();
        state.nodes.delete(id);
      }
    }
    // A day chip above the first message of each day.
    let previous = null;
    for (const row of ui.messages.querySelectorAll(".row")) {
      row.classList.toggle("new-day", row.dataset.day !== previous);
      previous = row.dataset.day;
    }
    state.messages = messages;
    if (messages.length === 0) showEmpty();
    else ui.placeholder.hidden = true;
    renderReplyKeyboard(messages);
    // Follow the conversation, unless the reader scrolled up to read older messages.
    if (wasNearBottom || addedByUser) {
      stickToBottom = true;
      keepAtBottom();
    }
  }

  // The reply keyboard a bot message left open (Telegram keeps it until replaced or removed).
  function renderReplyKeyboard(messages) {
    let markup = null;
    let index = -1;
    for (let i = messages.length - 1; i >= 0; i -= 1) {
      const m = messages[i].reply_markup;
      if (messages[i].from === "bot" && m && (m.keyboard || m.remove_keyboard)) {
        markup = m;
        index = i;
        break;
      }
    }
    const usedOnce = markup && markup.one_time_keyboard &&
      messages.slice(index + 1).some((m) => m.from === "user");
    const shown = markup && markup.keyboard && !usedOnce ? markup : null;
    const sig = JSON.stringify(shown);
    if (sig === ui.replyKeyboard.dataset.sig) return;
    ui.replyKeyboard.dataset.sig = sig;
    ui.replyKeyboard.replaceChildren();
    if (!shown) {
      ui.replyKeyboard.hidden = true;
      return;
    }
    for (const buttons of markup.keyboard) {
      const line = make("div", "kb-row");
      for (const button of buttons) {
        const label = typeof button === "string" ? button : button.text;
        const node = make("button", "kb-button reply", label);
        node.type = "button";
        node.addEventListener("click", () => {
          if (button.request_location) sendLocation();
          else if (button.request_contact || button.request_users || button.request_chat || button.request_poll) {
            toast("沙盒里不能使用这种按钮");
          } else sendText(label);
        });
        line.appendChild(node);
      }
      ui.replyKeyboard.appendChild(line);
    }
    ui.replyKeyboard.hidden = false;
  }

  // ---- talking to the bot -----------------------------------------------------------------

  function requireUser() {
    if (!state.user) {
      toast("请先在左边选择一个身份");
      return false;
    }
    return true;
  }

  async function sendPayload(payload) {
    if (!requireUser()) return false;
    try {
      await post("/sandbox/send", { user_id: state.user.id, first_name: state.user.name, ...payload });
      stickToBottom = true;
      return true;
    } catch (error) {
      toast("没有发出去：" + error.message);
      return false;
    }
  }

  function sendText(text) {
    closeCommandsMenu();
    return sendPayload({ text });
  }

  function sendLocation() {
    return sendPayload({ location: GUSU });
  }

  async function press(messageId, data, button) {
    if (!requireUser()) return;
    button.classList.add("pressed");
    button.disabled = true;
    try {
      await post("/sandbox/press", {
        user_id: state.user.id,
        message_id: messageId,
        callback_data: data,
      });
    } catch (error) {
      toast("这个按钮已经失效了");
    } finally {
      setTimeout(() => {
        button.classList.remove("pressed");
        button.disabled = false;
      }, 600);
    }
  }

  // The bot's answers to button presses in this chat since it was opened (pressed here or
  // through the control API): a toast, or a dialog when show_alert is set.
  let checking = false;
  let checkAgain = false;
  async function checkAnswers(session) {
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    try {
      const body = await api(`/sandbox/chats/${state.user.id}/callback_answers`);
      if (session !== state.session) return;
      const first = state.seenAnswers === null;
      if (first) state.seenAnswers = new Set();
      for (const answer of body.answers) {
        if (state.seenAnswers.has(answer.callback_query_id)) continue;
        state.seenAnswers.add(answer.callback_query_id);
        if (first || !answer.text) continue;
        if (answer.show_alert) showAlert(answer.text);
        else toast(answer.text);
      }
    } catch (error) {
      // the next change tries again
    } finally {
      checking = false;
      if (checkAgain && session === state.session) {
        checkAgain = false;
        checkAnswers(session);
      }
    }
  }

  // ---- the long poll ----------------------------------------------------------------------

  function setOnline(online) {
    ui.chatSub.textContent = online ? "机器人" : "连接中断，正在重试…";
    ui.chatSub.classList.toggle("offline", !online);
  }

  async function pollLoop(session, userId) {
    await checkAnswers(session); // what was answered before is not news
    let since = null;
    while (session === state.session) {
      const controller = new AbortController();
      state.controller = controller;
      const query = since === null ? "" : `?since=${since}&wait_s=${LONG_POLL_S}`;
      try {
        const body = await api(`/sandbox/chats/${userId}/messages${query}`, { signal: controller.signal });
        if (session !== state.session) return;
        renderMessages(body.messages);
        setOnline(true);
        if (since !== null && body.version !== since) checkAnswers(session);
        since = body.version;
      } catch (error) {
        if (session !== state.session) return;
        setOnline(false);
        await sleep(1500);
      }
    }
  }

  // ---- personas ---------------------------------------------------------------------------

  function personaButtons() {
    return document.querySelectorAll("button.persona");
  }

  function findPersonaButton(userId) {
    return document.querySelector(`button.persona[data-user-id="${Number(userId)}"]`);
  }

  function personaItem(persona) {
    const item = make("li");
    const button = make("button", "persona role-" + (persona.role || "guest"));
    button.type = "button";
    button.dataset.userId = String(persona.telegram_id);
    button.dataset.name = persona.name;
    button.dataset.description = persona.description;
    button.dataset.role = persona.role || "guest";
    button.setAttribute("aria-pressed", "false");
    button.appendChild(make("span", "avatar", avatarLetter(persona.name)));
    const text = make("span", "persona-text");
    text.appendChild(make("span", "persona-name", persona.name));
    text.appendChild(make("span", "persona-desc", persona.description));
    button.appendChild(text);
    button.addEventListener("click", () => selectFromButton(button));
    item.appendChild(button);
    return item;
  }

  function updatePersona(persona, list) {
    const button = findPersonaButton(persona.telegram_id);
    if (!button) {
      list.appendChild(personaItem(persona));
      return;
    }
    const inNew = button.closest("#personas-new");
    if (button.dataset.description !== persona.description || (inNew && list !== ui.listNew)) {
      const item = personaItem(persona);
      const active = state.user && state.user.id === persona.telegram_id;
      if (inNew && list !== ui.listNew) {
        button.parentElement.remove();
        list.appendChild(item);
      } else {
        button.parentElement.replaceWith(item);
      }
      if (active) {
        markActive(persona.telegram_id);
        state.user.description = persona.description;
        state.user.role = persona.role;
        showPlaying();
      }
    }
  }

  async function refreshSidebar() {
    try {
      const [people, chats] = await Promise.all([api("/sandbox/personas"), api("/sandbox/chats")]);
      const registered = new Set();
      for (const persona of people.personas) {
        registered.add(persona.telegram_id);
        updatePersona(persona, persona.main ? ui.listMain : ui.listMore);
      }
      const guests = new Map(state.localUsers);
      for (const chat of chats.chats) {
        if (chat.chat_id <= 0 || guests.has(chat.chat_id)) continue; // groups are not people
        guests.set(chat.chat_id, chat.first_name || "用户" + chat.chat_id);
      }
      for (const [id, name] of guests) {
        if (registered.has(id)) continue;
        updatePersona({ telegram_id: id, name, description: "未登记", role: "guest", main: false }, ui.listNew);
      }
    } catch (error) {
      // shown by the chat header when the server is gone
    }
  }

  function nextFreeId() {
    let id = NEW_USER_FIRST_ID;
    while (findPersonaButton(id) || state.localUsers.has(id)) id += 1;
    return id;
  }

  let pendingDeepLink = null;
  function openNewUserDialog(payload) {
    pendingDeepLink = payload;
    const id = nextFreeId();
    ui.newUserName.value = "新用户" + id;
    ui.newUserDialog.dataset.userId = String(id);
    ui.newUserText.textContent = payload === null
      ? "一位还没登记的用户，可以体验从 /start 开始的登记流程。"
      : "用一位新用户打开这个链接（会发送 /start " + payload + "）。";
    ui.newUserDialog.showModal();
    ui.newUserName.select();
  }

  ui.newUserDialog.addEventListener("close", () => {
    if (ui.newUserDialog.returnValue !== "ok") return;
    const id = Number(ui.newUserDialog.dataset.userId);
    const name = ui.newUserName.value.trim() || "新用户" + id;
    state.localUsers.set(id, name);
    const persona = { telegram_id: id, name, description: "未登记", role: "guest", main: false };
    updatePersona(persona, ui.listNew);
    selectPersona(persona);
    if (pendingDeepLink !== null) {
      sendText(pendingDeepLink ? "/start " + pendingDeepLink : "/start");
    }
  });

  function markActive(userId) {
    for (const button of personaButtons()) {
      const active = Number(button.dataset.userId) === userId;
      button.classList.toggle("active", active);
      button.setAttribute("aria-pressed", active ? "true" : "false");
    }
  }

  function showPlaying() {
    ui.playing.hidden = false;
    ui.playingName.textContent = state.user.name;
    ui.playingDesc.textContent = state.user.description;
    ui.playingAvatar.textContent = avatarLetter(state.user.name);
    ui.playingAvatar.className = "avatar small role-" + (state.user.role || "guest");
  }

  function selectFromButton(button) {
    selectPersona({
      telegram_id: Number(button.dataset.userId),
      name: button.dataset.name,
      description: button.dataset.description,
      role: button.dataset.role,
    });
  }

  function selectPersona(persona) {
    if (state.controller) state.controller.abort();
    state.session += 1;
    state.user = {
      id: persona.telegram_id,
      name: persona.name,
      description: persona.description,
      role: persona.role,
    };
    state.seenAnswers = null;
    checking = false;
    checkAgain = false;
    for (const known of state.nodes.values()) known.node.remove();
    state.nodes.clear();
    state.messages = [];
    ui.placeholder.hidden = true;
    ui.replyKeyboard.hidden = true;
    ui.replyKeyboard.dataset.sig = "";
    closeCommandsMenu();
    markActive(persona.telegram_id);
    showPlaying();
    for (const control of [ui.text, ui.send, ui.photo, ui.location, ui.menu]) control.disabled = false;
    ui.text.placeholder = `以“${persona.name}”的身份输入消息…`;
    history.replaceState(null, "", "#" + persona.telegram_id);
    document.body.classList.add("chatting");
    stickToBottom = true;
    pollLoop(state.session, persona.telegram_id);
    ui.text.focus();
  }

  // ---- the command menu -------------------------------------------------------------------

  function closeCommandsMenu() {
    ui.commandsMenu.hidden = true;
    ui.menu.setAttribute("aria-expanded", "false");
  }

  async function toggleCommandsMenu() {
    if (!ui.commandsMenu.hidden) {
      closeCommandsMenu();
      return;
    }
    if (!requireUser()) return;
    try {
      const body = await api(`/sandbox/chats/${state.user.id}/commands`);
      ui.commandsMenu.replaceChildren();
      if (body.commands.length === 0) {
        ui.commandsMenu.appendChild(make("p", "menu-empty", "机器人还没有设置命令"));
      }
      for (const command of body.commands) {
        const item = make("button", "menu-item");
        item.type = "button";
        item.appendChild(make("span", "menu-command", "/" + command.command));
        item.appendChild(make("span", "menu-description", command.description));
        item.addEventListener("click", () => sendText("/" + command.command));
        ui.commandsMenu.appendChild(item);
      }
      ui.commandsMenu.hidden = false;
      ui.menu.setAttribute("aria-expanded", "true");
    } catch (error) {
      toast("读取命令失败：" + error.message);
    }
  }

  // ---- the clock --------------------------------------------------------------------------

  async function syncClock() {
    try {
      const body = await api("/sandbox/clock");
      const iso = body.now.replace(/(\.\d{3})\d+/, "$1");
      state.clock = { base: Date.parse(iso), speed: Number(body.speed), at: performance.now() };
      const speed = state.clock.speed;
      ui.clockSpeed.hidden = speed === 1;
      ui.clockSpeed.textContent = speed === 0 ? "已暂停" : `${speed} 倍速`;
      tickClock();
    } catch (error) {
      // keep ticking from the last reading
    }
  }

  function tickClock() {
    if (!state.clock) return;
    const { base, speed, at } = state.clock;
    ui.clockTime.textContent = clockText(base + (performance.now() - at) * speed);
  }

  // ---- wiring -----------------------------------------------------------------------------

  for (const button of personaButtons()) {
    button.addEventListener("click", () => selectFromButton(button));
  }

  ui.composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = ui.text.value.trim();
    if (!text) {
      ui.text.focus();
      return;
    }
    if (await sendText(text)) {
      ui.text.value = "";
      resizeInput();
    }
    ui.text.focus();
  });

  ui.text.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; never while an input method is composing.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });

  function resizeInput() {
    ui.text.style.height = "auto";
    ui.text.style.height = Math.min(ui.text.scrollHeight, 160) + "px";
  }
  ui.text.addEventListener("input", resizeInput);

  ui.photo.addEventListener("click", async () => {
    const caption = ui.text.value.trim();
    const payload = caption ? { photo: true, caption: caption.slice(0, 1024) } : { photo: true };
    if (await sendPayload(payload)) {
      ui.text.value = "";
      resizeInput();
    }
  });
  ui.location.addEventListener("click", sendLocation);
  ui.menu.addEventListener("click", toggleCommandsMenu);
  ui.newUser.addEventListener("click", () => openNewUserDialog(null));
  ui.messages.addEventListener("scroll", () => {
    stickToBottom = nearBottom();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeCommandsMenu();
  });
  document.addEventListener("click", (event) => {
    if (!ui.commandsMenu.hidden && !ui.commandsMenu.contains(event.target) &&
        !ui.menu.contains(event.target)) {
      closeCommandsMenu();
    }
  });

  // Reopen the chat named in the address (#1001), e.g. after a reload.
  function openFromHash() {
    const fromHash = Number(window.location.hash.slice(1));
    const button = fromHash && !state.user ? findPersonaButton(fromHash) : null;
    if (button) selectFromButton(button);
  }

  syncClock();
  setInterval(tickClock, 250);
  setInterval(syncClock, CLOCK_SYNC_MS);
  openFromHash();
  refreshSidebar().then(openFromHash); // a new user's chat is listed once the chats are read
  setInterval(refreshSidebar, SIDEBAR_REFRESH_MS);
})();
