/**
 * Loopback source addresses for load. Connects go round-robin over {@link ADDRESSES_IN_USE} addresses
 * per process, so that per-IP limits see many modest clients rather than one flood. One address gives
 * about 28k ephemeral ports towards one server port and closed sockets hold theirs in TIME_WAIT for a
 * minute, so after {@link SOCKETS_PER_ADDRESS} connects per address the process moves to fresh ones.
 * 127.0.0.1 is left to the server.
 */

/** Connects made from one source address before moving to the next block. */
export const SOCKETS_PER_ADDRESS = 20_000;

/** Addresses a process uses at once. */
export const ADDRESSES_IN_USE = 256;

/** Addresses reserved for each process, so that processes never share one. */
export const ADDRESSES_PER_PROCESS = 4_096;

/** The `n`-th loopback address from 127.0.0.2 upwards. */
export function loopbackAddress(n: number): string {
  const value = n + 2;
  return `127.${(value >> 16) & 255}.${(value >> 8) & 255}.${value & 255}`;
}

/** Hands out source addresses for one process. */
export class AddressPool {
  private connects = 0;

  constructor(private readonly processIndex: number) {}

  /** The address for the next connect. */
  next(): string {
    const n = this.connects++;
    const blocks = ADDRESSES_PER_PROCESS / ADDRESSES_IN_USE;
    const block = Math.floor(n / (SOCKETS_PER_ADDRESS * ADDRESSES_IN_USE)) % blocks;
    return loopbackAddress(
      this.processIndex * ADDRESSES_PER_PROCESS + block * ADDRESSES_IN_USE + (n % ADDRESSES_IN_USE),
    );
  }
}
