// Rendering: plain DOM nodes built from data (text only, never HTML from the server).

const STATUS = {
  RECEIVED: { icon: "↓", label: "Received", css: "received" },
  PENDING: { icon: "…", label: "Pending", css: "pending" },
  SENT: { icon: "→", label: "Sent", css: "sent" },
  DELIVERED: { icon: "✓", label: "Delivered", css: "delivered" },
  FAILED: { icon: "✗", label: "Failed", css: "failed" },
  UNKNOWN: { icon: "?", label: "Unknown", css: "unknown" },
};

const REASONS = {
  PERMANENT: "permanent failure",
  TEMPORARY: "temporary failure",
  TECHNICAL: "technical failure",
  BLOCKED: "blocked",
  INVALID_RECIPIENT: "invalid recipient",
  EXPIRED: "expired",
  UNKNOWN: "reason unknown",
};

/** Build an element: el("p", {class: "x", dataset: {id: 1}}, "text", child). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function reasonText(reason) {
  return REASONS[reason] ?? (reason ? reason.toLowerCase() : "");
}

/** A status badge: an icon, the word, and (for failures) the reason. */
export function statusBadge(status, failureReason) {
  const known = STATUS[status] ?? STATUS.UNKNOWN;
  const reason = status === "FAILED" && failureReason ? `: ${reasonText(failureReason)}` : "";
  return el(
    "span",
    { class: `badge ${known.css}`, dataset: { status } },
    el("span", { class: "icon", "aria-hidden": "true" }, known.icon),
    `${known.label}${reason}`,
  );
}

export function optOutBadge(action) {
  const out = action === "OPT_OUT";
  return el(
    "span",
    { class: `badge ${out ? "opt-out" : "opt-in"}` },
    el("span", { class: "icon", "aria-hidden": "true" }, out ? "⊘" : "↺"),
    out ? "Opted out" : "Opted back in",
  );
}

const FORMATS = {
  full: new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }),
  today: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }),
  thisYear: new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" }),
  older: new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }),
};

/** A time as people read it: in full, or (`short`) just what tells it apart from now. */
export function when(iso, { short = false } = {}) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  if (!short) return FORMATS.full.format(date);
  const now = new Date();
  if (date.toDateString() === now.toDateString()) return FORMATS.today.format(date);
  if (date.getFullYear() === now.getFullYear()) return FORMATS.thisYear.format(date);
  return FORMATS.older.format(date);
}

function timeElement(iso, prefix = "", short = false, className = null) {
  return iso
    ? el("time", { datetime: iso, title: when(iso), class: className }, prefix, when(iso, { short }))
    : null;
}

const CHANNELS = { SMS: "SMS", EMAIL: "E-mail", VOICE: "Voice", LETTER: "Letter" };

export function conversationItem(conversation, { current, fresh, onOpen }) {
  const last = conversation.lastMessage;
  const preview = last
    ? `${last.direction === "OUTBOUND" ? "You: " : ""}${last.body ?? "(no text)"}`
    : "No messages this key may see";
  return el(
    "li",
    {
      class: `conversation${fresh ? " fresh" : ""}`,
      "aria-current": current ? "true" : null,
      dataset: { conversationId: conversation.id },
    },
    el(
      "button",
      { type: "button", onclick: () => onOpen(conversation.id) },
      el("span", { class: "who" }, conversation.theirAddress),
      el("span", { class: "when" }, timeElement(conversation.lastActivityAt, "", true)),
      el("span", { class: "preview" }, preview),
      el(
        "span",
        { class: "meta" },
        last ? statusBadge(last.status, last.failureReason) : null,
        el("span", { class: "tag" }, CHANNELS[conversation.channel] ?? conversation.channel),
        `${conversation.messageCount} message${conversation.messageCount === 1 ? "" : "s"}`,
      ),
    ),
  );
}

/** A message card; in a conversation (`thread`) the route and thread link are left out. */
export function messageItem(message, { thread = false, fresh = false, onOpen } = {}) {
  const outbound = message.direction === "OUTBOUND";
  const unknown = "(not known)";
  const route = outbound
    ? `To ${message.to ?? unknown}`
    : `From ${message.from ?? unknown} to ${message.to ?? unknown}`;
  const hasBody = message.body !== null && message.body !== undefined && message.body !== "";
  return el(
    "li",
    {
      class: `message ${outbound ? "outbound" : "inbound"}${fresh ? " fresh" : ""}`,
      dataset: { messageId: message.id, status: message.status },
    },
    el(
      "div",
      { class: "head" },
      statusBadge(message.status, message.failureReason),
      thread ? null : el("span", { class: "route" }, route),
      el("span", { class: "tag" }, outbound ? "Outbound" : "Inbound"),
      el(
        "span",
        { class: "tag" },
        // A receiver named after its provider (the usual case) is named once.
        message.receiver === message.provider
          ? message.receiver
          : `${message.provider} · ${message.receiver}`,
      ),
      message.isTest ? el("span", { class: "tag" }, "test") : null,
    ),
    el(
      "p",
      { class: `body${hasBody ? "" : " none"}` },
      hasBody ? message.body : outbound ? "(text not known: receipts only)" : "(no text)",
    ),
    el(
      "div",
      { class: "foot" },
      // The time lists are ordered by (newest first; oldest first in a conversation).
      timeElement(message.occurredAt, outbound ? "Sent " : "Received ", false, "occurred"),
      message.statusOccurredAt && message.status !== "RECEIVED"
        ? timeElement(message.statusOccurredAt, "Status at ")
        : null,
      message.providerStatus ? el("span", {}, `Provider says “${message.providerStatus}”`) : null,
      message.reference ? el("span", {}, `Ref ${message.reference}`) : null,
      !thread && message.conversation && onOpen
        ? el(
            "button",
            {
              type: "button",
              class: "open-thread",
              onclick: () => onOpen(message.conversation.id),
            },
            "Open conversation",
          )
        : null,
    ),
  );
}

export function failureItem(message) {
  return el(
    "li",
    { dataset: { messageId: message.id } },
    el("span", { class: "who" }, message.to ?? message.from ?? "Recipient not known"),
    statusBadge(message.status, message.failureReason),
    el(
      "span",
      { class: "why" },
      // The time the list is ordered by: when the message was sent.
      [message.providerStatus && `“${message.providerStatus}”`, message.receiver, `sent ${when(message.occurredAt)}`]
        .filter(Boolean)
        .join(" · "),
    ),
  );
}

export function optOutItem(optOut) {
  return el(
    "li",
    { dataset: { optOutId: optOut.id } },
    el("span", { class: "who" }, optOut.address),
    optOutBadge(optOut.action),
    el(
      "span",
      { class: "why" },
      [optOut.source, optOut.receiver, when(optOut.occurredAt)].filter(Boolean).join(" · "),
    ),
  );
}

/**
 * Replace a list's children. With none, its "empty" note shows once the list has been read
 * (`loaded`); until then its pending note (`#<list id>-pending`) says why it is empty.
 */
export function fill(list, empty, items, loaded = true) {
  list.replaceChildren(...items);
  empty.hidden = !loaded || items.length > 0;
  const pending = document.getElementById(`${list.id}-pending`);
  if (pending) pending.hidden = loaded || items.length > 0;
}
