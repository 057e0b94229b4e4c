/**
 * Files customers and agents exchange — a WhatsApp photo, a Messenger voice note, a Web Chat upload, a
 * PDF an agent attaches — kept with the conversation they belong to, on either backend (files in
 * DATA_DIR/media, or PostgreSQL). The transcript refers to a file by its `id`; the bytes are served to
 * agents from `GET /api/agent/media/{id}` and erased with the conversation.
 *
 * @example
 *   const record = await backend.media.put({ conversationId, channelId: 'whatsapp', contentType: 'image/jpeg', bytes });
 *   const found = await backend.media.get(record.id); // { record, bytes }
 */
import { randomBytes } from 'node:crypto';

/** What is known about one stored file (the bytes are kept apart). */
export interface MediaRecord {
  /** Opaque, unguessable (`MEDIA_ID_PATTERN`); the only handle on the bytes. */
  id: string;
  conversationId: string;
  channelId: string;
  contentType: string;
  /** The file name the sender gave, if any (documents, uploads). */
  name?: string;
  size: number;
  /** Hex SHA-256 of the bytes, computed here (never the sender's claim). */
  sha256: string;
  createdAt: string;
  /** Where the file came from, e.g. `whatsapp:<media id>`; one conversation keeps one file per source. */
  source?: string;
}

/** What `MediaStore.put` takes. */
export interface MediaInput {
  conversationId: string;
  channelId: string;
  contentType: string;
  name?: string;
  bytes: Buffer;
  source?: string;
}

/** Where files are kept; both backends implement it (contract: tests/contracts/media-store.contract.ts). */
export interface MediaStore {
  /**
   * Stores a file. With a `source` already stored for the conversation it returns that record instead
   * of a second copy, so a turn replayed after a crash (which downloads again) keeps one file.
   * Throws `MediaTooLargeError` above `MAX_MEDIA_BYTES`.
   */
  put(input: MediaInput): Promise<MediaRecord>;
  /** The file and its record; undefined for an unknown or malformed id. */
  get(id: string): Promise<{ record: MediaRecord; bytes: Buffer } | undefined>;
  /** The conversation's files, oldest first. */
  list(conversationId: string): Promise<MediaRecord[]>;
  /** Erases every file of the conversation (bytes and records); returns how many. */
  deleteConversation(conversationId: string): Promise<number>;
  close(): Promise<void>;
}

const MB = 1024 * 1024;

/**
 * The largest file kept, from any channel. Every file passes through memory whole (a download, a
 * PostgreSQL `bytea`), so this bounds what one turn may hold; it is Messenger's attachment limit, and
 * WhatsApp's own limits are below it except for documents (100 MB), which are refused past it.
 */
export const MAX_MEDIA_BYTES = 25 * MB;

/** A customer's file kind, as both Meta platforms name them. */
export type MediaKind = 'image' | 'video' | 'audio' | 'document' | 'sticker' | 'file';

/**
 * WhatsApp Cloud API media limits per kind (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types),
 * capped at `MAX_MEDIA_BYTES`.
 */
export const WHATSAPP_MEDIA_LIMITS: Readonly<Record<MediaKind, number>> = {
  image: 5 * MB,
  video: 16 * MB,
  audio: 16 * MB,
  document: Math.min(100 * MB, MAX_MEDIA_BYTES),
  sticker: 500 * 1024, // animated; static stickers are at most 100 KB
  file: MAX_MEDIA_BYTES,
};

/** Messenger attachments: 25 MB for every kind (https://developers.facebook.com/docs/messenger-platform/send-messages#file). */
export const MESSENGER_MEDIA_LIMIT = 25 * MB;

/** The most bytes kept for a file of `kind` arriving on `channelId`. */
export function mediaLimit(channelId: string, kind: MediaKind): number {
  if (channelId === 'whatsapp') return WHATSAPP_MEDIA_LIMITS[kind] ?? MAX_MEDIA_BYTES;
  if (channelId === 'facebook' || channelId === 'messenger') return Math.min(MESSENGER_MEDIA_LIMIT, MAX_MEDIA_BYTES);
  return MAX_MEDIA_BYTES;
}

/** Longest file name kept (longer ones are cut); names only label a download. */
export const MAX_MEDIA_NAME_LENGTH = 200;

/** A media id as `newMediaId` makes them; anything else is refused before it reaches a path or a query. */
export const MEDIA_ID_PATTERN = /^m_[A-Za-z0-9_-]{24}$/;

/** A new unguessable media id (144 random bits). */
export function newMediaId(): string {
  return 'm_' + randomBytes(18).toString('base64url');
}

/** A file is larger than the store keeps. */
export class MediaTooLargeError extends Error {
  override readonly name = 'MediaTooLargeError';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`MediaStore.put: the file is ${size} bytes, more than the ${limit} bytes kept (MAX_MEDIA_BYTES); send a smaller file`);
  }
}

/** The record `put` stores for `input` (size, hash and a cleaned name), shared by both backends. */
export function newMediaRecord(input: MediaInput, sha256: string, now: Date = new Date()): MediaRecord {
  if (input.bytes.length > MAX_MEDIA_BYTES) throw new MediaTooLargeError(input.bytes.length, MAX_MEDIA_BYTES);
  const name = cleanMediaName(input.name);
  return {
    id: newMediaId(),
    conversationId: input.conversationId,
    channelId: input.channelId,
    contentType: cleanContentType(input.contentType),
    ...(name ? { name } : {}),
    size: input.bytes.length,
    sha256,
    createdAt: now.toISOString(),
    ...(input.source ? { source: input.source } : {}),
  };
}

/** A media type fit to store and send in a header (`type/subtype`, lower case), else `application/octet-stream`. */
export function cleanContentType(contentType: string | undefined): string {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  return t && /^[a-z0-9][a-z0-9.+-]*\/[a-z0-9][a-z0-9.+-]*$/.test(t) ? t : 'application/octet-stream';
}

/** A sender's file name, fit to show: no path, no control characters, bounded length. */
export function cleanMediaName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  // eslint-disable-next-line no-control-regex
  const base = name.replace(/[\u0000-\u001f\u007f]/g, '').split(/[\\/]/).pop()!.trim();
  return base ? base.slice(0, MAX_MEDIA_NAME_LENGTH) : undefined;
}
