// Public API of the collab client: the Yjs provider and what it is made of
// (protocol codec, batching, splitting, stores, items, auth). See README.md.

export {
  CollabProvider,
  type CollabProviderOptions,
  type ConnectionState,
  type ProviderError,
  type ProviderEvents,
  type ProviderStatus,
} from './provider.js';
export { login, LoginError, type LoginOptions, type LoginResult, tokenExpiry } from './auth.js';
export {
  UpdateBatcher,
  changedCharacters,
  type BatchOptions,
  type FlushReason,
} from './batcher.js';
export { splitUpdate, UpdateTooLargeError } from './split.js';
export { MemoryOpStore, type OpStore, type StoredOp, type OpKind } from './store.js';
export {
  parseItemState,
  clockForResolve,
  clockForWrite,
  type ItemState,
  type ItemVersion,
  MAX_ITEM_VALUE_BYTES,
} from './items.js';
export {
  clockDominates,
  clockFromJson,
  clockGet,
  clockMerge,
  clockToJson,
  type VectorClock,
} from './vclock.js';
export {
  MessageType,
  ProtocolError,
  decodeBroadcasterMessage,
  decodeIngestMessage,
  encodeClientMessage,
  isValidOpId,
  type BroadcasterMessage,
  type ClientMessage,
  type IngestMessage,
} from './protocol.js';
export {
  backoffDelay,
  type BackoffOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.js';
export { systemTimers, type Timers, type TimerHandle } from './timers.js';
