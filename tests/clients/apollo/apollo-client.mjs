// Apollo Client 4 against a live EIC server, as a web or React Native app would use it:
// PersistedQueryLink (SHA-256 from node:crypto) in front of an HttpLink that sends hashed
// queries by GET, and GraphQLWsLink (graphql-ws) for subscriptions.
//
//   node apollo-client.mjs <base url> <apq|manifest> <email>
//
// apq:      the ids Apollo computes at run time (for the apps' operations, the published ones;
//           the server registers any other document on its first miss: automatic persisted
//           queries).
// manifest: the ids of clients/operations/persisted-query-manifest.json
//           (generatePersistedQueryIdsFromManifest), for a trusted-only server; subscribe
//           messages carry the id alone, as Apollo Kotlin and iOS send them.
//
// Signs up and in, reads the clusters three times by GET, opens a forum and a thread, subscribes
// to the thread, posts, and waits for the post to arrive. Prints one JSON object: what each
// step returned and every request it cost (HTTP method, bytes, X-Cache; WebSocket messages).
import { readFileSync } from "node:fs";
import { createHash, randomUUID } from "node:crypto";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [baseUrl, mode, email] = process.argv.slice(2);
if (!baseUrl || !["apq", "manifest"].includes(mode) || !email) {
  console.error("usage: node apollo-client.mjs <base url> <apq|manifest> <email>");
  process.exit(2);
}
const operationsFolder = new URL("../../../clients/operations/", import.meta.url);
// The apps' documents, one per operation with the fragments it uses (as an app's gql tags hold them).
const documents = JSON.parse(readFileSync(new URL("manifest.json", operationsFolder), "utf-8"));
const byName = new Map(
  Object.values(documents).map((text) => [text.match(/^(?:query|mutation|subscription) (\w+)/)[1], gql(text)]),
);
const operation = (name) => byName.get(name);

// Every HTTP request the link chain makes, and what it cost.
const requests = [];
let step = "";
async function countingFetch(url, init = {}) {
  const method = init.method ?? "GET";
  const response = await fetch(url, init);
  const text = await response.clone().text();
  requests.push({
    step,
    method,
    url_bytes: Buffer.byteLength(String(url)),
    sent_bytes: Buffer.byteLength(init.body ?? ""),
    // on the wire (gzipped when the server compressed it) and as decoded
    received_bytes: Number(response.headers.get("content-length") ?? Buffer.byteLength(text)),
    decoded_bytes: Buffer.byteLength(text),
    status: response.status,
    x_cache: response.headers.get("x-cache"),
  });
  return response;
}

// Every WebSocket message, both ways.
const websocket = { sent: [], received: 0, sent_bytes: 0, received_bytes: 0 };
class CountingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on("message", (data) => {
      websocket.received += 1;
      websocket.received_bytes += data.length;
    });
  }
  send(data, ...rest) {
    websocket.sent.push(JSON.parse(data));
    websocket.sent_bytes += Buffer.byteLength(data);
    super.send(data, ...rest);
  }
}

let accessToken = null;
const auth = new ApolloLink((op, forward) => {
  op.setContext(({ headers = {} }) => ({
    headers: accessToken ? { ...headers, authorization: `Bearer ${accessToken}` } : headers,
  }));
  return forward(op);
});
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const persistedQueries = new PersistedQueryLink(
  mode === "manifest"
    ? {
        ...generatePersistedQueryIdsFromManifest({
          loadManifest: () =>
            JSON.parse(readFileSync(new URL("persisted-query-manifest.json", operationsFolder), "utf-8")),
        }),
        useGETForHashedQueries: true,
      }
    : { sha256, useGETForHashedQueries: true },
);
const wsClient = createClient({
  url: baseUrl.replace(/^http/, "ws") + "/graphql",
  webSocketImpl: CountingWebSocket,
  lazy: true,
  connectionParams: () => (accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
});
// GraphQLWsLink sends the text with the id; Apollo Kotlin and iOS can send the id alone.
// graphql-ws wants a query string: an empty one stands for "none".
const idOnly = {
  subscribe: (payload, sink) =>
    wsClient.subscribe(payload.extensions?.persistedQuery ? { ...payload, query: "" } : payload, sink),
};
const wsLink = new GraphQLWsLink(mode === "manifest" ? idOnly : wsClient);
const httpLink = new HttpLink({ uri: `${baseUrl}/graphql`, fetch: countingFetch });
const isSubscription = ({ query }) => {
  const definition = getMainDefinition(query);
  return definition.kind === "OperationDefinition" && definition.operation === "subscription";
};
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([auth, persistedQueries, ApolloLink.split(isSubscription, wsLink, httpLink)]),
});

async function query(name, variables) {
  step = name;
  const { data } = await client.query({ query: operation(name), variables, fetchPolicy: "network-only" });
  return data;
}
async function mutate(name, variables) {
  step = name;
  const { data } = await client.mutate({ mutation: operation(name), variables });
  return data;
}

const result = { mode, steps: {} };
if (mode === "apq") {
  // A document the manifests do not hold (a screen in development): registered on its first miss.
  byName.set("NewScreen", gql("query NewScreen { clusters(first: 2) { totalCount edges { node { id name } } } }"));
  const reads = [];
  for (let i = 0; i < 3; i += 1) reads.push(await query("NewScreen"));
  result.steps.newScreen = reads.map((data) => data.clusters.totalCount);
}
const clusterReads = [];
for (let i = 0; i < 3; i += 1) clusterReads.push(await query("Clusters", { first: 5 }));
const cluster = clusterReads[0].clusters.edges[0].node;
result.steps.clusters = clusterReads.map((data) => data.clusters.edges.map((edge) => edge.node.id));
result.steps.clusterTypename = cluster.__typename;
result.steps.cacheId = client.cache.identify(cluster);

const password = "correct horse battery staple";
const signUp = await mutate("SignUp", {
  input: {
    email,
    password,
    displayName: "Apollo tester",
    organisation: {
      name: `Apollo SHG ${mode}`,
      kind: "COMMUNITY",
      clusterId: cluster.id,
      location: { lat: cluster.centre.lat, lon: cluster.centre.lon },
    },
  },
});
result.steps.signUp = signUp.accountRegister.errors;
const session = (await mutate("SignIn", { email, password })).tokenCreate;
result.steps.signIn = { errors: session.errors, role: session.role, typename: session.__typename };
accessToken = session.accessToken;

const forum = (await mutate("ForumCreate", { input: { title: "Husk and straw", visibility: "CLUSTER" } }))
  .forumCreate;
const thread = (
  await mutate("ThreadCreate", { input: { forumId: forum.forum.id, title: "Who has husk?", body: "Near the mill" } })
).threadCreate;
result.steps.forum = { errors: forum.errors, thread: thread.errors };

// Subscribe, wait for the server's confirmation, then post and wait for the post.
const events = [];
const arrived = new Promise((resolve, reject) => {
  let posted = false;
  const subscription = client
    .subscribe({ query: operation("ThreadPosts"), variables: { threadId: thread.thread.id } })
    .subscribe({
      next: async ({ data, error }) => {
        if (error) return reject(error);
        events.push(data.threadPosts);
        if (data.threadPosts.kind === "SUBSCRIBED" && !posted) {
          posted = true;
          const post = await mutate("PostCreate", {
            input: { threadId: thread.thread.id, body: "200 kg of husk, Friday", id: randomUUID() },
          }).catch(reject);
          result.steps.postCreate = post?.postCreate.errors;
        } else if (data.threadPosts.post) {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
});
const timer = setTimeout(() => {
  console.error("no post arrived within 20 s");
  process.exit(1);
}, 20_000);
await arrived;
clearTimeout(timer);
result.steps.events = events.map((event) => ({
  kind: event.kind,
  sequence: event.sequence,
  typename: event.__typename,
  body: event.post?.body ?? null,
  postTypename: event.post?.__typename ?? null,
}));
await wsClient.dispose();

result.requests = requests;
result.websocket = {
  subscribe: websocket.sent
    .filter((message) => message.type === "subscribe")
    .map((message) => ({
      hasQuery: Boolean(message.payload.query),
      id: message.payload.extensions?.persistedQuery?.sha256Hash ?? null,
    })),
  sent: websocket.sent.length,
  sent_bytes: websocket.sent_bytes,
  received: websocket.received,
  received_bytes: websocket.received_bytes,
};
console.log(JSON.stringify(result));
