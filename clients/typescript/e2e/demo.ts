/**
 * The client end to end against a live server with the demo loaded (tests/clients/
 * test_typescript_e2e.py runs it): sign in as a demo firm, a query by id, a mutation whose
 * answer is lost and retried with its Idempotency-Key, token refreshes, a sync page and a
 * subscription event. It prints a table of requests and bytes per call on stderr and one JSON
 * line of what happened on stdout, for the test to check.
 *
 * Environment: EIC_URL, EIC_EMAIL, EIC_OTHER_EMAIL, EIC_MEMBER_EMAIL (an account with two
 * organisations), EIC_PASSWORD, EIC_EXPIRED_TOKEN (an access token of EIC_EMAIL's account that
 * has expired, minted by the test).
 */

import WebSocket from 'ws';

import { EICClient, EICError, Operations, type RequestRecord } from '../src/index.js';

function setting(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

interface Call {
  call: string;
  requests: number;
  messages: number;
  sentBytes: number;
  receivedBytes: number;
  wireBytes: number;
  operations: string[];
}

const calls: Call[] = [];
let current: Call | null = null;

function record(entry: RequestRecord): void {
  if (current === null) return;
  if (entry.transport === 'http') current.requests += 1;
  else current.messages += 1;
  current.sentBytes += entry.sentBytes;
  current.receivedBytes += entry.receivedBytes;
  current.wireBytes += entry.wireBytes ?? entry.receivedBytes;
  current.operations.push(
    entry.transport === 'http'
      ? `${entry.operation}:${entry.status ?? 'lost'}`
      : `ws:${entry.operation}${entry.sentBytes > 0 ? '>' : '<'}`,
  );
}

/** Runs one call of the app and keeps what it cost. */
async function measured<T>(call: string, work: () => Promise<T>): Promise<T> {
  current = {
    call,
    requests: 0,
    messages: 0,
    sentBytes: 0,
    receivedBytes: 0,
    wireBytes: 0,
    operations: [],
  };
  calls.push(current);
  try {
    return await work();
  } finally {
    current = null;
  }
}

/** fetch that, once armed, delivers the next keyed request and then loses its answer. */
class LosesAnAnswer {
  armed = false;
  readonly keys: string[] = [];
  readonly replayed: boolean[] = [];

  readonly fetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const key = new Headers(init?.headers).get('idempotency-key');
    if (this.armed && key !== null) {
      this.keys.push(key);
      this.replayed.push(response.headers.get('idempotent-replayed') === 'true');
      if (this.keys.length === 1) {
        await response.arrayBuffer(); // delivered and answered, then the tunnel
        throw new TypeError('fetch failed: the connection was lost');
      }
    }
    return response;
  };
}

async function main(): Promise<void> {
  const url = setting('EIC_URL');
  const password = setting('EIC_PASSWORD');
  const network = new LosesAnAnswer();
  const eic = new EICClient({
    url,
    fetch: network.fetch,
    webSocketImpl: WebSocket,
    backoffSeconds: 0.05,
    onRequest: record,
  });
  const outcome: Record<string, unknown> = {};

  const session = await measured('signIn', () => eic.signIn(setting('EIC_EMAIL'), password));
  outcome.role = session.role;

  const me = await measured('query Me', () => eic.run(Operations.Me, {}));
  outcome.organisation = me.me?.organisation?.name ?? null;

  const market = await measured('query MarketSearch (5)', () =>
    eic.run(Operations.MarketSearch, { first: 5, filter: { materialCode: 'wood-shavings' } }),
  );
  outcome.marketCount = market.listings.edges.length;

  const cursor = await measured('syncStart', () => eic.syncStart());

  // A thread the firm can read and answer: the first one with threads in its cluster's forums.
  const forums = await eic.run(Operations.Forums, {});
  const forum = forums.forums.edges.find((edge) => edge.node.threadCount > 0)?.node;
  if (forum === undefined) throw new Error('no forum with threads in the demo');
  const threads = await eic.run(Operations.ForumThreads, { forumId: forum.id });
  const thread = threads.threads.edges[0]?.node;
  if (thread === undefined) throw new Error('no thread');

  const live = eic.subscribe(Operations.ThreadPosts, { threadId: thread.id });
  const first = await measured('subscribe ThreadPosts (until SUBSCRIBED)', () => live.next());
  outcome.subscribed = first.done ? null : first.value.threadPosts.kind;
  const added = await measured('mutation PostCreate + its event', async () => {
    const posted = await eic.run(Operations.PostCreate, {
      input: { threadId: thread.id, body: 'Dry cedar shavings available from next week.' },
    });
    const event = await live.next();
    return { posted, event: event.done ? null : event.value.threadPosts };
  });
  outcome.postErrors = added.posted.postCreate.errors;
  outcome.event = {
    kind: added.event?.kind ?? null,
    samePost: added.event?.post?.id === added.posted.postCreate.post?.id,
  };
  await live.return(undefined);

  // A member of two organisations switches while subscribed: the socket reconnects as the
  // new organisation and subscribes again (a second SUBSCRIBED).
  const member = new EICClient({
    url,
    webSocketImpl: WebSocket,
    backoffSeconds: 0.05,
    onRequest: record,
  });
  await member.signIn(setting('EIC_MEMBER_EMAIL'), password);
  const memberMe = await member.run(Operations.Me, {});
  const current = memberMe.me?.organisation?.id;
  const second = memberMe.me?.memberships.find((m) => m.organisation.id !== current)?.organisation;
  if (second === undefined) throw new Error('EIC_MEMBER_EMAIL has one organisation');
  const feed = member.subscribe(Operations.ThreadPosts, { threadId: thread.id });
  await feed.next();
  const resubscribed = await measured('refresh(organisationId) while subscribed', async () => {
    await member.refresh(second.id);
    const again = await feed.next();
    return again.done ? null : again.value.threadPosts.kind;
  });
  outcome.switched = { to: second.name, resubscribed };
  await feed.return(undefined);
  await member.close();

  network.armed = true;
  const saved = await measured('mutation ListingSave (answer lost, retried)', () =>
    eic.run(Operations.ListingSave, {
      input: {
        kind: 'OFFER',
        category: 'BY_PRODUCT',
        title: 'Cedar shavings from the TypeScript client',
        materialCode: 'wood-shavings',
        quantity: '10',
        unit: 'TNE',
        pricePerUnit: '5000',
        location: { lat: 35.09, lon: 133.69, placeName: 'Katsuyama' },
        publish: true,
      },
    }),
  );
  network.armed = false;
  outcome.listing = {
    id: saved.listingCreate.listing?.id ?? null,
    errors: saved.listingCreate.errors,
    keys: network.keys.length,
    sameKey: network.keys.length === 2 && network.keys[0] === network.keys[1],
    replayed: network.replayed,
  };

  const before = eic.session?.accessToken;
  await measured('refresh (explicit)', () => eic.refresh());
  const [one, two] = await measured('refresh x2 at once (shared)', () =>
    Promise.all([eic.refresh(), eic.refresh()]),
  );
  outcome.refreshed = before !== eic.session?.accessToken && one === two;

  if (eic.session === null) throw new Error('signed out');
  eic.session.accessToken = setting('EIC_EXPIRED_TOKEN');
  const mine = await measured('query MyListings, token expired (refresh, retry)', () =>
    eic.run(Operations.MyListings, {}),
  );
  outcome.myListingsAfterExpiry = mine.myListings.totalCount;

  const listed = await measured('pages MyListings (every page of 20)', async () => {
    const ids: string[] = [];
    for await (const node of eic.pages(Operations.MyListings, {}, (data) => data.myListings)) {
      ids.push(node.id);
    }
    return ids;
  });
  outcome.pagedListings = { count: listed.length, distinct: new Set(listed).size };

  eic.session.expiresAt = new Date(Date.now() - 1000).toISOString();
  await measured('query Me, token about to expire (refresh first)', () =>
    eic.run(Operations.Me, {}),
  );

  const page = await measured('sync (one page)', () => eic.sync(cursor));
  outcome.sync = page.items.map((item) => `${item.type}:${item.action}:${item.id}`);

  const other = new EICClient({ url, onRequest: record });
  await other.signIn(setting('EIC_OTHER_EMAIL'), password);
  try {
    await measured('sync with another account cursor', () => other.sync(page.cursor));
    outcome.resync = null;
  } catch (error) {
    if (!(error instanceof EICError)) throw error;
    outcome.resync = error.codes;
  }

  // The session is revoked from another device while a subscription runs: the server closes
  // the socket (4403), the client's refresh is refused, and the subscription ends saying why.
  const watching = eic.subscribe(Operations.ThreadPosts, { threadId: thread.id });
  await watching.next();
  const elsewhere = new EICClient({ url });
  elsewhere.session = { ...eic.session };
  outcome.revoked = await measured('subscription, session revoked elsewhere', async () => {
    await elsewhere.signOut();
    try {
      const after = await watching.next();
      return { ended: after.done ?? false };
    } catch (error) {
      return { error: error instanceof EICError ? error.codes : String(error) };
    }
  });

  await eic.close();
  outcome.calls = calls;
  const table = calls.map(
    (c) =>
      `${c.call.padEnd(52)} ${String(c.requests).padStart(3)} req ${String(c.messages).padStart(2)} msg ` +
      `${String(c.sentBytes).padStart(6)} B sent ${String(c.receivedBytes).padStart(7)} B received ` +
      `${String(c.wireBytes).padStart(7)} B on the wire  ${c.operations.join(' ')}`,
  );
  process.stderr.write(`${table.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
