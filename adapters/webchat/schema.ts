/**
 * zod schemas for everything a Direct Line client sends us, and the small HTTP helpers that read it
 * (bounded body, bearer credential, CORS). Anything else in a posted activity is kept, but the fields
 * the server owns (id, conversation, recipient, timestamps, channel) are always overwritten.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { MAX_JSON_DEPTH, jsonTooDeep } from '../../src/security/json-depth.js';
import { DirectLineError } from './errors.js';

/** Conversation ids we issue and accept: URL- and file-name-safe. */
export const conversationIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'conversation id must be [A-Za-z0-9_-]{1,128}');

/** A watermark as the client echoes it: empty or absent means "from the beginning". */
export const watermarkSchema = z
  .union([z.string().regex(/^\d{0,12}$/, 'watermark must be a number'), z.undefined()])
  .transform((v) => (v ? Number(v) : 0));

const channelAccount = z.looseObject({
  id: z.string().max(256).optional(),
  name: z.string().max(256).optional(),
});

/** A name as the site passes it: trimmed, at most 256 characters; blank means none. */
const siteName = z
  .string()
  .max(256)
  .transform((n) => n.trim() || undefined)
  .optional();

/** The docs' casing of the user (`{"User": {"Id", "Name"}}`, as in the Direct Line token examples). */
const docsUser = z.looseObject({ Id: z.string().max(256).optional(), Name: siteName });

/** Longest e-mail address (RFC 5321's path limit). */
export const MAX_EMAIL_LENGTH = 254;

/** A phone number in E.164 (`+` and up to 15 digits); spaces, dots, dashes and brackets are dropped first. */
const e164Phone = z
  .string()
  .max(32)
  .transform((p) => p.replace(/[\s.()-]/g, ''))
  .pipe(z.string().regex(/^\+[1-9]\d{6,14}$/, 'phone must be an international number such as +4930123456'))
  .optional();

/**
 * `POST tokens/generate` and `POST conversations` (both optional): who the user is, as the site knows
 * them — `{"user": {"id", "name", "email", "phone"}}` or the documentation's `{"User": {"Id", "Name"}}`,
 * read as `user`. The adapter takes `email` and `phone` only from a request with the secret.
 * https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-direct-line-3-0-authentication#generate-token
 */
export const startBodySchema = z
  .looseObject({
    user: z
      .looseObject({
        id: z.string().max(256).optional(),
        name: siteName,
        email: z.email().max(MAX_EMAIL_LENGTH).optional(),
        phone: e164Phone,
      })
      .optional(),
    User: docsUser.optional(),
    locale: z.string().max(32).optional(),
  })
  .default({})
  .transform(({ User, ...body }) => ({ ...body, user: body.user ?? (User ? { id: User.Id, name: User.Name } : undefined) }));

/** Activity types a client may not post: the server or the bot produces these. */
export const RESERVED_INBOUND_TYPES = ['conversationUpdate', 'contactRelationUpdate', 'invokeResponse', 'trace', 'delay'] as const;

/** `POST conversations/{id}/activities`. */
export const inboundActivitySchema = z.looseObject({
  type: z
    .string()
    .min(1)
    .max(64)
    .refine((t) => !(RESERVED_INBOUND_TYPES as readonly string[]).includes(t), 'this activity type is sent by the server, not the client'),
  text: z.string().max(16_000).optional(),
  from: channelAccount.optional(),
  locale: z.string().max(32).optional(),
  localTimestamp: z.string().max(64).optional(),
  localTimezone: z.string().max(64).optional(),
  channelData: z.record(z.string(), z.unknown()).optional(),
  attachments: z.array(z.looseObject({ contentType: z.string().max(256) })).max(20).optional(),
  name: z.string().max(256).optional(),
  value: z.unknown().optional(),
  entities: z.array(z.looseObject({ type: z.string() })).max(20).optional(),
});
export type InboundActivity = z.infer<typeof inboundActivitySchema>;

/**
 * Turns a zod failure into a 400 naming the field: `MissingProperty` when a required one is absent from
 * `input`, `BadArgument` otherwise.
 */
export function badRequest(where: string, error: z.ZodError, input?: unknown): DirectLineError {
  const first = error.issues[0];
  const field = first?.path.join('.') || 'body';
  const missing = first?.code === 'invalid_type' && first.path.length > 0 && valueAt(input, first.path) === undefined;
  return new DirectLineError(400, missing ? 'MissingProperty' : 'BadArgument', `${where}: ${field}: ${first?.message ?? 'invalid'}`);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let at: unknown = input;
  for (const key of path) at = at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined;
  return at;
}

/**
 * Reads a JSON body of at most `maxBytes` (413 `MessageSizeTooBig` beyond; 415 when it is not JSON;
 * 400 `BadSyntax` when it does not parse or nests too deep). An empty body reads as `undefined`.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new DirectLineError(413, 'MessageSizeTooBig', `request body is ${declared} bytes; the limit is ${maxBytes}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new DirectLineError(413, 'MessageSizeTooBig', `request body exceeds the limit of ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '');
  if (type && !/json/i.test(type)) throw new DirectLineError(415, 'UnsupportedMediaType', `send the body as application/json, not ${type}`);
  const text = Buffer.concat(chunks).toString('utf8');
  if (jsonTooDeep(text)) throw new DirectLineError(400, 'BadSyntax', `the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw new DirectLineError(400, 'BadSyntax', 'the request body is not valid JSON');
  }
}

/** The credential of an `Authorization: Bearer ...` header (Direct Line also accepts `BotConnector`). */
export function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^(?:Bearer|BotConnector)\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Headers Web Chat and directlinejs send cross-origin. */
export const CORS_ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, x-ms-bot-agent, x-requested-with';
