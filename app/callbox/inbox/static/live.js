// Live events over graphql-transport-ws, resuming from the last cursor.
//
// One WebSocket to /graphql, one messageEvents subscription on it. Every event's cursor is
// remembered; when the socket drops, or the subscription ends with an error, the page
// subscribes again with `after` set to that cursor (or to the cursor the error names), so
// the events it missed are replayed first: no gap, no repeat. A cursor the server no longer
// accepts (CURSOR_EXPIRED) is dropped and the page re-reads its state instead.

const PROTOCOL = "graphql-transport-ws";
const FORBIDDEN = 4403; // connection_init refused: no key, an unknown key, or no read scope
const RETRY_MS = [500, 1000, 2000, 4000, 8000];

/**
 * How long to wait before retry number `attempt` (0 for the first): the backoff step, less
 * a random part of up to half of it, so that the pages a restart disconnected together do
 * not all come back in the same instant.
 */
export function retryDelay(attempt, random = Math.random) {
  const step = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
  return Math.round(step - (step / 2) * random());
}

/** A delay in seconds as people read it: "0.4 s", "3.1 s". */
export function seconds(ms) {
  return `${Math.round(ms / 100) / 10} s`;
}
const STALE_CURSOR = new Set(["CURSOR_EXPIRED", "BAD_USER_INPUT"]);

export class LiveEvents {
  /**
   * @param {object} options
   * @param {URL} options.url - the GraphQL endpoint (http or https)
   * @param {string} options.query - the messageEvents subscription, with an $after variable
   * @param {() => string | null} options.key - the API key to send in connection_init
   * @param {(event: object) => void} options.onEvent - each event, in order
   * @param {(state: string, detail: string) => void} options.onState - connecting, live,
   *   reconnecting, offline
   * @param {(reason: string) => void} options.onRefused - the key was refused (no retry)
   * @param {(why: string) => void} options.onSubscribed - a subscription (re)started: the
   *   page re-reads its state, which covers whatever the subscription cannot replay
   */
  constructor(options) {
    this.options = options;
    this.url = new URL(options.url);
    this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
    this.cursor = null;
    this.socket = null;
    this.attempt = 0;
    this.operation = 0;
    this.stopped = true;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, "page closed the connection");
  }

  connect() {
    clearTimeout(this.timer);
    this.options.onState(this.attempt ? "reconnecting" : "connecting", "");
    const socket = new WebSocket(this.url, PROTOCOL);
    this.socket = socket;
    socket.addEventListener("open", () => {
      const key = this.options.key();
      const payload = key ? { authorization: `Bearer ${key}` } : {};
      this.send({ type: "connection_init", payload });
    });
    socket.addEventListener("message", (message) => {
      if (socket === this.socket) this.receive(JSON.parse(message.data));
    });
    socket.addEventListener("close", (closed) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (closed.code === FORBIDDEN) {
        this.stopped = true;
        this.options.onState("offline", closed.reason);
        this.options.onRefused(closed.reason || "the API key was refused");
        return;
      }
      this.retry(closed.reason || "connection lost");
    });
  }

  retry(why) {
    if (this.stopped) return;
    const delay = retryDelay(this.attempt);
    this.attempt += 1;
    this.options.onState("reconnecting", `${why}; retrying in ${seconds(delay)}`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  subscribe(why) {
    this.operation += 1;
    const variables = { after: this.cursor };
    this.send({
      id: String(this.operation),
      type: "subscribe",
      payload: { query: this.options.query, variables },
    });
    this.options.onSubscribed(why);
  }

  receive(message) {
    switch (message.type) {
      case "connection_ack":
        this.options.onState("live", this.cursor ? "resumed" : "");
        this.subscribe(this.attempt ? "reconnected" : "started");
        this.attempt = 0;
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        if (message.id !== String(this.operation)) break;
        if (message.payload.errors?.length) {
          this.ended(message.payload.errors[0]);
        } else {
          const event = message.payload.data.messageEvents;
          this.cursor = event.cursor;
          this.attempt = 0;
          this.options.onEvent(event);
        }
        break;
      case "error":
        // The subscription was refused before it started.
        if (message.id === String(this.operation)) this.ended(message.payload?.[0] ?? {});
        break;
      default:
        break; // "complete" follows an error we already handled; "pong" needs nothing
    }
  }

  /** The subscription ended with an error: subscribe again, from the right place. */
  ended(error) {
    const code = error.extensions?.code ?? "UNKNOWN";
    if (STALE_CURSOR.has(code)) {
      this.cursor = null;
    } else if (error.extensions?.cursor) {
      this.cursor = error.extensions.cursor;
    }
    // A connection closed after the error (SUBSCRIBER_TOO_SLOW) reconnects and subscribes
    // from this cursor instead: only the socket the error came on resubscribes here.
    const operation = this.operation;
    const socket = this.socket;
    this.options.onState("reconnecting", `${error.message ?? code} (${code})`);
    const delay = retryDelay(this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      if (
        operation === this.operation &&
        socket === this.socket &&
        socket?.readyState === WebSocket.OPEN
      ) {
        this.options.onState("live", "");
        this.subscribe(`resubscribed after ${code}`);
      }
    }, delay);
  }
}
