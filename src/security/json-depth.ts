/**
 * Nesting limit for JSON bodies. `JSON.parse` takes 10,000 levels of arrays happily, but everything
 * after it that walks the value recursively (`JSON.stringify` when the activity is stored, structured
 * clone, zod) overflows the stack and fails the request with a 500. Real clients nest a few levels.
 */

/** Deepest nesting of arrays/objects any route accepts. */
export const MAX_JSON_DEPTH = 64;

/** True when `text` (JSON) nests arrays/objects deeper than `max`; a linear scan, strings skipped. */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
