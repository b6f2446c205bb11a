/** The server's answers over HTTP: GraphQL errors, and which answers are worth a retry. */

export const UNAVAILABLE = 'SERVICE_UNAVAILABLE';
export const TOKEN_EXPIRED = 'TOKEN_EXPIRED';
export const RESYNC_REQUIRED = 'RESYNC_REQUIRED';

/** One GraphQL error of an answer (not a payload error, which is data). */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; retryAfter?: number; [key: string]: unknown };
}

export interface Answer {
  data?: Record<string, unknown> | null;
  errors?: GraphQLErrorEntry[];
}

/** The server answered with GraphQL errors and no data. */
export class EICError extends Error {
  readonly errors: GraphQLErrorEntry[];

  constructor(errors: GraphQLErrorEntry[]) {
    super(errors.map((error) => error.message).join('; '));
    this.name = 'EICError';
    this.errors = errors;
  }

  /** Each error's `extensions.code`, such as UNAUTHENTICATED or RESYNC_REQUIRED. */
  get codes(): Array<string | undefined> {
    return this.errors.map((error) => error.extensions?.code);
  }
}

/** An HTTP error that carried no GraphQL answer (a proxy's 502, say). */
export class HTTPError extends Error {
  readonly status: number;

  constructor(status: number, body: string) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = 'HTTPError';
    this.status = status;
  }
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a text (a request body, a message). */
export const byteLength = (text: string): number => encoder.encode(text).byteLength;

/** The GraphQL answer in a response, or null when it has none. */
export function parseAnswer(response: Response, text: string): Answer | null {
  if (!(response.headers.get('content-type') ?? '').startsWith('application/json')) return null;
  try {
    const answer: unknown = JSON.parse(text);
    return typeof answer === 'object' && answer !== null && !Array.isArray(answer)
      ? (answer as Answer)
      : null;
  } catch {
    return null;
  }
}

/**
 * Seconds the server asked to wait before the same request is sent again (0 when it did not
 * say); null when this answer is not to be retried.
 */
export function retryAfter(response: Response, answer: Answer | null): number | null {
  const codes = (answer?.errors ?? []).map((error) => error.extensions ?? {});
  if (response.status === 503) {
    const header = response.headers.get('retry-after') ?? '';
    return /^\d+$/.test(header) ? Number(header) : 0;
  }
  if (response.status === 409) {
    return codes.some((extensions) => extensions.code === 'IDEMPOTENCY_KEY_IN_USE') ? 0 : null;
  }
  if (response.status === 200) {
    const waits = codes
      .filter((extensions) => extensions.code === UNAVAILABLE)
      .map((extensions) => (typeof extensions.retryAfter === 'number' ? extensions.retryAfter : 0));
    if (waits.length > 0) return Math.max(...waits);
  }
  return null;
}

export function tokenExpired(answer: Answer): boolean {
  if ((answer.errors ?? []).some((error) => error.extensions?.code === TOKEN_EXPIRED)) return true;
  return Object.values(answer.data ?? {}).some((payload) => {
    const errors = (payload as { errors?: unknown } | null)?.errors;
    return (
      Array.isArray(errors) &&
      errors.some((error) => (error as { code?: unknown } | null)?.code === TOKEN_EXPIRED)
    );
  });
}
