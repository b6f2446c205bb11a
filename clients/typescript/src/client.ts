/**
 * A small typed client of the EIC API, as the mobile apps use it (the TypeScript twin of
 * clients/python/eic_client).
 *
 * - Operations by id: each operation of clients/operations is a generated constant carrying its
 *   id in the manifest (`Operations.MarketSearch`), sent as `{"id": ..., "variables": ...}`, the
 *   way servers with EIC_TRUSTED_OPERATIONS_ONLY require. Results and variables are typed.
 * - Sessions: `signIn` keeps the access and refresh tokens. A token about to expire is refreshed
 *   before the request; an answer saying TOKEN_EXPIRED refreshes once and sends the request
 *   again. Refreshes running at once share one `tokenRefresh`: refresh tokens rotate, and the
 *   server takes a second use of the same one for theft and ends the session.
 * - Safe retries: every mutation carries a fresh Idempotency-Key, kept for its retries. A request
 *   is sent again on exactly these: a network error, an outage (the GraphQL error
 *   SERVICE_UNAVAILABLE, or HTTP 503) and a 409 IDEMPOTENCY_KEY_IN_USE, after the wait the server
 *   asked for and at least an exponential back-off. Anything else is an answer.
 * - Pages (`pages`) and the offline sync feed (`syncStart`, `sync`), like the Python SDK.
 * - Subscriptions over graphql-transport-ws (graphql-ws), authenticated in connection_init.
 */

import { createClient, type Client as SocketClient, type SubscribePayload } from 'graphql-ws';

import type { ChangeType, Role, SessionFragment, SyncChangesQuery } from './generated/graphql.js';
import * as Operations from './generated/operations.js';
import type { PersistedOperation } from './persisted.js';
import {
  type Answer,
  byteLength,
  EICError,
  type GraphQLErrorEntry,
  HTTPError,
  parseAnswer,
  retryAfter,
  tokenExpired,
} from './answers.js';
import { closeCode, FORBIDDEN, INTERNAL_CLIENT_ERROR, metered } from './socket.js';

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ISO 8601), so it can be refreshed before. */
  expiresAt: string | null;
  organisationId: string | null;
  role: Role;
}

/** What one request or WebSocket message cost: for counting requests and bytes per call. */
export interface RequestRecord {
  /** The operation's name, or `connection` for the WebSocket's own messages. */
  operation: string;
  transport: 'http' | 'ws';
  /** HTTP: 0 for the first attempt, then 1, 2 ... WebSocket: always 0. */
  attempt: number;
  /** HTTP status; null for a network error or a WebSocket message. */
  status: number | null;
  /** Bytes of the request body (HTTP) or of a message sent (WebSocket). */
  sentBytes: number;
  /** Bytes of the answer's body as read (after decompression), or of a message received. */
  receivedBytes: number;
  /** The answer's Content-Length as it travelled (compressed, when it was), when given. */
  wireBytes: number | null;
}

export interface RunOptions {
  /** Send the access token (default true); false for sign-in and public screens. */
  authenticated?: boolean;
  /** The mutation's key, for a retry the app makes itself after a restart. */
  idempotencyKey?: string;
}

export interface EICClientOptions {
  /** The server's base URL, such as `http://127.0.0.1:8000` (GraphQL is at /graphql). */
  url: string;
  fetch?: typeof fetch;
  /** A WebSocket class where there is no global one (Node 20: the `ws` package). */
  webSocketImpl?: unknown;
  retries?: number;
  backoffSeconds?: number;
  maxWaitSeconds?: number;
  sleep?: (seconds: number) => Promise<void>;
  /** A new Idempotency-Key (default: a random UUID). */
  newKey?: () => string;
  /** Refresh the access token this long before it expires (default 30 s). */
  refreshLeewaySeconds?: number;
  /** Send subscriptions by id only (default): EIC takes ids over WebSocket too. False sends
   * the document text as well, for a server that does not. */
  subscriptionsById?: boolean;
  /** Told about every request and WebSocket message (for measuring). */
  onRequest?: (record: RequestRecord) => void;
  /** Milliseconds since the epoch (default Date.now), for tests that steer time. */
  now?: () => number;
}

/** The connection a `pages` picker returns. */
export interface Connection<TNode> {
  edges: ReadonlyArray<{ node: TNode }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export type SyncItem = SyncChangesQuery['changes']['items'][number];

export class EICClient {
  session: Session | null = null;
  readonly endpoint: string;
  private readonly fetch: typeof fetch;
  private readonly retries: number;
  private readonly backoffSeconds: number;
  private readonly maxWaitSeconds: number;
  private readonly sleep: (seconds: number) => Promise<void>;
  private readonly newKey: () => string;
  private readonly leewayMs: number;
  private readonly subscriptionsById: boolean;
  private readonly onRequest: (record: RequestRecord) => void;
  private readonly now: () => number;
  private readonly webSocketImpl: unknown;
  private refreshing: Promise<Session> | null = null;
  private socket: SocketClient | null = null;
  private socketRefusal: unknown = null;

  constructor(options: EICClientOptions) {
    this.endpoint = `${options.url.replace(/\/+$/, '')}/graphql`;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.retries = options.retries ?? 4;
    this.backoffSeconds = options.backoffSeconds ?? 0.5;
    this.maxWaitSeconds = options.maxWaitSeconds ?? 30;
    this.sleep =
      options.sleep ?? ((seconds) => new Promise((done) => setTimeout(done, seconds * 1000)));
    this.newKey = options.newKey ?? (() => globalThis.crypto.randomUUID());
    this.leewayMs = (options.refreshLeewaySeconds ?? 30) * 1000;
    this.subscriptionsById = options.subscriptionsById ?? true;
    this.onRequest = options.onRequest ?? (() => undefined);
    this.now = options.now ?? Date.now;
    this.webSocketImpl = options.webSocketImpl;
  }

  /** Ends the WebSocket connection, if one is open. */
  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    await socket?.dispose();
  }

  // ---------------------------------------------------------------------------------------
  // Sessions

  async signIn(email: string, password: string, organisationId?: string): Promise<Session> {
    const data = await this.run(
      Operations.SignIn,
      { email, password, organisationId: organisationId ?? null },
      { authenticated: false },
    );
    return this.keepAndReconnect(data.tokenCreate);
  }

  /**
   * A fresh access token; with `organisationId`, act for another organisation from now on.
   * Calls made while a refresh runs share it.
   */
  async refresh(organisationId?: string): Promise<Session> {
    while (this.refreshing !== null) {
      const running = this.refreshing;
      const session = await running.catch(() => null);
      if (organisationId === undefined && session !== null) return session;
    }
    const session = this.session;
    if (session === null) throw new Error('sign in first');
    const refreshing = this.run(
      Operations.RefreshSession,
      {
        refreshToken: session.refreshToken,
        organisationId: organisationId ?? session.organisationId,
      },
      { authenticated: false },
    ).then((data) =>
      organisationId === undefined || organisationId === session.organisationId
        ? this.keep(data.tokenRefresh)
        : this.keepAndReconnect(data.tokenRefresh),
    );
    this.refreshing = refreshing;
    try {
      return await refreshing;
    } finally {
      this.refreshing = null;
    }
  }

  /** Revokes the session's refresh token and forgets the session. */
  async signOut(): Promise<void> {
    const session = this.session;
    if (session === null) return;
    await this.run(Operations.SignOut, { refreshToken: session.refreshToken });
    this.session = null;
    await this.close();
  }

  /** Keeps a session of another person or organisation: open subscriptions reconnect (and
   * subscribe again) as them, since the server reads the viewer at connection_init only. */
  private keepAndReconnect(payload: SessionFragment): Session {
    const session = this.keep(payload);
    this.socket?.terminate();
    return session;
  }

  private keep(payload: SessionFragment): Session {
    if (payload.errors.length > 0) {
      throw new EICError(
        payload.errors.map(({ message, code }) => ({ message, extensions: { code } })),
      );
    }
    if (payload.accessToken === null || payload.refreshToken === null || payload.role === null) {
      throw new Error('the server answered a session without tokens');
    }
    this.session = {
      accessToken: payload.accessToken,
      refreshToken: payload.refreshToken,
      expiresAt: payload.expiresAt,
      organisationId: payload.organisationId,
      role: payload.role,
    };
    return this.session;
  }

  /** Refreshes the session first when its access token is about to expire. */
  private async freshSession(): Promise<Session | null> {
    const session = this.session;
    if (session?.expiresAt != null && Date.parse(session.expiresAt) - this.now() < this.leewayMs) {
      return this.refresh();
    }
    return session;
  }

  // ---------------------------------------------------------------------------------------
  // Operations

  /**
   * Runs a query or mutation by its id and returns `data`. Payload errors
   * (`errors { code message field }`) are data; GraphQL errors without data raise EICError.
   */
  async run<TData, TVariables>(
    operation: PersistedOperation<TData, TVariables>,
    variables: TVariables,
    options: RunOptions = {},
  ): Promise<TData> {
    if (operation.kind === 'subscription') {
      throw new Error(`${operation.name} is a subscription: use subscribe()`);
    }
    const authenticated = options.authenticated ?? true;
    const body = JSON.stringify({ id: operation.id, variables });
    // One key for every attempt, the retry after a refresh included: the work is done once.
    const key =
      operation.kind === 'mutation' ? (options.idempotencyKey ?? this.newKey()) : undefined;
    let refreshed = false;
    for (;;) {
      const session = authenticated ? await this.freshSession() : null;
      const answer = await this.send(operation.name, body, key, session);
      if (session !== null && !refreshed && tokenExpired(answer)) {
        await this.refresh();
        refreshed = true;
        continue;
      }
      if (answer.errors?.length && answer.data == null) throw new EICError(answer.errors);
      return (answer.data ?? {}) as TData;
    }
  }

  private async send(
    name: string,
    body: string,
    key: string | undefined,
    session: Session | null,
  ): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (session !== null) headers.authorization = `Bearer ${session.accessToken}`;
    if (key !== undefined) headers['idempotency-key'] = key;
    const sentBytes = byteLength(body);
    for (let attempt = 0; ; attempt++) {
      let asked: number;
      try {
        const response = await this.fetch(this.endpoint, { method: 'POST', headers, body });
        const text = await response.text();
        const length = response.headers.get('content-length');
        this.onRequest({
          operation: name,
          transport: 'http',
          attempt,
          status: response.status,
          sentBytes,
          receivedBytes: byteLength(text),
          wireBytes: length === null ? null : Number(length),
        });
        const answer = parseAnswer(response, text);
        const wait = retryAfter(response, answer);
        if (wait === null || attempt >= this.retries) {
          if (answer === null) throw new HTTPError(response.status, text);
          return answer;
        }
        asked = wait;
      } catch (error) {
        // fetch rejects with a TypeError when the network failed; anything else is ours
        if (!(error instanceof TypeError) || attempt >= this.retries) throw error;
        this.onRequest({
          operation: name,
          transport: 'http',
          attempt,
          status: null,
          sentBytes,
          receivedBytes: 0,
          wireBytes: null,
        });
        asked = 0;
      }
      const backoff = this.backoffSeconds * 2 ** attempt;
      await this.sleep(Math.min(Math.max(asked, backoff), this.maxWaitSeconds));
    }
  }

  /**
   * Every node of a connection, page after page. `connection` picks it out of the data, such
   * as `(data) => data.myListings`.
   */
  async *pages<TData, TVariables extends { after?: string | null }, TNode>(
    operation: PersistedOperation<TData, TVariables>,
    variables: TVariables,
    connection: (data: TData) => Connection<TNode>,
  ): AsyncGenerator<TNode> {
    let after: string | null = null;
    for (;;) {
      const data: TData = await this.run(operation, { ...variables, after });
      const page = connection(data);
      for (const edge of page.edges) yield edge.node;
      if (!page.pageInfo.hasNextPage) return;
      after = page.pageInfo.endCursor;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Offline sync

  /** A first sync's cursor: take it before loading the offline copy. */
  async syncStart(): Promise<string> {
    const data = await this.run(Operations.SyncStart, {});
    return data.changes.cursor;
  }

  /**
   * Every change after `since` (all pages) and the cursor to keep for next time. Throws
   * EICError with the code RESYNC_REQUIRED when the copy must be loaded again.
   */
  async sync(
    since: string,
    options: { types?: ChangeType[]; pageSize?: number } = {},
  ): Promise<{ items: SyncItem[]; cursor: string }> {
    const items: SyncItem[] = [];
    let cursor = since;
    for (;;) {
      const data = await this.run(Operations.SyncChanges, {
        since: cursor,
        types: options.types ?? null,
        first: options.pageSize ?? 100,
      });
      items.push(...data.changes.items);
      cursor = data.changes.cursor;
      if (!data.changes.hasMore) return { items, cursor };
    }
  }

  // ---------------------------------------------------------------------------------------
  // Subscriptions

  /**
   * The events of a subscription, until the loop stops (`break`) or the server completes it.
   * GraphQL errors end it with an EICError. The connection signs in with the session's access
   * token (refreshed first when it is about to expire); the server closes it with 4403 when the
   * token expires, and it reconnects with a fresh one.
   */
  async *subscribe<TData, TVariables>(
    operation: PersistedOperation<TData, TVariables>,
    variables: TVariables,
  ): AsyncGenerator<TData> {
    if (operation.kind !== 'subscription') {
      throw new Error(`${operation.name} is a ${operation.kind}: use run()`);
    }
    const payload: SubscribePayload = {
      operationName: operation.name,
      query: this.subscriptionsById ? '' : (operation.document ?? ''),
      variables: variables as Record<string, unknown>,
      extensions: { persistedQuery: { version: 1, sha256Hash: operation.id } },
    };
    const events = this.socketClient().iterate(payload);
    try {
      for await (const event of events) {
        if (event.errors?.length) throw new EICError(event.errors as GraphQLErrorEntry[]);
        yield event.data as TData;
      }
    } catch (error) {
      // graphql-ws ends a subscription whose connection_init could not be made (the session
      // could not be refreshed) with a bare close event (4005): say why instead.
      const refusal = this.socketRefusal;
      if (closeCode(error) === INTERNAL_CLIENT_ERROR && refusal !== null) throw refusal;
      throw error;
    } finally {
      await events.return?.(undefined);
    }
  }

  private socketClient(): SocketClient {
    if (this.socket !== null) return this.socket;
    const url = this.endpoint.replace(/^http/, 'ws');
    const names = new Map<string, string>();
    const meter = (text: string, sent: boolean): void => {
      let operation = 'connection';
      try {
        const message = JSON.parse(text) as { id?: string; payload?: { operationName?: string } };
        if (message.id !== undefined) {
          if (sent && message.payload?.operationName) {
            names.set(message.id, message.payload.operationName);
          }
          operation = names.get(message.id) ?? operation;
        }
      } catch {
        // not JSON: counted as the connection's
      }
      const bytes = byteLength(text);
      this.onRequest({
        operation,
        transport: 'ws',
        attempt: 0,
        status: null,
        sentBytes: sent ? bytes : 0,
        receivedBytes: sent ? 0 : bytes,
        wireBytes: null,
      });
    };
    // The server closes with 4403 when the access token expires or the access it carried
    // ended (a sign-out elsewhere, a removal): the next connection_init refreshes first, and a
    // session that cannot be refreshed ends the subscriptions with the refresh's error.
    let refreshFirst = false;
    this.socket = createClient({
      url,
      webSocketImpl: metered(this.webSocketImpl ?? globalThis.WebSocket, meter),
      lazy: true,
      on: {
        closed: (event) => {
          if (closeCode(event) === FORBIDDEN) refreshFirst = this.session !== null;
        },
      },
      connectionParams: async () => {
        try {
          const session = refreshFirst ? await this.refresh() : await this.freshSession();
          refreshFirst = false;
          this.socketRefusal = null;
          return session === null ? {} : { authorization: `Bearer ${session.accessToken}` };
        } catch (error) {
          this.socketRefusal = error;
          throw error;
        }
      },
      // The client's own back-off, with jitter: after a restart, the apps do not all come back
      // at the same moment.
      retryWait: (retries) =>
        this.sleep(
          Math.min(this.backoffSeconds * 2 ** retries * (0.5 + Math.random()), this.maxWaitSeconds),
        ),
    });
    return this.socket;
  }
}
