/**
 * The one error type of Syncline. Every failure a client can see is a SynclineError carrying an HTTP status,
 * a CouchDB-style error name and a human reason. http/ maps it to {"error","reason"}; replication/ maps it to
 * a BLIP error response. Anything else that escapes becomes a 500 without details.
 */
export type ErrorName =
  | 'bad_request'
  | 'unauthorized'
  /** Sync Gateway's spelling for failed logins on the public API (its 401 bodies use the HTTP status text). */
  | 'Unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'not_acceptable'
  | 'conflict'
  | 'file_exists'
  | 'precondition_failed'
  | 'request_entity_too_large'
  | 'bad_content_type'
  | 'internal_server_error'
  | 'service_unavailable';

export class SynclineError extends Error {
  readonly status: number;
  readonly error: ErrorName;
  readonly reason: string;

  constructor(status: number, error: ErrorName, reason: string) {
    super(reason);
    this.name = 'SynclineError';
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
}

export const badRequest = (reason: string): SynclineError => new SynclineError(400, 'bad_request', reason);
export const unauthorized = (reason = 'Login required'): SynclineError => new SynclineError(401, 'unauthorized', reason);
export const forbidden = (reason = 'forbidden'): SynclineError => new SynclineError(403, 'forbidden', reason);
export const notFound = (reason = 'missing'): SynclineError => new SynclineError(404, 'not_found', reason);
export const methodNotAllowed = (reason = 'Method not allowed'): SynclineError =>
  new SynclineError(405, 'method_not_allowed', reason);
export const notAcceptable = (reason: string): SynclineError => new SynclineError(406, 'not_acceptable', reason);
export const conflict = (reason = 'Document update conflict'): SynclineError => new SynclineError(409, 'conflict', reason);
export const fileExists = (reason = 'The database already exists.'): SynclineError =>
  new SynclineError(412, 'file_exists', reason);
export const preconditionFailed = (reason: string): SynclineError =>
  new SynclineError(412, 'precondition_failed', reason);
export const tooLarge = (reason = 'Document too large'): SynclineError =>
  new SynclineError(413, 'request_entity_too_large', reason);
export const badContentType = (reason: string): SynclineError => new SynclineError(415, 'bad_content_type', reason);
export const internalError = (reason = 'Internal error'): SynclineError =>
  new SynclineError(500, 'internal_server_error', reason);
export const unavailable = (reason: string): SynclineError => new SynclineError(503, 'service_unavailable', reason);

export function isSynclineError(err: unknown): err is SynclineError {
  return err instanceof SynclineError;
}
