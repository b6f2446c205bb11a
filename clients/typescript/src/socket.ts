/** The WebSocket side: graphql-transport-ws close codes, and counting messages' bytes. */

// The server's refusal (a token expired, an access ended), and graphql-ws's own failure.
export const FORBIDDEN = 4403;
export const INTERNAL_CLIENT_ERROR = 4005;

export function closeCode(event: unknown): number | null {
  const code = (event as { code?: unknown } | null)?.code;
  return typeof event === 'object' && typeof code === 'number' ? code : null;
}

interface MinimalSocket {
  send(data: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/** The WebSocket class, counting the bytes of each message sent and received. */
export function metered(base: unknown, meter: (text: string, sent: boolean) => void): unknown {
  if (typeof base !== 'function') return base; // graphql-ws reports the missing WebSocket
  const Base = base as new (url: string, protocols?: string | string[]) => MinimalSocket;
  return class MeteredWebSocket extends Base {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;

    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', (event) => {
        if (typeof event.data === 'string') meter(event.data, false);
      });
    }

    override send(data: string): void {
      meter(data, true);
      super.send(data);
    }
  };
}
