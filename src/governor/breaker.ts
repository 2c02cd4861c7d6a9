/**
 * The circuit breaker of one upstream, on cockatiel. It opens after N consecutive failures or when
 * the failure ratio over a sliding window passes a threshold; while open it fails fast and says how
 * long until half-open; half-open lets one probe through, and its outcome closes or reopens it.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type IBreaker,
  SamplingBreaker,
} from 'cockatiel';

/** Breaker settings of an upstream. */
export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  consecutiveFailures: number;
  /** Failure ratio (0 to 1) over `windowMs` that opens the circuit. */
  failureRatio: number;
  windowMs: number;
  /** Calls in the window below which the ratio is not trusted. */
  minimumRequests: number;
  /** How long the circuit stays open before one probe is let through. */
  halfOpenAfterMs: number;
}

/** `closed`, `open` or `half-open`: the figure on `/api/stats` and the dashboard. */
export type CircuitStateName = 'closed' | 'open' | 'half-open';

/** Opens when any of its breakers says so; both always see every outcome. */
class EitherBreaker implements IBreaker {
  constructor(private readonly breakers: IBreaker[]) {}

  get state(): unknown {
    return this.breakers.map((b) => b.state);
  }

  set state(value: unknown) {
    (value as unknown[]).forEach((inner, i) => {
      (this.breakers[i] as IBreaker).state = inner;
    });
  }

  success(state: CircuitState): void {
    for (const breaker of this.breakers) breaker.success(state);
  }

  failure(state: CircuitState): boolean {
    let open = false;
    for (const breaker of this.breakers) open = breaker.failure(state) || open;
    return open;
  }
}

/** Thrown by {@link UpstreamBreaker.execute} while the circuit is open. */
export class CircuitOpenError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`the upstream circuit is open; the next probe in ${retryAfterMs} ms`);
    this.name = 'CircuitOpenError';
  }
}

/** See the module comment. */
export class UpstreamBreaker {
  private readonly policy;
  private openedAt = 0;

  /** `isFailure` decides which errors count against the upstream (a cancelled caller does not). */
  constructor(
    private readonly options: BreakerOptions,
    isFailure: (error: Error) => boolean,
  ) {
    const minimumRps = options.minimumRequests / (options.windowMs / 1000);
    // A half-open probe that ends in anything but success (a refused request, a cancelled caller, a
    // throttle) says nothing about recovery; cockatiel would take an error it does not handle for
    // a success and close the circuit for everyone, so while half-open every error fails the probe.
    const failsProbe = (error: Error) => isFailure(error) || this.policy.state === CircuitState.HalfOpen;
    this.policy = circuitBreaker(handleWhen(failsProbe), {
      halfOpenAfter: options.halfOpenAfterMs,
      breaker: new EitherBreaker([
        new ConsecutiveBreaker(options.consecutiveFailures),
        new SamplingBreaker({ threshold: options.failureRatio, duration: options.windowMs, minimumRps }),
      ]),
    });
    this.policy.onBreak(() => {
      this.openedAt = Date.now();
    });
  }

  /** The circuit's state now. An open circuit whose wait is over reads as half-open: the next call probes. */
  get state(): CircuitStateName {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return this.msUntilHalfOpen() === 0 ? 'half-open' : 'open';
    }
  }

  /** Milliseconds until the open circuit lets a probe through; 0 when not open. */
  msUntilHalfOpen(): number {
    if (this.policy.state !== CircuitState.Open) return 0;
    return Math.max(0, this.openedAt + this.options.halfOpenAfterMs - Date.now());
  }

  /** Calls state changes with the new state's name. */
  onStateChange(listener: (state: CircuitStateName) => void): void {
    this.policy.onStateChange(() => listener(this.state));
  }

  /** Runs `fn` through the breaker; throws {@link CircuitOpenError} while open. */
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(fn);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new CircuitOpenError(this.msUntilHalfOpen());
      throw error;
    }
  }
}
