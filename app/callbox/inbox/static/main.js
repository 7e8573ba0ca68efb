// The inbox page: state, wiring between the API, the live events and the views.
//
// Queries give the initial state; the messageEvents subscription keeps it current. Every
// (re)started subscription re-reads the state too, and every update keeps whichever copy of
// a message or conversation is newer, so the order in which answers arrive does not matter.

import {
  ApiError,
  CONVERSATION_MESSAGES,
  GLANCE_SIZE,
  MESSAGE_EVENTS,
  OVERVIEW,
  PAGE_SIZE,
  PROBE,
  Unauthenticated,
  apiKey,
  endpoint,
  graphql,
} from "./api.js";
import { LiveEvents, retryDelay, seconds } from "./live.js";
import {
  conversationItem,
  failureItem,
  fill,
  messageItem,
  optOutItem,
} from "./views.js";

const $ = (id) => document.getElementById(id);
const FRESH_MS = 2500;
const SHOWN = 100;
const KEPT = 500; // messages and conversations kept in memory (a long-open tab stays small)

const state = {
  conversations: new Map(),
  conversationTotal: 0,
  messages: new Map(),
  thread: null, // {id, conversation, messages: Map} for the open conversation
  failures: { total: 0, nodes: new Map() },
  optOuts: { total: 0, nodes: new Map() },
  fresh: new Set(), // ids changed live a moment ago, highlighted once
  loaded: false, // the lists have been read once: an empty list is empty, not unread
  problem: null, // the ApiError the last read failed with, until a read succeeds
};

const time = (iso) => (iso ? Date.parse(iso) : 0);

function newerMessage(old, incoming) {
  return !old || time(incoming.updatedAt) >= time(old.updatedAt);
}

function newerConversation(old, incoming) {
  if (!old) return true;
  if (time(incoming.lastActivityAt) !== time(old.lastActivityAt)) {
    return time(incoming.lastActivityAt) > time(old.lastActivityAt);
  }
  if (incoming.messageCount !== old.messageCount) return incoming.messageCount > old.messageCount;
  const a = old.lastMessage;
  const b = incoming.lastMessage;
  return !a || !b || a.id !== b.id || newerMessage(a, b);
}

function putMessage(map, message) {
  if (newerMessage(map.get(message.id), message)) map.set(message.id, message);
}

function putConversation(conversation) {
  const old = state.conversations.get(conversation.id);
  if (!old) state.conversationTotal += 1;
  if (newerConversation(old, conversation)) state.conversations.set(conversation.id, conversation);
  if (state.thread?.id === conversation.id && newerConversation(state.thread.conversation, conversation)) {
    state.thread.conversation = conversation;
  }
}

function markFresh(id) {
  state.fresh.add(id);
  setTimeout(() => state.fresh.delete(id), FRESH_MS);
}

// Live events ---------------------------------------------------------------------------

function applyEvent(event) {
  const message = event.message;
  if (message) {
    putMessage(state.messages, message);
    markFresh(`m${message.id}`);
    if (message.conversation) {
      putConversation(message.conversation);
      markFresh(`c${message.conversation.id}`);
      if (state.thread?.id === message.conversation.id) putMessage(state.thread.messages, message);
    }
    if (message.status === "FAILED" && !state.failures.nodes.has(message.id)) {
      state.failures.total += 1;
      state.failures.nodes.set(message.id, message);
    }
  }
  const optOut = event.optOut;
  if (event.kind === "OPTED_OUT" && optOut && !state.optOuts.nodes.has(optOut.id)) {
    state.optOuts.total += 1;
    state.optOuts.nodes.set(optOut.id, optOut);
  }
  render();
}

// Queries -------------------------------------------------------------------------------

async function loadOverview() {
  const data = await graphql(OVERVIEW, { pageSize: PAGE_SIZE, glanceSize: GLANCE_SIZE });
  state.conversationTotal = data.conversations.totalCount;
  for (const conversation of data.conversations.nodes) {
    if (newerConversation(state.conversations.get(conversation.id), conversation)) {
      state.conversations.set(conversation.id, conversation);
    }
  }
  for (const message of data.messages.nodes) putMessage(state.messages, message);
  state.loaded = true;
  state.failures = {
    total: data.failed.totalCount,
    nodes: new Map(data.failed.nodes.map((m) => [m.id, m])),
  };
  state.optOuts = {
    total: data.optOuts.totalCount,
    nodes: new Map(data.optOuts.nodes.map((o) => [o.id, o])),
  };
  render();
}

async function loadThread(id) {
  const data = await graphql(CONVERSATION_MESSAGES, { id, pageSize: PAGE_SIZE });
  if (state.thread?.id !== id) return;
  state.thread.loaded = true;
  if (!data.conversation) {
    state.thread.missing = true;
  } else {
    const { messages, ...conversation } = data.conversation;
    putConversation(conversation);
    state.thread.conversation = state.conversations.get(id) ?? conversation;
    for (const message of messages.nodes) putMessage(state.thread.messages, message);
  }
  render();
}

// Reads that fail (the database is down, Callbox cannot be reached) are retried with the
// same backoff as the live connection, and the page says why it shows what it shows.
const rereading = { attempt: 0, timer: 0 };

async function refresh() {
  clearTimeout(rereading.timer);
  try {
    await Promise.all([loadOverview(), state.thread ? loadThread(state.thread.id) : null]);
  } catch (error) {
    handleApiError(error);
    return;
  }
  rereading.attempt = 0;
  showProblem(null);
}

function handleApiError(error) {
  if (error instanceof Unauthenticated) {
    live.stop();
    showKeyForm(apiKey.get() ? "Callbox refused this API key." : null);
  } else if (error instanceof ApiError) {
    const delay = retryDelay(rereading.attempt);
    rereading.attempt += 1;
    clearTimeout(rereading.timer);
    rereading.timer = setTimeout(refresh, delay);
    showProblem(error, delay);
  } else {
    throw error;
  }
}

const DATABASE_CODES = new Set(["DATABASE_UNAVAILABLE", "DATABASE_TIMEOUT"]);

/** What a failed read means, in the banner under the top bar (`null`: all is well). */
function problemText(error, delay) {
  const retrying = `Retrying in ${seconds(delay)}…`;
  if (error.code === "DATABASE_UNAVAILABLE") {
    return `The database is unavailable: Callbox cannot read what it has stored right now. ${retrying}`;
  }
  if (error.code === "DATABASE_TIMEOUT") {
    return `The database is too slow to answer right now. ${retrying}`;
  }
  return `Callbox could not be read: ${error.message}. ${retrying}`;
}

function showProblem(error, delay = 0) {
  state.problem = error;
  const banner = $("problem");
  banner.hidden = !error;
  banner.textContent = error ? problemText(error, delay) : "";
  banner.dataset.code = error?.code ?? "";
  render();
}

// Navigation: #conversation=<id> opens a conversation, no hash shows all activity ---------

function route() {
  const match = /^#conversation=(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  if (!id) {
    state.thread = null;
  } else if (state.thread?.id !== id) {
    state.thread = { id, conversation: state.conversations.get(id) ?? null, messages: new Map() };
    loadThread(id).catch(handleApiError);
  }
  render();
  $("content").scrollTop = 0;
}

function openConversation(id) {
  location.hash = `conversation=${encodeURIComponent(id)}`;
}

// Rendering -----------------------------------------------------------------------------

let frame = 0;
function render() {
  if (!frame) frame = requestAnimationFrame(draw);
}

// Ids are opaque (sealed): they only break ties in time, the same way every time.
function idOrder(a, b) {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// Newest first by the time each card shows, as the API's messages list is ordered.
function byOccurred(a, b) {
  return time(b.occurredAt) - time(a.occurredAt) || idOrder(b, a);
}

function draw() {
  frame = 0;
  const waiting = !state.problem
    ? "Loading…"
    : DATABASE_CODES.has(state.problem.code)
      ? "Not loaded: waiting for the database."
      : "Not loaded: waiting for Callbox.";
  for (const note of document.querySelectorAll(".pending")) note.textContent = waiting;
  const conversations = [...state.conversations.values()].sort(
    (a, b) => time(b.lastActivityAt) - time(a.lastActivityAt) || idOrder(b, a),
  );
  for (const old of conversations.splice(KEPT)) state.conversations.delete(old.id);
  fill(
    $("conversations"),
    $("no-conversations"),
    conversations.map((conversation) =>
      conversationItem(conversation, {
        current: state.thread?.id === conversation.id,
        fresh: state.fresh.has(`c${conversation.id}`),
        onOpen: openConversation,
      }),
    ),
    state.loaded,
  );
  // Counts once known: "(0)" before the first read would claim there is nothing.
  const count = (n) => (state.loaded ? `(${n})` : "");
  $("conversation-count").textContent = count(Math.max(state.conversationTotal, conversations.length));
  $("show-activity").setAttribute("aria-current", state.thread ? "false" : "page");

  const thread = state.thread;
  let messages;
  if (thread) {
    const conversation = thread.conversation;
    $("content-title").textContent = thread.missing
      ? "Conversation not found"
      : conversation
        ? conversation.theirAddress
        : "Loading…";
    $("content-subtitle").textContent = conversation
      ? `${conversation.channel} between ${conversation.theirAddress} and us (${conversation.ourAddress}) · ` +
        `${conversation.messageCount} message${conversation.messageCount === 1 ? "" : "s"}`
      : "";
    // Oldest first, like a chat; the query and the events give newest first.
    messages = [...thread.messages.values()].sort(
      (a, b) => time(a.occurredAt) - time(b.occurredAt) || idOrder(a, b),
    );
    $("messages").className = "messages thread";
  } else {
    $("content-title").textContent = "All activity";
    $("content-subtitle").textContent =
      "Every message this key may see, newest first by when it was sent or received (the time" +
      " on each card); changes arrive live.";
    messages = [...state.messages.values()].sort(byOccurred);
    for (const old of messages.splice(KEPT)) state.messages.delete(old.id);
    messages = messages.slice(0, SHOWN);
    $("messages").className = "messages";
  }
  fill(
    $("messages"),
    $("no-messages"),
    messages.map((message) =>
      messageItem(message, {
        thread: Boolean(thread),
        fresh: state.fresh.has(`m${message.id}`),
        onOpen: openConversation,
      }),
    ),
    thread ? Boolean(thread.loaded) : state.loaded,
  );

  const failures = [...state.failures.nodes.values()].sort(byOccurred).slice(0, GLANCE_SIZE);
  fill($("failures"), $("no-failures"), failures.map(failureItem), state.loaded);
  $("failure-count").textContent = count(state.failures.total);
  const optOuts = [...state.optOuts.nodes.values()]
    .sort((a, b) => time(b.occurredAt) - time(a.occurredAt))
    .slice(0, GLANCE_SIZE);
  fill($("opt-outs"), $("no-opt-outs"), optOuts.map(optOutItem), state.loaded);
  $("opt-out-count").textContent = count(state.optOuts.total);
}

// Connection state and the API key --------------------------------------------------------

const STATE_LABELS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function setConnection(name, detail) {
  const element = $("connection");
  element.dataset.state = name;
  document.body.dataset.connection = name;
  element.querySelector(".label").textContent = STATE_LABELS[name] ?? name;
  element.title = detail || "";
}

function showKeyForm(error) {
  clearTimeout(rereading.timer);
  showProblem(null);
  $("inbox").hidden = true;
  $("forget-key").hidden = true;
  $("key-panel").hidden = false;
  $("key-error").hidden = !error;
  $("key-error").textContent = error ?? "";
  setConnection("offline", "an API key is needed");
  $("key-input").focus();
}

function showInbox() {
  $("key-panel").hidden = true;
  $("inbox").hidden = false;
  $("forget-key").hidden = !apiKey.get();
}

const live = new LiveEvents({
  url: endpoint,
  query: MESSAGE_EVENTS,
  key: () => apiKey.get(),
  onEvent: applyEvent,
  onState: setConnection,
  onRefused: (reason) => showKeyForm(`Callbox refused this API key: ${reason}`),
  onSubscribed: () => refresh(),
});

let bootRetry = 0;
let bootAttempt = 0;
async function boot() {
  clearTimeout(bootRetry);
  try {
    await graphql(PROBE);
  } catch (error) {
    if (error instanceof Unauthenticated) {
      showKeyForm(apiKey.get() ? "Callbox refused this API key." : null);
    } else if (error instanceof ApiError && error.code === "FORBIDDEN") {
      showKeyForm(`This API key may not read: ${error.message}`);
    } else if (error instanceof ApiError) {
      // Not reachable yet (or failing): say so, and try again shortly.
      const delay = retryDelay(bootAttempt);
      bootAttempt += 1;
      setConnection("reconnecting", error.message);
      showProblem(error, delay);
      bootRetry = setTimeout(boot, delay);
    } else {
      throw error;
    }
    return;
  }
  bootAttempt = 0;
  showProblem(null);
  showInbox();
  route();
  live.start();
}

$("key-form").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  apiKey.set(key);
  $("key-input").value = "";
  boot();
});

$("forget-key").addEventListener("click", () => {
  live.stop();
  apiKey.forget();
  state.conversations.clear();
  state.messages.clear();
  state.thread = null;
  state.loaded = false;
  showKeyForm(null);
});

$("show-activity").addEventListener("click", () => {
  history.pushState(null, "", location.pathname + location.search);
  route();
});
window.addEventListener("hashchange", route);

boot();
