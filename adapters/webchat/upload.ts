/**
 * Files in Web Chat, both ways.
 *
 * In: `POST {basePath}/conversations/{id}/upload[?userId=]`, as the Direct Line 3.0 reference documents
 * it and `botframework-directlinejs` sends every message with attachments: `multipart/form-data` with
 * an `activity` part (JSON, `application/vnd.microsoft.activity`) and one part per file. Each file is
 * checked (size while it arrives, kind by its first bytes), stored in the media store, and the
 * activity goes on as a POSTed one would, with attachments pointing at the route below.
 * https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-direct-line-3-0-send-activity#send-attachments-to-the-bot
 *
 * Out: `GET {basePath}/conversations/{id}/attachments/{mediaId}`. Web Chat shows an image with a plain
 * `<img src=contentUrl>` and a document as a link, so the browser sends no `Authorization` header.
 * The conversation log therefore keeps only the file's id (as the agent route `/api/agent/media/{id}`,
 * like every transcript; no credential is ever stored), and each time the log is read for a client
 * (`GET activities`, the WebSocket) `MediaUrls.sign` turns it into this route with a signature:
 * HMAC-SHA256, keyed from the Direct Line secret, over conversation, file and expiry, valid for
 * `MEDIA_URL_TTL_SECONDS`. A leaked URL opens one file of one conversation for at most that long; a
 * client that reloads reads the log again and gets fresh ones. A request with the conversation's
 * token (`Authorization: Bearer`) is accepted as well.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity, Attachment } from 'botbuilder';
import type { Clock } from '../../src/clock.js';
import { FormError, readMultipart } from '../../src/media/multipart.js';
import { mediaAttachment, mediaIdOf, sniffContentType } from '../../src/media/outbound.js';
import { MEDIA_ID_PATTERN, MediaTooLargeError, type MediaStore } from '../../src/media/store.js';
import { MAX_JSON_DEPTH, jsonTooDeep } from '../../src/security/json-depth.js';
import { badRequest, inboundActivitySchema } from './schema.js';
import { DirectLineError } from './errors.js';

const MB = 1024 * 1024;

/** Largest file in one upload; every file is held in memory while it is checked and stored. */
export const MAX_UPLOAD_FILE_BYTES = 4 * MB;
/** Most files in one upload (Web Chat sends one message per selection, rarely more than a few files). */
export const MAX_UPLOAD_FILES = 5;
/** Largest `activity` part: the activity JSON without its files. */
export const MAX_UPLOAD_ACTIVITY_BYTES = 64 * 1024;
/** What customers may upload: pictures and PDFs, which the agent console shows or offers as a download. */
export const WEBCHAT_UPLOAD_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf'];
/** A thumbnail Web Chat drew of a picked picture: an inline picture, nothing that could run or be fetched. */
const THUMBNAIL_URL = /^data:image\/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/;
/** How long a signed attachment URL opens its file. */
export const MEDIA_URL_TTL_SECONDS = 3600;

/** Signs and checks the attachment URLs of one Direct Line secret. */
export class MediaUrls {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly clock: Clock,
    private readonly ttlSeconds = MEDIA_URL_TTL_SECONDS,
  ) {
    // A key of its own, so an attachment signature can never pass for a token signature.
    this.key = createHmac('sha256', secret).update('switchboard/webchat/attachment-url').digest();
  }

  private mac(conversationId: string, mediaId: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${conversationId}\n${mediaId}\n${exp}`).digest('base64url');
  }

  /** `ok` for a signature this secret made for this file of this conversation, not yet expired. */
  verify(conversationId: string, mediaId: string, exp: unknown, sig: unknown): 'ok' | 'expired' | 'invalid' {
    if (typeof exp !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(exp)) return 'invalid';
    const expected = Buffer.from(this.mac(conversationId, mediaId, Number(exp)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(exp) * 1000 <= this.clock.now().getTime() ? 'expired' : 'ok';
  }

  /** `url` (a bare attachment URL of `conversationId`) with a fresh signature. */
  signUrl(url: string, conversationId: string, mediaId: string): string {
    const exp = Math.floor(this.clock.now().getTime() / 1000) + this.ttlSeconds;
    return `${url.split('?')[0]}?exp=${exp}&sig=${this.mac(conversationId, mediaId, exp)}`;
  }

  /**
   * The activities as a Direct Line client gets them: every attachment naming a stored file (the
   * agent route `/api/agent/media/{id}`, as the transcript keeps it) points at this conversation's
   * attachments route, with a fresh signature. The origin is the activity's `serviceUrl`, else `fallbackServiceUrl`.
   */
  sign<T extends Partial<Activity>>(activities: T[], fallbackServiceUrl: string): T[] {
    return activities.map((a) => {
      const conversationId = a.conversation?.id;
      if (!a.attachments?.length || !conversationId) return a;
      return {
        ...a,
        attachments: a.attachments.map((att) => {
          const mediaId = mediaIdOf(att);
          if (!mediaId) return att;
          return { ...att, contentUrl: this.signUrl(attachmentUrl(a.serviceUrl ?? fallbackServiceUrl, conversationId, mediaId), conversationId, mediaId) };
        }),
      };
    });
  }
}

/** The bare URL of stored file `mediaId` in a conversation (`serviceUrl` is origin + basePath). */
export function attachmentUrl(serviceUrl: string, conversationId: string, mediaId: string): string {
  return `${serviceUrl.replace(/\/+$/, '')}/conversations/${conversationId}/attachments/${mediaId}`;
}

/** What the upload route needs from the adapter. */
export interface UploadContext {
  conversationId: string;
  media: MediaStore | undefined;
  /** The adapter's `receive`: stores, echoes and runs the activity; resolves with its id. */
  receive(inbound: Record<string, unknown>): Promise<string>;
}

const noMedia = () => new DirectLineError(415, 'UnsupportedMediaType', 'upload: this server keeps no files (no media store configured); send the message as text');

/** A form or store refusal as Direct Line answers it. */
function asHttpError(err: unknown): unknown {
  if (err instanceof FormError) {
    if (err.status === 413) return new DirectLineError(413, 'MessageSizeTooBig', err.message);
    if (err.status === 415) return new DirectLineError(415, 'UnsupportedMediaType', err.message);
    return new DirectLineError(400, 'BadArgument', err.message);
  }
  if (err instanceof MediaTooLargeError) return new DirectLineError(413, 'MessageSizeTooBig', `upload: ${err.message}`);
  return err;
}

/**
 * `POST conversations/{id}/upload`: reads the form, stores its files and hands the activity (or a
 * plain message when the form has no `activity` part) to `receive`; resolves with the activity id.
 * The request's `userId` is the sender only where the caller holds the secret (a token names its own user).
 */
export async function handleUpload(req: IncomingMessage & { query?: unknown }, ctx: UploadContext): Promise<{ id: string }> {
  if (!ctx.media) {
    req.resume();
    throw noMedia();
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  const maxRequest = MAX_UPLOAD_FILES * MAX_UPLOAD_FILE_BYTES + MAX_UPLOAD_ACTIVITY_BYTES;
  if (declared > maxRequest) {
    req.resume();
    throw new DirectLineError(413, 'MessageSizeTooBig', `upload: the request is ${declared} bytes; at most ${MAX_UPLOAD_FILES} files of ${MAX_UPLOAD_FILE_BYTES} bytes each are accepted`);
  }
  const parts = await readMultipart(req, { maxParts: MAX_UPLOAD_FILES + 1, maxPartBytes: (f) => (f === 'activity' ? MAX_UPLOAD_ACTIVITY_BYTES : MAX_UPLOAD_FILE_BYTES) }, 'upload').catch((err) => {
    throw asHttpError(err);
  });
  const activityPart = parts.find((p) => p.field === 'activity');
  const files = parts.filter((p) => p !== activityPart);
  if (files.length === 0) throw new DirectLineError(400, 'BadArgument', 'upload: the form has no file; send the activity as JSON to .../activities instead');
  if (files.length > MAX_UPLOAD_FILES) throw new DirectLineError(413, 'MessageSizeTooBig', `upload: at most ${MAX_UPLOAD_FILES} files at a time`);

  let inbound: Record<string, unknown> = { type: 'message' };
  if (activityPart) {
    const text = activityPart.bytes.toString('utf8');
    if (jsonTooDeep(text)) throw new DirectLineError(400, 'BadArgument', `upload: the activity nests deeper than ${MAX_JSON_DEPTH} levels`);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new DirectLineError(400, 'BadArgument', 'upload: the "activity" part is not valid JSON');
    }
    const parsed = inboundActivitySchema.safeParse(raw);
    if (!parsed.success) throw badRequest('upload activity', parsed.error);
    inbound = parsed.data;
  }

  // Every file is checked before any is stored, so a refused upload leaves nothing behind.
  const checked = files.map((f) => {
    const type = sniffContentType(f.bytes);
    const label = f.filename ? `"${f.filename}"` : 'a file';
    if (!type || !WEBCHAT_UPLOAD_TYPES.includes(type)) {
      throw new DirectLineError(415, 'UnsupportedMediaType', `upload: ${label} is not a PNG, JPEG, GIF or WebP picture or a PDF; only those can be sent here`);
    }
    return { ...f, type };
  });
  const described = (inbound.attachments as Partial<Attachment>[] | undefined) ?? [];
  const attachments: Attachment[] = [];
  for (const [i, f] of checked.entries()) {
    const name = f.filename && f.filename !== 'blob' ? f.filename : described[i]?.name;
    const record = await ctx.media
      .put({ conversationId: ctx.conversationId, channelId: 'webchat', contentType: f.type, bytes: f.bytes, ...(name ? { name } : {}) })
      .catch((err) => {
        throw asHttpError(err);
      });
    // Web Chat shows a customer's own picture from the thumbnail it drew (a data: URL in the activity part).
    const thumbnail = described[i]?.thumbnailUrl;
    const keepThumbnail = typeof thumbnail === 'string' && THUMBNAIL_URL.test(thumbnail);
    attachments.push({ ...mediaAttachment(record), ...(keepThumbnail ? { thumbnailUrl: thumbnail } : {}) });
  }
  const userId = typeof (req.query as Record<string, unknown> | undefined)?.userId === 'string' ? String((req.query as Record<string, unknown>).userId).slice(0, 256) : undefined;
  const from = (inbound.from as Record<string, unknown> | undefined) ?? (userId ? { id: userId } : undefined);
  return { id: await ctx.receive({ ...inbound, type: 'message', ...(from ? { from } : {}), attachments }) };
}

/** What the attachments route needs from the adapter. */
export interface AttachmentContext {
  conversationId: string;
  mediaId: string;
  media: MediaStore | undefined;
  urls: MediaUrls;
  /** Throws unless the request carries the conversation's token (or the secret). */
  authorize(): Promise<unknown>;
}

/** Headers for a file served to a browser: its own type, never sniffed, never run as a page. */
function fileHeaders(contentType: string, name: string | undefined, size: number): Record<string, string | number> {
  const inline = contentType.startsWith('image/');
  const filename = (name ?? 'attachment').replace(/[^\w. -]/g, '_');
  return {
    'Content-Type': contentType,
    'Content-Length': size,
    'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename="${filename}"; filename*=UTF-8''${encodeURIComponent(name ?? 'attachment')}`,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cache-Control': 'private, max-age=300',
    // Web Chat may be embedded on the site's own origin while this server answers on another.
    'Cross-Origin-Resource-Policy': 'cross-origin',
  };
}

/** `GET conversations/{id}/attachments/{mediaId}`: the file, for a signed URL or the conversation's token. */
export async function serveAttachment(req: IncomingMessage & { query?: unknown }, res: ServerResponse, ctx: AttachmentContext): Promise<void> {
  const q = (req.query ?? {}) as Record<string, unknown>;
  // Credentials first: without them every path answers 401/403 alike, whether the file exists or not.
  const signature = MEDIA_ID_PATTERN.test(ctx.mediaId) ? ctx.urls.verify(ctx.conversationId, ctx.mediaId, q.exp, q.sig) : 'invalid';
  if (signature !== 'ok') {
    if (q.sig !== undefined && !req.headers.authorization) {
      if (signature === 'expired') throw new DirectLineError(403, 'TokenExpired', 'attachment: this link has expired; reload the chat to get a fresh one');
      throw new DirectLineError(403, 'BadArgument', 'attachment: this link is not valid for this file');
    }
    await ctx.authorize();
  }
  if (!MEDIA_ID_PATTERN.test(ctx.mediaId)) throw new DirectLineError(404, 'NotFound', 'attachment: no such file');
  const found = ctx.media ? await ctx.media.get(ctx.mediaId) : undefined;
  // Another conversation's file answers exactly like a missing one.
  if (!found || found.record.conversationId !== ctx.conversationId) throw new DirectLineError(404, 'NotFound', 'attachment: no such file in this conversation');
  res.writeHead(200, fileHeaders(found.record.contentType, found.record.name, found.bytes.length));
  res.end(found.bytes);
}
