import { BlipConnection } from './connection.ts';
import type { BlipConnectionOptions } from './connection-options.ts';

/**
 * Two BlipConnections joined by an in-memory wire, for tests and in-process peers (the counterpart of
 * LiteCore's LoopbackProvider). Nothing happens by itself: pumps run and frames travel only when the
 * owner calls `runTasks`, `deliverToA`/`deliverToB` or `settle`, so tests are deterministic and can stop
 * the wire at any point (to watch flow control, or to tamper with frames).
 */

export type LoopbackSide = 'a' | 'b';
type SideOptions = Omit<BlipConnectionOptions, 'send' | 'schedule' | 'closeTransport'>;

export interface LoopbackOptions {
  a?: SideOptions;
  b?: SideOptions;
  /** Sees each frame as it is sent; returns the frame to deliver (possibly altered) or undefined to drop it. */
  tamper?(from: LoopbackSide, frame: Uint8Array): Uint8Array | undefined;
  /** Frames a side may have undelivered before its `send` returns false. Default: unlimited. */
  maxUndelivered?: number;
}

interface CloseMarker {
  code: number;
  reason: string;
}
type WireItem = Uint8Array | CloseMarker;

export class LoopbackPair {
  readonly a: BlipConnection;
  readonly b: BlipConnection;
  /** Every frame each side sent, in order (before tampering). */
  readonly sentByA: Uint8Array[] = [];
  readonly sentByB: Uint8Array[] = [];
  readonly #toA: WireItem[] = [];
  readonly #toB: WireItem[] = [];
  readonly #tasks: (() => void)[] = [];
  readonly #options: LoopbackOptions;
  readonly #limit: number;
  #blockedA = false;
  #blockedB = false;

  constructor(options: LoopbackOptions = {}) {
    this.#options = options;
    this.#limit = options.maxUndelivered ?? Number.POSITIVE_INFINITY;
    const schedule = (task: () => void): void => {
      this.#tasks.push(task);
    };
    this.a = new BlipConnection({
      ...options.a,
      schedule,
      send: (frame) => this.#send('a', frame),
      closeTransport: (code, reason) => this.#toB.push({ code, reason }),
    });
    this.b = new BlipConnection({
      ...options.b,
      schedule,
      send: (frame) => this.#send('b', frame),
      closeTransport: (code, reason) => this.#toA.push({ code, reason }),
    });
  }

  /** Frames waiting to be delivered to each side. */
  get undeliveredToA(): number {
    return this.#toA.length;
  }
  get undeliveredToB(): number {
    return this.#toB.length;
  }

  /** Runs scheduled pumps (and any they schedule); returns how many ran. */
  runTasks(): number {
    let ran = 0;
    while (this.#tasks.length > 0) {
      this.#tasks.shift()!();
      ran++;
    }
    return ran;
  }

  /** Delivers up to `count` waiting frames to A; returns how many. */
  deliverToA(count = Number.POSITIVE_INFINITY): number {
    return this.#deliver('a', count);
  }

  /** Delivers up to `count` waiting frames to B; returns how many. */
  deliverToB(count = Number.POSITIVE_INFINITY): number {
    return this.#deliver('b', count);
  }

  /**
   * Runs pumps and delivers frames both ways until nothing moves, yielding to the event loop between
   * rounds so asynchronous handlers can answer. Returns the number of rounds.
   */
  async settle(maxRounds = 1_000_000): Promise<number> {
    let idleRounds = 0;
    for (let round = 0; round < maxRounds; round++) {
      const moved = this.runTasks() + this.deliverToB() + this.deliverToA();
      if (moved > 0) {
        idleRounds = 0;
        continue;
      }
      if (++idleRounds > 2) return round;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    throw new Error(`loopback did not settle within ${maxRounds} rounds`);
  }

  #send(from: LoopbackSide, frame: Uint8Array): boolean {
    (from === 'a' ? this.sentByA : this.sentByB).push(frame);
    const wire = from === 'a' ? this.#toB : this.#toA;
    const delivered = this.#options.tamper ? this.#options.tamper(from, frame) : frame;
    if (delivered !== undefined) wire.push(delivered);
    const full = wire.length >= this.#limit;
    if (full) {
      if (from === 'a') this.#blockedA = true;
      else this.#blockedB = true;
    }
    return !full;
  }

  #deliver(to: LoopbackSide, count: number): number {
    const wire = to === 'a' ? this.#toA : this.#toB;
    const receiver = to === 'a' ? this.a : this.b;
    const sender = to === 'a' ? this.b : this.a;
    // Take the batch first: delivering may make the receiver send, which appends to the other wire.
    const batch = wire.splice(0, Math.min(count, wire.length));
    for (const item of batch) {
      if (item instanceof Uint8Array) {
        receiver.receive(item);
      } else {
        receiver.transportClosed(item.code, item.reason);
        sender.transportClosed(item.code, item.reason);
      }
    }
    const n = batch.length;
    const blocked = to === 'a' ? this.#blockedB : this.#blockedA;
    if (blocked && wire.length < this.#limit) {
      if (to === 'a') this.#blockedB = false;
      else this.#blockedA = false;
      sender.resumeWriting();
    }
    return n;
  }
}
