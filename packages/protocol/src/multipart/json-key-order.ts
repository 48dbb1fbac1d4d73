/**
 * JS objects list integer-like keys first, so `Object.keys` can disagree with the order of the JSON text,
 * which is the order multipart attachment parts follow. These helpers read key order from the text itself.
 * They expect text that JSON.parse has already accepted.
 */

/** Keys of the object held by top-level member `member` (its last occurrence), in text order without repeats. */
export function memberKeyOrder(json: string, member: string): string[] {
  let keys: string[] = [];
  walkObject(json, skipSpace(json, 0), (key, valueStart) => {
    if (key !== member || json[valueStart] !== '{') return undefined;
    const found = new Set<string>();
    const end = walkObject(json, valueStart, (name) => {
      found.add(name);
      return undefined;
    });
    keys = [...found];
    return end;
  });
  return keys;
}

/**
 * Visits each member of the object starting at `start` ("{"). `visit` may consume the value itself and return
 * the index after it; otherwise the value is skipped. Returns the index after the closing "}".
 */
function walkObject(json: string, start: number, visit: (key: string, valueStart: number) => number | undefined): number {
  let i = skipSpace(json, start + 1);
  while (json[i] === '"') {
    const keyEnd = stringEnd(json, i);
    const key = JSON.parse(json.slice(i, keyEnd)) as string;
    const valueStart = skipSpace(json, skipSpace(json, keyEnd) + 1);
    i = skipSpace(json, visit(key, valueStart) ?? valueEnd(json, valueStart));
    if (json[i] === ',') i = skipSpace(json, i + 1);
  }
  return i + 1;
}

function valueEnd(json: string, start: number): number {
  const first = json[start];
  if (first === '"') return stringEnd(json, start);
  if (first !== '{' && first !== '[') {
    let i = start;
    while (i < json.length && !',}] \t\n\r'.includes(json[i] ?? '')) i++;
    return i;
  }
  let depth = 0;
  let i = start;
  while (i < json.length) {
    const c = json[i];
    if (c === '"') {
      i = stringEnd(json, i);
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
    if (depth === 0) return i;
  }
  return i;
}

/** Index just after the closing quote of the string starting at `start`. */
function stringEnd(json: string, start: number): number {
  let i = start + 1;
  while (i < json.length && json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipSpace(json: string, start: number): number {
  let i = start;
  while (json[i] === ' ' || json[i] === '\t' || json[i] === '\n' || json[i] === '\r') i++;
  return i;
}
