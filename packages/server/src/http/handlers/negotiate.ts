import type { IncomingMessage } from 'node:http';
import { badRequest } from '../../base/errors.ts';
import { isValidRevId } from '../../document/index.ts';
import type { RequestContext } from '../route-types.ts';

/** Whether the Accept header lists `type` (or, unless `exact`, a wildcard covering it). */
export function accepts(req: IncomingMessage, type: string, exact = false): boolean {
  const header = req.headers.accept;
  if (!header) return false;
  const wildcard = `${type.split('/')[0]}/*`;
  return header.split(',').some((part) => {
    const media = part.split(';')[0]!.trim().toLowerCase();
    return media === type || (!exact && (media === '*/*' || media === wildcard));
  });
}

/** The revision a write builds on when the body has none: `?rev=` or the If-Match header. */
export function revFromRequest({ query, req }: Pick<RequestContext, 'query' | 'req'>): string | undefined {
  const fromQuery = query.string('rev');
  const ifMatch = req.headers['if-match']?.replace(/^"|"$/g, '');
  const rev = fromQuery ?? ifMatch;
  if (rev !== undefined && !isValidRevId(rev)) throw badRequest(`Invalid rev: ${rev}`);
  return rev;
}
