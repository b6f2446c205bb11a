export * from './client.js';
export type { OperationKind, PersistedOperation } from './persisted.js';
export * as Operations from './generated/operations.js';
export type * from './generated/graphql.js';
