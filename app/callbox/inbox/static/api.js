// The GraphQL client over HTTP, the API key (kept in this tab's session storage only) and
// the documents the page uses. Everything goes through Callbox's public GraphQL API.

const KEY_STORAGE = "callbox.inbox.apiKey";

export const endpoint = new URL("../graphql", document.baseURI);

export const apiKey = {
  get() {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  set(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  forget() {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

/** The request needs a key (none given, or the one given was refused). */
export class Unauthenticated extends Error {}

/** The server answered with GraphQL errors, or could not be reached. */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export async function graphql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const key = apiKey.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(`Callbox is not reachable (${error.message})`, "NETWORK");
  }
  const document = await response.json().catch(() => null);
  const firstError = document?.errors?.[0];
  if (response.status === 401 || firstError?.extensions?.code === "UNAUTHENTICATED") {
    throw new Unauthenticated(firstError?.message ?? "an API key is needed");
  }
  if (!response.ok || !document || firstError) {
    const code = firstError?.extensions?.code ?? `HTTP_${response.status}`;
    throw new ApiError(firstError?.message ?? `Callbox answered ${response.status}`, code);
  }
  return document.data;
}

// Documents -------------------------------------------------------------------------------

const MESSAGE = `
fragment InboxMessage on Message {
  id provider receiver direction channel from to body status failureReason providerStatus
  reference occurredAt updatedAt statusOccurredAt isTest conversation { id }
}`;

const CONVERSATION = `
fragment InboxConversation on Conversation {
  id channel ourAddress theirAddress lastActivityAt messageCount
  lastMessage { ...InboxMessage }
}`;

const OPT_OUT = `
fragment InboxOptOut on OptOut { id address action source receiver channel occurredAt }`;

export const PAGE_SIZE = 50;
export const GLANCE_SIZE = 6;

/** Whether the key (or no key) may read: the cheapest query there is. */
export const PROBE = `query InboxProbe { receivers { name } }`;

export const OVERVIEW = `
query InboxOverview($pageSize: Int!, $glanceSize: Int!) {
  conversations(first: $pageSize) { totalCount nodes { ...InboxConversation } }
  messages(first: $pageSize) { nodes { ...InboxMessage } }
  failed: messages(filter: {status: FAILED}, first: $glanceSize) {
    totalCount nodes { ...InboxMessage }
  }
  optOuts(first: $glanceSize) { totalCount nodes { ...InboxOptOut } }
}
${MESSAGE}${CONVERSATION}${OPT_OUT}`;

export const CONVERSATION_MESSAGES = `
query InboxConversation($id: ID!, $pageSize: Int!) {
  conversation(id: $id) {
    ...InboxConversation
    messages(first: $pageSize) { nodes { ...InboxMessage } }
  }
}
${MESSAGE}${CONVERSATION}`;

export const MESSAGE_EVENTS = `
subscription InboxEvents($after: String) {
  messageEvents(after: $after) {
    cursor kind receiver address storedAt
    message { ...InboxMessage conversation { ...InboxConversation } }
    optOut { ...InboxOptOut }
  }
}
${MESSAGE}${CONVERSATION}${OPT_OUT}`;
