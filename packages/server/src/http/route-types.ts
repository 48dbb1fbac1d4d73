import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../db/database.ts';
import type { UserAccess } from '../db/access/user-access.ts';
import type { Query } from './query.ts';
import type { ServerContext } from '../server-context.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

/** What a handler gets: the parsed request and the database it addresses, if any. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: Query;
  /** True on the admin listener. */
  admin: boolean;
  server: ServerContext;
  /** Set for routes under /{db}/. */
  db: Database | undefined;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /**
   * Who the request acts for, on routes under /{db}/: the authenticated user (or GUEST) on the public API,
   * null on the admin API (no access control).
   */
  user: UserAccess | null;
}

export type Reply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; body: Buffer | string; headers: Record<string, string> }
  /** The handler wrote the response itself (streaming). */
  | { streamed: true };

export type Handler = (ctx: RequestContext & { db: Database }) => Promise<Reply>;
export type ServerHandler = (ctx: RequestContext) => Promise<Reply>;

export interface Route {
  method: Method;
  /** Segments after the database; `{name}` captures one, `{name*}` the rest. Empty for the database root. */
  path: string;
  /** Only served on the admin listener. */
  adminOnly?: boolean;
  /**
   * Public API authentication (see authenticate.ts). 'required' (default): a valid login, or the GUEST user when
   * it is enabled. 'optional': falls back to GUEST even when it is disabled and ignores a bad session cookie
   * (Sync Gateway's publicPrivs, used by /{db}/_session); wrong Basic credentials are still refused.
   */
  auth?: 'required' | 'optional';
  handler: Handler;
}
