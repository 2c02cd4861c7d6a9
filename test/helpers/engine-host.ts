/**
 * An engine host for tests that build an engine without a gateway: plain timers stand in for the
 * gateway's timer wheel, and every callback does nothing unless a test overrides it.
 */
import type { EngineHost } from '../../src/core/engine.js';

/** A host with plain timers and no-op callbacks, `overrides` applied on top. */
export function testEngineHost(overrides: Partial<EngineHost> = {}): EngineHost {
  return {
    schedule(delayMs, task) {
      const timer = setTimeout(task, delayMs);
      return {
        cancel() {
          clearTimeout(timer);
          return true;
        },
      };
    },
    failure: () => {},
    degradedChanged: () => {},
    deliver: () => {},
    handOver: () => ({ held: false, attached: false }),
    dropDetached: () => {},
    replay: { resumeWindowMs: 30_000, maxMessages: 100, maxBytes: 1_048_576 },
    ...overrides,
  };
}
