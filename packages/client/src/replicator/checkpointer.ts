import type { BlipConnection } from '@syncline/protocol';
import type { JsonObject, LocalStore } from '../store/local-store.ts';
import { ReplicationError } from './errors.ts';

/** What a checkpoint records: the local sequence pushed up to and the remote `since` pulled up to. */
export interface Checkpoint {
  local: number;
  remote: unknown;
}

const EMPTY: Checkpoint = { local: 0, remote: null };

function parse(value: unknown): Checkpoint {
  if (typeof value !== 'object' || value === null) return { ...EMPTY };
  const v = value as JsonObject;
  return { local: typeof v.local === 'number' ? v.local : 0, remote: v.remote ?? null };
}

const sameRemote = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Reads and saves the replication checkpoint on both sides, as LiteCore's Checkpointer: a local copy in the
 * store and the peer's copy through `getCheckpoint`/`setCheckpoint` (with the peer's `rev`). When the two
 * disagree the remote position is dropped (pull starts over) and the smaller local sequence is kept.
 */
export class Checkpointer {
  readonly #store: LocalStore;
  readonly #id: string;
  #remoteRev: string | undefined;
  #current: Checkpoint = { ...EMPTY };
  #saved = JSON.stringify(EMPTY);

  constructor(store: LocalStore, id: string) {
    this.#store = store;
    this.#id = id;
  }

  get id(): string {
    return this.#id;
  }

  get checkpoint(): Readonly<Checkpoint> {
    return this.#current;
  }

  async read(connection: BlipConnection): Promise<Checkpoint> {
    const localRecord = await this.#store.getLocalRecord(this.#localKey());
    const local = localRecord ? parse(localRecord) : undefined;
    const reply = await connection.sendRequest({ profile: 'getCheckpoint', properties: { client: this.#id } });
    let remote: Checkpoint | undefined;
    if (reply.error) {
      if (reply.error.code !== 404) throw new ReplicationError(reply.error.code, `getCheckpoint failed: ${reply.error.message}`);
      this.#remoteRev = undefined;
    } else {
      this.#remoteRev = reply.property('rev');
      remote = parse(reply.body.length > 0 ? reply.bodyJSON() : undefined);
    }
    let result: Checkpoint;
    if (!local || !remote) result = { ...EMPTY };
    else if (sameRemote(local.remote, remote.remote)) result = { local: Math.min(local.local, remote.local), remote: remote.remote };
    else result = { local: Math.min(local.local, remote.local), remote: null };
    this.#current = result;
    this.#saved = JSON.stringify(local && remote ? remote : EMPTY);
    return { ...result };
  }

  setLocal(sequence: number): void {
    this.#current = { ...this.#current, local: sequence };
  }

  setRemote(since: unknown): void {
    this.#current = { ...this.#current, remote: since };
  }

  /** Saves the checkpoint if it changed: remote first (retrying once after a 409), then the local copy. */
  async save(connection: BlipConnection): Promise<void> {
    const body = JSON.stringify(this.#current);
    if (body === this.#saved) return;
    for (let attempt = 0; ; attempt++) {
      const properties: Record<string, string> = { client: this.#id };
      if (this.#remoteRev !== undefined) properties.rev = this.#remoteRev;
      const reply = await connection.sendRequest({ profile: 'setCheckpoint', properties, body });
      const error = reply.error;
      if (!error) {
        this.#remoteRev = reply.property('rev');
        break;
      }
      if (error.code === 409 && attempt === 0) {
        const fresh = await connection.sendRequest({ profile: 'getCheckpoint', properties: { client: this.#id } });
        this.#remoteRev = fresh.error ? undefined : fresh.property('rev');
        continue;
      }
      throw new ReplicationError(error.code, `setCheckpoint failed: ${error.message}`);
    }
    await this.#store.setLocalRecord(this.#localKey(), JSON.parse(body) as JsonObject);
    this.#saved = body;
  }

  #localKey(): string {
    return `checkpoint/${this.#id}`;
  }
}
