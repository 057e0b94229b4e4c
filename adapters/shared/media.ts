/**
 * A customer's file on a Meta channel, from the webhook to the agent:
 *
 *   parse (pure): the webhook's media part → a *pending* attachment (`PENDING_MEDIA_TYPE`) naming where
 *     the file is (WhatsApp: a media id; Messenger: a URL); the caption becomes the activity's text
 *   turn (`MetaChannelAdapter.prepare`, after Meta has had its 200): `MediaFetcher.resolve` downloads
 *     each pending file within the platform's size limit, keeps it in the `MediaStore`, and replaces
 *     the attachment by one whose `contentUrl` is the agent route (`mediaContentUrl`), or — when the
 *     download failed after its retries — by a `MEDIA_UNAVAILABLE_TYPE` attachment saying why.
 *
 * Locations have nothing to download: they become text (coordinates and a map link) at parse time.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#download-media
 * @see https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
 */
import { createHash } from 'node:crypto';
import type { Activity, Attachment } from 'botbuilder';
import type { Logger } from '../../src/log.js';
import { GraphApiError, GraphUnavailableError } from './errors.js';
import { LOCATION_TYPE, MEDIA_UNAVAILABLE_TYPE, PENDING_MEDIA_TYPE, isStoredMedia, mediaContentUrl, type MediaAttachmentContent } from '../../src/media/attachments.js';
import { cleanContentType, mediaLimit, MediaTooLargeError, type MediaKind, type MediaRecord, type MediaStore } from '../../src/media/store.js';

/** A file the webhook announced and the turn has not fetched yet (the `content` of a pending attachment). */
export interface PendingMedia {
  kind: MediaKind;
  /** WhatsApp: the media id, looked up on the Graph API (`GET /{media-id}`) for a short-lived URL. */
  mediaId?: string;
  /** Messenger: where the file is (Meta's CDN; no token needed). */
  url?: string;
  /** What the webhook says the type is (WhatsApp `mime_type`); the download's own header otherwise. */
  contentType?: string;
  /** A document's file name. */
  name?: string;
  /** WhatsApp's SHA-256 of the file (hex or base64), checked after the download. */
  sha256?: string;
  /** Where the file came from, unique in the conversation, e.g. `whatsapp:<media id>`. */
  source: string;
}

/** Attempts to fetch one file (the lookup and the download), so a passing failure does not lose it. */
export const MEDIA_FETCH_ATTEMPTS = 3;
/** Wait before the second attempt; doubled for the third. Short: the customer's turn waits for it. */
export const MEDIA_RETRY_DELAY_MS = 1_000;
/**
 * Longest one download may take. A 25 MB file at 1 MB/s fits; it holds up this conversation's turn
 * (not the server, nor other conversations), and `MEDIA_FETCH_ATTEMPTS` bounds how often.
 */
export const MEDIA_DOWNLOAD_TIMEOUT_MS = 45_000;
/**
 * Files one channel fetches at once. Each is held in memory whole (up to `MAX_MEDIA_BYTES`), so this,
 * not the number of turns running, bounds the memory a burst of photos takes (4 × 25 MB a channel);
 * the other turns wait in line for a place.
 */
export const MAX_CONCURRENT_MEDIA_FETCHES = 4;
/** Longest platform message quoted to the agent in "could not be downloaded: …". */
export const MAX_REASON_LENGTH = 160;

/** The attachment a webhook's media part becomes until its turn fetches it. */
export function pendingMediaAttachment(p: PendingMedia): Attachment {
  return { contentType: PENDING_MEDIA_TYPE, name: p.name ?? p.kind, content: p };
}

/** A location as the agent reads it: name, address, coordinates and a map link. */
export function locationText(l: { latitude: number; longitude: number; name?: string; address?: string }): string {
  const place = [l.name, l.address].filter((s) => s && s.trim()).join(', ');
  const lat = String(l.latitude);
  const lon = String(l.longitude);
  const map = `https://www.openstreetmap.org/?mlat=${encodeURIComponent(lat)}&mlon=${encodeURIComponent(lon)}#map=17/${encodeURIComponent(lat)}/${encodeURIComponent(lon)}`;
  return `📍 ${place ? place + ' — ' : ''}${lat}, ${lon} ${map}`;
}

/** The attachment of a shared location (no file: the coordinates are the content). */
export function locationAttachment(l: { latitude: number; longitude: number; name?: string; address?: string }): Attachment {
  return { contentType: LOCATION_TYPE, name: 'location', content: { latitude: l.latitude, longitude: l.longitude, name: l.name, address: l.address } };
}

/** True when the activity carries something a customer sent other than text: a file (fetched or not) or a location. */
export function hasCustomerMedia(activity: Partial<Activity>): boolean {
  return (activity.attachments ?? []).some((a) => a.contentType === PENDING_MEDIA_TYPE || a.contentType === MEDIA_UNAVAILABLE_TYPE || a.contentType === LOCATION_TYPE || isStoredMedia(a));
}

/** True when some file of the activity could not be fetched. */
export function hasUnavailableMedia(activity: Partial<Activity>): boolean {
  return (activity.attachments ?? []).some((a) => a.contentType === MEDIA_UNAVAILABLE_TYPE);
}

/** Where to download a file from, as the channel's lookup finds it. */
export interface MediaLocation {
  url: string;
  /** Sent with the download (WhatsApp: `Authorization: Bearer <access token>`). */
  headers?: Record<string, string>;
  contentType?: string;
  /** The size the platform announces; a file larger than the limit is not downloaded at all. */
  size?: number;
  sha256?: string;
}

/** A fetch that can read bytes (Node's global `fetch` fits). */
export type BinaryFetch = (url: string, init: { method: string; headers: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

export { LOCATION_TYPE, MEDIA_UNAVAILABLE_TYPE, PENDING_MEDIA_TYPE } from '../../src/media/attachments.js';

/** A download failed; `retryable` says whether another attempt can help. */
export class MediaDownloadError extends Error {
  override readonly name = 'MediaDownloadError';
  constructor(
    message: string,
    /** False when another attempt cannot help. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const MB = 1024 * 1024;
const inMb = (n: number) => `${Math.round((n / MB) * 10) / 10} MB`;

/**
 * Downloads `url` into memory, refusing more than `limit` bytes (by `Content-Length` first, then by
 * counting, so a server that lies about the length cannot make us hold more).
 */
export async function downloadLimited(url: string, options: { headers?: Record<string, string>; limit: number; timeoutMs: number; fetch?: BinaryFetch }): Promise<{ bytes: Buffer; contentType?: string }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MediaDownloadError('the file address is not a URL', false);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new MediaDownloadError(`the file address is not http(s) (${parsed.protocol})`, false);
  const doFetch = options.fetch ?? ((u, init) => fetch(u, init));
  const signal = AbortSignal.timeout(options.timeoutMs);
  let res: Response;
  try {
    res = await doFetch(url, { method: 'GET', headers: { 'user-agent': 'Switchboard', ...options.headers }, signal });
  } catch (err) {
    throw new MediaDownloadError(`no answer from ${parsed.host} (${(err as Error).message})`, true);
  }
  if (res.status < 200 || res.status >= 300) {
    await res.body?.cancel().catch(() => undefined);
    // 5xx and 429 may pass; an expired WhatsApp URL answers 401/404, and the lookup is repeated with the retry.
    throw new MediaDownloadError(`${parsed.host} answered HTTP ${res.status}`, res.status >= 500 || res.status === 429 || res.status === 401 || res.status === 404);
  }
  const announced = Number(res.headers.get('content-length'));
  if (Number.isFinite(announced) && announced > options.limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new MediaDownloadError(`the file is ${inMb(announced)}, more than the ${inMb(options.limit)} kept`, false);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > options.limit) {
          await res.body.cancel().catch(() => undefined);
          throw new MediaDownloadError(`the file is more than the ${inMb(options.limit)} kept`, false);
        }
        chunks.push(Buffer.from(chunk));
      }
    }
  } catch (err) {
    if (err instanceof MediaDownloadError) throw err;
    throw new MediaDownloadError(`the download from ${parsed.host} broke off (${(err as Error).message})`, true);
  }
  return { bytes: Buffer.concat(chunks), contentType: res.headers.get('content-type') ?? undefined };
}

/** True when `bytes` hash to `expected`, given as hex or base64 as Meta's APIs write it; undefined when `expected` is neither. */
export function sha256Matches(hash: Buffer, expected: string): boolean | undefined {
  if (/^[0-9a-f]{64}$/i.test(expected)) return hash.toString('hex') === expected.toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=$/.test(expected)) return hash.toString('base64') === expected;
  return undefined;
}

/** The media type a file is served with: the platform's when it names one, else a generic one by kind. */
function contentTypeOf(p: PendingMedia, location: MediaLocation, downloaded?: string): string {
  const generic = 'application/octet-stream';
  return [p.contentType, location.contentType, downloaded].map(cleanContentType).find((t) => t !== generic) ?? generic;
}

/** What `MediaFetcher` needs. */
export interface MediaFetcherOptions {
  /** Without one (a bot built without a backend) files are not kept, and the agent is told so. */
  store?: MediaStore;
  channelId: string;
  /**
   * Finds where a pending file is (WhatsApp: the Graph lookup, one attempt — the fetcher retries);
   * throws `MediaDownloadError`, `GraphApiError` or `GraphUnavailableError`.
   */
  locate(p: PendingMedia): Promise<MediaLocation>;
  logger: Logger;
  sleep: (ms: number) => Promise<void>;
  fetch?: BinaryFetch;
  attempts?: number;
  timeoutMs?: number;
}

/** Fetches and keeps the pending files of an inbound activity; see the module comment. */
export class MediaFetcher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: MediaFetcherOptions) {}

  /** Runs `task` once fewer than `MAX_CONCURRENT_MEDIA_FETCHES` are running, in arrival order. */
  private async limited<T>(task: () => Promise<T>): Promise<T> {
    // A finished fetch hands its place straight to the next in line, so a newcomer cannot slip in between.
    if (this.running >= MAX_CONCURRENT_MEDIA_FETCHES) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /**
   * Replaces every pending attachment of `activity` by a stored or an unavailable one. Never throws:
   * a file that cannot be fetched or stored is shown to the agent with the reason, and the customer's
   * message still reaches them.
   */
  async resolve(activity: Partial<Activity>): Promise<void> {
    const attachments = activity.attachments;
    if (!attachments?.some((a) => a.contentType === PENDING_MEDIA_TYPE)) return;
    const conversationId = activity.conversation?.id ?? '';
    const out: Attachment[] = [];
    for (const a of attachments) {
      if (a.contentType !== PENDING_MEDIA_TYPE) {
        out.push(a);
        continue;
      }
      const p = a.content as PendingMedia;
      const result = await this.limited(() => this.fetchOne(p, conversationId));
      if ('record' in result) {
        const content: MediaAttachmentContent = { mediaId: result.record.id, kind: p.kind, size: result.record.size };
        out.push({ contentType: result.record.contentType, contentUrl: mediaContentUrl(result.record.id), name: result.record.name ?? p.kind, content });
      }
      else out.push({ contentType: MEDIA_UNAVAILABLE_TYPE, name: p.name ?? p.kind, content: { kind: p.kind, reason: result.reason } });
    }
    activity.attachments = out; // a new array: the inbox's stored copy keeps the pending ones for a replay
  }

  private async fetchOne(p: PendingMedia, conversationId: string): Promise<{ record: MediaRecord } | { reason: string }> {
    const { channelId, logger, store } = this.options;
    if (!store) return { reason: 'this server keeps no files (no media store)' };
    const limit = mediaLimit(channelId, p.kind);
    const attempts = Math.max(1, this.options.attempts ?? MEDIA_FETCH_ATTEMPTS);
    let reason = 'unknown error';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let retryable = true;
      try {
        // Looked up on every attempt: a WhatsApp media URL is valid for five minutes only.
        const location = await this.options.locate(p);
        if (location.size !== undefined && location.size > limit) throw new MediaDownloadError(`the file is ${inMb(location.size)}, more than the ${inMb(limit)} kept for a ${p.kind}`, false);
        const { bytes, contentType } = await downloadLimited(location.url, { headers: location.headers, limit, timeoutMs: this.options.timeoutMs ?? MEDIA_DOWNLOAD_TIMEOUT_MS, fetch: this.options.fetch });
        if (location.size !== undefined && bytes.length !== location.size) throw new MediaDownloadError(`the download has ${bytes.length} bytes, not the ${location.size} announced`, true);
        const expected = p.sha256 ?? location.sha256;
        if (expected && sha256Matches(createHash('sha256').update(bytes).digest(), expected) === false) throw new MediaDownloadError('the download does not match its SHA-256', true);
        try {
          return { record: await store.put({ conversationId, channelId, contentType: contentTypeOf(p, location, contentType), name: p.name, bytes, source: p.source }) };
        } catch (err) {
          if (err instanceof MediaTooLargeError) return { reason: err.message };
          // A full disk or a database outage: retried like a download, then reported to the agent.
          throw new MediaDownloadError(`could not be stored (${(err as Error).message})`, true);
        }
      } catch (err) {
        if (err instanceof MediaDownloadError) ({ message: reason, retryable } = err);
        else if (err instanceof GraphApiError) {
          reason = `Meta refused the lookup: ${err.graphMessage.slice(0, MAX_REASON_LENGTH)}`;
          retryable = err.status >= 500 || err.status === 429;
        } else if (err instanceof GraphUnavailableError) reason = 'Meta could not be reached';
        else {
          reason = (err as Error)?.message ?? String(err);
          retryable = false;
        }
        logger.warn('media download failed', { channel: channelId, conversation: conversationId, source: p.source, attempt, error: reason });
      }
      if (!retryable) break;
      if (attempt < attempts) await this.options.sleep(MEDIA_RETRY_DELAY_MS * 2 ** (attempt - 1));
    }
    logger.error('media not kept; the agent sees why', { channel: channelId, conversation: conversationId, source: p.source, error: reason });
    return { reason };
  }
}
