/**
 * A minimal typed event emitter that runs in browsers and Node alike. Listener errors are caught
 * and reported through `onListenerError`, so one faulty application callback cannot break the
 * client's own state machine halfway through a transition.
 */

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

/** A typed emitter over an event map `{ name: payload }`. */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): Unsubscribe {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with {@link on}. */
  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    const set = this.listeners.get(event);
    set?.delete(listener as (payload: never) => void);
    if (set?.size === 0) this.listeners.delete(event);
  }

  /** Calls every listener of `event` in the order they were added. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** Number of listeners across all events; 0 after {@link clear}. */
  get size(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /** Removes every listener. */
  clear(): void {
    this.listeners.clear();
  }
}
