// Callbox's GraphiQL: the vendored GraphiQL (window.GraphiQL, React, ReactDOM; see
// vendor/README.md), opened with example operations. Queries and mutations go over HTTP to
// this page's own URL (/graphql); subscriptions over WebSocket (graphql-transport-ws) to the
// same URL. With API keys configured, give yours in the Headers editor,
// {"Authorization": "Bearer <key>"}: it goes in the request headers over HTTP and in the
// connection_init payload over WebSocket.

const endpoint = new URL(location.pathname, location.href);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

const RECENT_ACTIVITY = `# Callbox's GraphQL API: what it has stored, and live changes (the next tab).
#
# Run an operation with Ctrl-Enter or the ▶ button. With API keys configured, give yours
# in Headers (below): {"Authorization": "Bearer <key>"}. The schema is in the Docs panel
# (the book icon); docs/graphql.md has more examples.

query RecentActivity {
  messages(first: 10) {
    totalCount
    nodes {
      id
      direction
      from
      to
      status
      providerStatus
      occurredAt
      receiver
    }
  }
  conversations(first: 5) {
    totalCount
    nodes {
      id
      theirAddress
      ourAddress
      messageCount
      lastActivityAt
      lastMessage {
        body
        status
      }
    }
  }
}
`;

const LIVE_EVENTS = `# Changes as they commit, over WebSocket (graphql-transport-ws). Run it, then post a
# callback (uv run callbox send-sample notify): each change appears on the right.
# Resume from an event with messageEvents(after: "<its cursor>").

subscription LiveMessageEvents {
  messageEvents {
    cursor
    kind
    receiver
    storedAt
    message {
      id
      direction
      from
      to
      status
      body
    }
  }
}
`;

const graphiqlFetcher = GraphiQL.createFetcher({
  url: endpoint.href,
  subscriptionUrl: socket.href,
});

/** The operation `name` names in `document`, or its only operation. */
function operationIn(document, name) {
  const operations = document.definitions.filter((node) => node.kind === "OperationDefinition");
  const named = operations.find((operation) => operation.name?.value === name);
  return named ?? (operations.length === 1 ? operations[0] : null);
}

// After a tab switch GraphiQL can pass the operation name and the parsed document of the tab
// shown before: the fetcher then takes a subscription for a query and sends it over HTTP,
// which is refused. The document is parsed again from the text sent, and the operation is
// the one it has by that name, or its only one.
function fetcher(params, options) {
  let documentAST;
  try {
    documentAST = GraphiQL.GraphQL.parse(params.query);
  } catch {
    return graphiqlFetcher(params, options); // the server says what is wrong with it
  }
  const operation = operationIn(documentAST, params.operationName);
  const operationName = operation ? operation.name?.value : params.operationName;
  return graphiqlFetcher({ ...params, operationName }, { ...options, documentAST });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(
    GraphiQL,
    {
      fetcher,
      defaultQuery: RECENT_ACTIVITY,
      defaultTabs: [{ query: RECENT_ACTIVITY }, { query: LIVE_EVENTS }],
      // Tabs are kept in this browser's local storage, apart from other GraphiQLs on the
      // same origin; headers (an API key) are not kept.
      storage: GraphiQL.createLocalStorage({ namespace: "callbox-graphiql" }),
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    },
    React.createElement(GraphiQL.Logo, null, "Callbox"),
  ),
);
