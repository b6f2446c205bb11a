export * from './client.js';
export {
  EICError,
  type GraphQLErrorEntry,
  HTTPError,
  RESYNC_REQUIRED,
  TOKEN_EXPIRED,
  UNAVAILABLE,
} from './answers.js';
export type { OperationKind, PersistedOperation } from './persisted.js';
export * as Operations from './generated/operations.js';
export type * from './generated/graphql.js';
