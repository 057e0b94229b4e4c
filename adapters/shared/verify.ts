/**
 * Webhook signature check, as a pure function so it is tested without HTTP.
 * Meta signs every POST with `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw request
 * bytes keyed with the app secret. The raw bytes matter: Meta escapes non-ASCII (`ä` → `\u00e4`), so a
 * re-serialised body would not verify.
 * @see https://developers.facebook.com/docs/messenger-platform/webhooks#validate-payloads
 * @see https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The outcome of a signature check; on failure, the HTTP status to answer and why. */
export type VerifyResult = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/** The header Meta signs with; the legacy SHA-1 `X-Hub-Signature` is deliberately not accepted. */
export const SIGNATURE_HEADER = 'x-hub-signature-256';

/** `sha256=<hex>` for `rawBody` — what Meta would send; used by `npm run simulate` and the tests. */
export function signBody(rawBody: Buffer | string, appSecret: string): string {
  return 'sha256=' + createHmac('sha256', appSecret).update(rawBody).digest('hex');
}

/**
 * Checks `X-Hub-Signature-256` against the raw body: 401 when it is missing or malformed, 403 when
 * it does not match. Constant-time comparison after a length check.
 */
export function verifySignature(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  appSecret: string,
): VerifyResult {
  let header = headers[SIGNATURE_HEADER] ?? findHeader(headers, SIGNATURE_HEADER);
  if (Array.isArray(header)) header = header[0];
  if (!header) return { ok: false, status: 401, reason: 'missing X-Hub-Signature-256 header' };
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!match) return { ok: false, status: 401, reason: 'malformed X-Hub-Signature-256 header (expected sha256=<64 hex digits>)' };
  const given = Buffer.from(match[1]!.toLowerCase(), 'hex');
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, status: 403, reason: 'X-Hub-Signature-256 does not match the body (wrong app secret, or the body was altered)' };
  }
  return { ok: true };
}

function findHeader(headers: Record<string, string | string[] | undefined>, name: string) {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * The GET handshake Meta makes when the webhook is configured: answer the challenge when the mode is
 * `subscribe` and the verify token matches, else 403.
 */
export function verifyHandshake(
  query: Record<string, unknown>,
  verifyToken: string,
): { ok: true; challenge: string } | { ok: false; status: 400 | 403; reason: string } {
  const mode = query['hub.mode'];
  const token = query['hub.verify_token'];
  const challenge = query['hub.challenge'];
  if (typeof mode !== 'string' || typeof token !== 'string' || typeof challenge !== 'string') {
    return { ok: false, status: 400, reason: 'expected hub.mode, hub.verify_token and hub.challenge' };
  }
  const a = Buffer.from(token);
  const b = Buffer.from(verifyToken);
  if (mode !== 'subscribe' || a.length !== b.length || !timingSafeEqual(a, b)) {
    return { ok: false, status: 403, reason: 'hub.mode is not subscribe or hub.verify_token does not match' };
  }
  return { ok: true, challenge };
}
