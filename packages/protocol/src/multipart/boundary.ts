import { randomBytes } from 'node:crypto';

/** RFC 2046 bchars: 1 to 70 of these, and the last one may not be a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

export function isValidBoundary(boundary: string): boolean {
  return BOUNDARY.test(boundary);
}

export function randomBoundary(): string {
  return randomBytes(16).toString('hex');
}
