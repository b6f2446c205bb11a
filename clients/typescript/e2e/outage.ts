/**
 * The client's retries against a real outage (tests/clients/test_typescript.py runs it): the
 * first requests go to a server whose database cannot be opened (EIC_DOWN_URL), the rest to a
 * working one (EIC_URL). Prints one JSON line: what each request got and the waits the client
 * chose (its sleep is recorded, not slept).
 *
 * Environment: EIC_URL, EIC_DOWN_URL.
 */

import { EICClient, EICError, Operations, type RequestRecord } from '../src/index.js';

function setting(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

/** Sends the next `down` requests to the server that is down, the rest to the working one. */
class Outage {
  down = 0;

  constructor(
    private readonly up: string,
    private readonly broken: string,
  ) {}

  readonly fetch: typeof fetch = async (input, init) => {
    const url = String(input);
    const target = this.down > 0 ? this.broken + url.slice(this.up.length) : url;
    this.down -= 1;
    return fetch(target, init);
  };
}

async function main(): Promise<void> {
  const up = setting('EIC_URL');
  const outage = new Outage(up, setting('EIC_DOWN_URL'));
  const answers: string[] = [];
  const waits: number[] = [];
  const eic = new EICClient({
    url: up,
    fetch: outage.fetch,
    sleep: async (seconds) => {
      waits.push(seconds);
    },
    onRequest: (record: RequestRecord) => answers.push(`${record.operation}:${record.status}`),
  });
  const outcome: Record<string, unknown> = {};

  // A query: SERVICE_UNAVAILABLE inside GraphQL (HTTP 200), twice, then answered.
  outage.down = 2;
  const clusters = await eic.run(Operations.Clusters, {}, { authenticated: false });
  outcome.query = { answers: answers.splice(0), waits: waits.splice(0) };
  outcome.clusters = clusters.clusters.totalCount;

  // A keyed mutation: HTTP 503 (the key is looked up before GraphQL runs), once; then the
  // working server's answer (an unknown account: a payload error, which is data).
  outage.down = 1;
  const signIn = await eic.run(
    Operations.SignIn,
    { email: 'nobody@eic.example', password: 'not-a-password' },
    { authenticated: false },
  );
  outcome.mutation = { answers: answers.splice(0), waits: waits.splice(0) };
  outcome.signInErrors = signIn.tokenCreate.errors.map((error) => error.code);

  // Down for longer than the client's patience: it gives up after `retries` (4) retries.
  outage.down = 100;
  try {
    await eic.run(Operations.Clusters, {}, { authenticated: false });
    outcome.gaveUp = null;
  } catch (error) {
    if (!(error instanceof EICError)) throw error;
    outcome.gaveUp = { codes: error.codes, answers: answers.splice(0), waits: waits.splice(0) };
  }

  process.stdout.write(`${JSON.stringify(outcome)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
