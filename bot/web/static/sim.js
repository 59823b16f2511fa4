// The simulator page: polls /sim/feed every second and posts what is typed to /sim/send.
// Message text is only ever put in the page with textContent, never as HTML.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("sim-config").textContent);
  const S = config.strings;
  const $ = (id) => document.getElementById(id);
  const feed = $("sim-feed");
  const dmBox = $("sim-dm");
  const identity = $("sim-identity");
  const seen = new Map(); // msg_id -> message, for quotes
  const state = { after: 0, dmAfter: 0, quote: null, busy: false, again: false };
  const KEY = "sim-identity";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // Zalo mentions and links arrive as parts: {text}, {mention, text} or {link, text}.
  function textNode(parts) {
    const body = el("div", "sim-text");
    for (const part of parts) {
      if (part.mention) {
        body.appendChild(el("span", "sim-mention", part.text));
      } else if (part.link && /^https?:\/\//i.test(part.link)) {
        const a = el("a", "sim-link", part.text);
        a.href = part.link;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        body.appendChild(a);
      } else {
        body.appendChild(document.createTextNode(part.text));
      }
    }
    return body;
  }

  function quoteNode(msgId) {
    const quoted = seen.get(msgId);
    const box = el("div", "sim-quoted");
    box.appendChild(el("span", "sim-quoted-name", quoted ? quoted.name : "…"));
    box.appendChild(el("span", "sim-quoted-text", quoted ? snippet(quoted) : msgId));
    return box;
  }

  // One line of a message as people see it: mentions as names.
  function snippet(m) {
    const line = m.parts.map((part) => part.text).join("").replace(/\s+/g, " ").trim();
    return line.length > 90 ? line.slice(0, 89) + "…" : line;
  }

  function bubble(m, withReply) {
    const node = el("div", "sim-msg");
    node.dataset.msgId = m.msg_id;
    node.dataset.direction = m.direction;
    node.dataset.sender = m.sender_id;
    node.dataset.kind = m.kind;
    if (m.private) node.dataset.private = "true";
    const meta = el("div", "sim-meta");
    meta.appendChild(el("span", "sim-name", m.name));
    meta.appendChild(el("span", "sim-role", m.role));
    if (m.private && m.to_name) meta.appendChild(el("span", "sim-private", "🔒 " + S.private_to + " " + m.to_name));
    meta.appendChild(el("span", "sim-time", m.time));
    node.appendChild(meta);
    if (m.quote_msg_id) node.appendChild(quoteNode(m.quote_msg_id));
    node.appendChild(textNode(m.parts));
    if (m.verdict) {  // what the request classifier made of a customer message
      const verdict = el("div", "sim-verdict " + (m.verdict.needs_reply ? "needs" : "none"), m.verdict.label);
      verdict.dataset.reason = m.verdict.reason;
      node.appendChild(verdict);
    }
    if (withReply && !m.private) {
      const reply = el("button", "sim-reply link", S.reply);
      reply.type = "button";
      reply.addEventListener("click", () => setQuote(m));
      node.appendChild(reply);
    }
    return node;
  }

  function markMine(node) {
    node.classList.toggle("mine", node.dataset.sender === identity.value);
  }

  function addMessages(box, messages, withReply) {
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    let added = 0;
    for (const m of messages) {
      if (box.querySelector(`[data-msg-id="${CSS.escape(m.msg_id)}"]`)) continue;
      seen.set(m.msg_id, m);
      const node = bubble(m, withReply);
      markMine(node);
      box.appendChild(node);
      added += 1;
    }
    box.querySelector(":scope > .empty")?.remove();
    if (!box.children.length) box.appendChild(el("p", "empty", box === feed ? S.empty_feed : S.no_dm));
    if (added && (atBottom || box === dmBox)) box.scrollTop = box.scrollHeight;
  }

  function setQuote(m) {
    state.quote = m;
    $("sim-quote-text").textContent = m.name + ": " + snippet(m);
    $("sim-quote").hidden = false;
    $("sim-quote").dataset.msgId = m.msg_id;
    $("sim-text").focus();
  }

  function clearQuote() {
    state.quote = null;
    $("sim-quote").hidden = true;
    delete $("sim-quote").dataset.msgId;
  }

  function renderSla(items) {
    const box = $("sla-status");
    box.replaceChildren();
    if (!items.length) return box.appendChild(el("p", "empty", S.no_sla));
    for (const c of items) {
      const row = el("div", "sim-sla " + (c.overdue ? "overdue" : c.reminded ? "reminded" : "open"));
      row.dataset.slaCustomer = c.customer_id;
      row.appendChild(el("strong", null, c.name));
      row.appendChild(el("div", "muted", S.waiting_since + " " + c.since));
      row.appendChild(el("div", null, S.deadline + " " + c.deadline));
      row.appendChild(el("span", "badge " + (c.overdue ? "bad" : c.reminded ? "warn" : "ok"), c.left));
      if (c.reminded && !c.overdue) row.appendChild(el("span", "muted", " " + S.reminded));
      box.appendChild(row);
    }
  }

  function renderPayments(items) {
    const box = $("sim-payments");
    box.replaceChildren();
    if (!items.length) return box.appendChild(el("p", "empty", S.no_payments));
    const badge = { approved: "ok", pending: "warn", rejected: "bad" };
    for (const p of items) {
      const row = el("div", "sim-payment");
      row.dataset.paymentStatus = p.status;
      row.dataset.paymentId = p.id;
      row.appendChild(el("span", null, "#" + p.id + " " + p.kind + " "));
      row.appendChild(el("strong", null, p.amount + " "));
      const status = el("span", "badge " + (badge[p.status] || ""), p.status_label);
      status.dataset.status = p.status;
      row.appendChild(status);
      box.appendChild(row);
    }
  }

  function renderStage(stage) {
    const box = $("sim-stage");
    box.replaceChildren();
    box.dataset.stage = stage.exists ? stage.stage : "";
    if (!stage.exists) return box.appendChild(el("p", "empty", S.no_group));
    box.appendChild(el("span", "badge", stage.label));
    box.appendChild(el("div", "muted", S.customer + ": " + (stage.customer || S.nobody)));
    box.appendChild(el("div", "muted", S.sales + ": " + (stage.sales || S.nobody)));
  }

  function renderClock(clock) {
    $("sim-clock-time").textContent = clock.local;
    $("sim-clock-time").dataset.now = clock.now;
    $("sim-clock-offset").textContent = clock.offset;
  }

  function showError(text) {
    $("sim-error").textContent = text || "";
    $("sim-error").hidden = !text;
  }

  async function poll() {
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    try {
      const q = new URLSearchParams({ group: config.group, after: state.after,
        user: identity.value, dm_after: state.dmAfter, lang: config.lang });
      const response = await fetch("/sim/feed?" + q, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      const data = await response.json();
      if (data.group !== config.group) return;
      addMessages(feed, data.messages, true);
      addMessages(dmBox, data.dm, false);
      state.after = data.last_id;
      state.dmAfter = data.dm_last_id;
      renderSla(data.sla);
      renderPayments(data.payments);
      renderStage(data.stage);
      renderClock(data.clock);
      if ($("sim-error").dataset.offline) { delete $("sim-error").dataset.offline; showError(""); }
    } catch (err) {
      $("sim-error").dataset.offline = "1";
      showError(S.offline);
    } finally {
      state.busy = false;
      if (state.again) { state.again = false; poll(); }
    }
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Sim": "1" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({ message: String(response.status) }));
    if (!response.ok) throw new Error(data.message || response.status);
    return data;
  }

  async function send(text, direct) {
    const body = { group: config.group, sender: identity.value, text: text, direct: direct };
    if (!direct && state.quote) body.quote_msg_id = state.quote.msg_id;
    showError("");
    await post("/sim/send", body);
    if (!direct) clearQuote();
    await poll();
  }

  function onSubmit(form, input, direct) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await send(text, direct);
        input.value = "";
      } catch (err) {
        showError(S.send_failed + ": " + err.message);
      } finally {
        button.disabled = false;
        input.focus();
      }
    });
  }

  async function advance(minutes) {
    showError("");
    try {
      const data = await post("/sim/clock", { minutes: minutes });
      renderClock(data.clock);
      await poll();
    } catch (err) {
      showError(err.message);
    }
  }

  async function switchIdentity() {
    localStorage.setItem(KEY, identity.value);
    feed.querySelectorAll(".sim-msg").forEach(markMine);
    dmBox.replaceChildren();
    state.dmAfter = 0;
    try {
      await post("/sim/identity", { user: identity.value });  // the feed shows its 1:1 chat
    } catch (err) {
      showError(err.message);
    }
    poll();
  }

  function openGroup(group) {
    if (!group) return;
    const q = new URLSearchParams(location.search);
    q.set("group", group);
    location.search = q.toString();
  }

  const saved = localStorage.getItem(KEY);
  if (saved && [...identity.options].some((o) => o.value === saved)) identity.value = saved;
  identity.addEventListener("change", switchIdentity);
  $("sim-group").addEventListener("change", (e) => openGroup(e.target.value));
  $("sim-new-group-form").addEventListener("submit", (e) => {
    e.preventDefault();
    openGroup($("sim-new-group").value.trim());
  });
  $("sim-quote-cancel").addEventListener("click", clearQuote);
  $("sim-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("sim-form").requestSubmit();
    }
  });
  onSubmit($("sim-form"), $("sim-text"), false);
  onSubmit($("sim-dm-form"), $("sim-dm-text"), true);
  document.querySelectorAll("button[data-advance]").forEach((b) =>
    b.addEventListener("click", () => advance(Number(b.dataset.advance))));
  $("sim-minutes-form").addEventListener("submit", (e) => {
    e.preventDefault();
    advance(Number($("sim-minutes").value));
  });
  switchIdentity();  // the session plays the identity the picker shows, then the first poll
  setInterval(poll, 1000);
})();
