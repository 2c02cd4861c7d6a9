/**
 * sockwarden: a WebSocket session gateway for Node.js that cannot leak.
 * This is the public API of the library; `sockwarden serve` is built on the same pieces.
 */
export type { CoreConfig, PerUserPolicy } from './core/config.js';
export type {
  Engine,
  EngineFactory,
  EngineHost,
  RemoteOperation,
  SlotDecision,
  SlotLease,
  SlotLimits,
  SlotRefusal,
  SlotRequest,
} from './core/engine.js';
export type { Target } from './core/hub.js';
export type { ResourceKind, Scope } from './core/scope.js';
export type { MessageContext, MessageHandler, Session } from './core/session.js';
export type { ClaimedSession, SessionStore } from './core/session-store.js';
export type { GatewayStats } from './core/stats.js';
export type { PressureLevel } from './core/telemetry.js';
export type { Principal } from './core/ticket.js';
export type { Clock } from './core/timer-wheel.js';
export type { UpstreamAttempt, UpstreamCall } from './core/upstream.js';
export { memoryEngine } from './engines/memory.js';
export { DEFAULT_LEASE_TTL_MS, type RedisEngineOptions, redisEngine } from './engines/redis.js';
export { ERROR_CODES, type ErrorCode, SockwardenError } from './errors.js';
export {
  createGateway,
  type Gateway,
  type GatewayFigures,
  type GatewayOptions,
  type SessionInfo,
} from './gateway.js';
export type { CircuitStateName } from './governor/breaker.js';
export { Governor, type GovernorConfig, UpstreamError, type UpstreamStats } from './governor/governor.js';
export {
  type AdmissionMessage,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  DIAGNOSTICS_CHANNELS,
} from './observability/diagnostics.js';
export type { GatewayTotals } from './observability/metrics.js';
export type {
  CloseRange,
  StatsLatest,
  StatsPoint,
  StatsSample,
} from './observability/stats-history.js';
export { DEFAULTS, resolveOptions, type TunableOptions } from './options.js';
export { CloseCode, isReconnectable, SUBPROTOCOL } from './protocol.js';
export { parseRetryAfter } from './retry-after.js';
export { attachBackendBridge, type BackendBridgeOptions } from './server/backend-bridge.js';
export { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER, verifyBody } from './server/backend-signature.js';
export type { Authenticator, UpgradeRequest } from './transports/ws.js';
