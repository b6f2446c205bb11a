/** An operation of clients/operations, as the client sends it: by its id in the manifest. */
export type OperationKind = 'query' | 'mutation' | 'subscription';

export interface PersistedOperation<TData, TVariables> {
  /** The SHA-256 of the document in clients/operations/manifest.json. */
  readonly id: string;
  /** The operation's name in clients/operations, such as `MarketSearch`. */
  readonly name: string;
  readonly kind: OperationKind;
  /** The document's text, for subscriptions only: the WebSocket endpoint takes documents. */
  readonly document?: string;
  /** Never set: carries the result and variables types to `run` and `subscribe`. */
  readonly __types?: (variables: TVariables) => TData;
}
