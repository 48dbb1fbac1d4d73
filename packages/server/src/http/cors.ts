import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsConfig } from '../config/schema.ts';

/** Adds CORS headers for allowed origins. Returns true when the request was a preflight and is answered. */
export function applyCors(cors: CorsConfig | undefined, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (!cors || !origin) return false;
  const allowed = cors.origin.includes('*') || cors.origin.includes(origin);
  if (!allowed) return false;
  res.setHeader('Access-Control-Allow-Origin', cors.origin.includes('*') && !cors.login_origin.includes(origin) ? '*' : origin);
  res.setHeader('Vary', 'Origin');
  if (cors.login_origin.includes(origin)) res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (req.method !== 'OPTIONS') return false;
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, DELETE, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', ['Content-Type', 'Authorization', 'Accept', 'If-Match', ...cors.headers].join(', '));
  if (cors.max_age > 0) res.setHeader('Access-Control-Max-Age', String(cors.max_age));
  res.writeHead(204);
  res.end();
  return true;
}
