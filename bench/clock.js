// Wall-clock milliseconds with the resolution of `performance.now()`. Comparable across the
// processes of one machine, so a load process can time what a server process stamped.

/** Now, in milliseconds since the epoch, with sub-millisecond resolution. */
export const now = () => performance.timeOrigin + performance.now();
