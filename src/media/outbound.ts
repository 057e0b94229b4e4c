/**
 * Files going out to customers: which kinds an agent may attach, how an attachment in an activity
 * names a stored file, what the content really is (sniffed, never the sender's claim), and whether a
 * channel can carry a file of that kind and size — so the agent is told why not before anything is sent.
 *
 * An activity refers to a stored file by an attachment whose `contentUrl` is the agent route
 * `/api/agent/media/{id}` (what the console fetches); each channel adapter turns it into its own
 * format: a WhatsApp media message, a Messenger attachment, a Web Chat attachment with a signed URL.
 */
import type { Attachment } from 'botbuilder';
import { MEDIA_ROUTE_PREFIX, mediaContentUrl } from './attachments.js';
import { MAX_MEDIA_BYTES, MESSENGER_MEDIA_LIMIT, WHATSAPP_MEDIA_LIMITS, type MediaRecord, type MediaStore } from './store.js';

const MB = 1024 * 1024;

/** What an agent may attach to a reply: pictures and PDFs, which every channel shows or offers as a download. */
export const AGENT_ATTACHMENT_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'application/pdf'];
/** Largest file an agent may attach (the largest any channel below carries; each channel may allow less). */
export const MAX_AGENT_ATTACHMENT_BYTES = MAX_MEDIA_BYTES;
/** Files one agent reply may carry (each goes out as a message of its own on the Meta channels). */
export const MAX_AGENT_ATTACHMENTS = 3;

/** WhatsApp media captions: at most 1,024 characters. https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#media-object */
export const WHATSAPP_CAPTION_LIMIT = 1024;

/** The agent route of a stored file (`mediaContentUrl`), as transcripts and activities name it. */
const MEDIA_ID_IN_URL = new RegExp(`^${MEDIA_ROUTE_PREFIX}(m_[A-Za-z0-9_-]{24})$`);

/** The attachment that sends stored file `record` (the console shows it from `contentUrl`). */
export function mediaAttachment(record: Pick<MediaRecord, 'id' | 'contentType' | 'name'>): Attachment {
  return { contentType: record.contentType, contentUrl: mediaContentUrl(record.id), ...(record.name ? { name: record.name } : {}) };
}

/** The stored file an attachment refers to (`/api/agent/media/{id}`); undefined for any other. */
export function mediaIdOf(attachment: Partial<Attachment> | undefined): string | undefined {
  const url = attachment?.contentUrl;
  return typeof url === 'string' ? MEDIA_ID_IN_URL.exec(url)?.[1] : undefined;
}

/** The attachments of an activity that are stored files, with their ids. */
export function storedAttachments(attachments: Partial<Attachment>[] | undefined): { attachment: Partial<Attachment>; mediaId: string }[] {
  return (attachments ?? []).flatMap((attachment) => {
    const mediaId = mediaIdOf(attachment);
    return mediaId ? [{ attachment, mediaId }] : [];
  });
}

/**
 * The content type the bytes really have, from their first bytes, for the kinds this server accepts
 * (PNG, JPEG, GIF, WebP, PDF); undefined for anything else. A declared type is never trusted: a
 * browser labels by file name, and a file that is not what it says must not reach an agent's screen.
 */
export function sniffContentType(bytes: Buffer): string | undefined {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x47, 0x49, 0x46, 0x38])) return 'image/gif';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return 'application/pdf';
  return undefined;
}

/** A file a channel or route will not take: 413 (too large) or 415 (kind), with the reason in words. */
export class MediaRefusedError extends Error {
  override readonly name = 'MediaRefusedError';
  constructor(
    readonly status: 413 | 415,
    message: string,
  ) {
    super(message);
  }
  get code(): string {
    return this.status === 413 ? 'PayloadTooLarge' : 'UnsupportedMediaType';
  }
}

const inMb = (bytes: number) => `${Math.round((bytes / MB) * 10) / 10} MB`;

/** How a channel sends one stored file. */
export type OutboundKind = 'image' | 'document' | 'file';

/**
 * How `channelId` sends `record` (WhatsApp `image`/`document`, Messenger `image`/`file`, Web Chat
 * an attachment), or `MediaRefusedError` saying why it cannot.
 */
export function outboundKind(channelId: string, record: Pick<MediaRecord, 'contentType' | 'size' | 'name'>): OutboundKind {
  const label = record.name ? `"${record.name}"` : 'the file';
  if (!AGENT_ATTACHMENT_TYPES.includes(record.contentType)) {
    throw new MediaRefusedError(415, `${label} is ${record.contentType}; replies can carry PNG or JPEG images and PDF documents`);
  }
  const image = record.contentType.startsWith('image/');
  const tooLarge = (limit: number, what: string) => {
    if (record.size > limit) throw new MediaRefusedError(413, `${label} is ${inMb(record.size)}; ${what} up to ${inMb(limit)}`);
  };
  switch (channelId) {
    case 'whatsapp':
      tooLarge(image ? WHATSAPP_MEDIA_LIMITS.image : WHATSAPP_MEDIA_LIMITS.document, image ? 'WhatsApp sends images' : 'WhatsApp sends documents');
      return image ? 'image' : 'document';
    case 'messenger':
    case 'facebook':
      tooLarge(MESSENGER_MEDIA_LIMIT, 'Messenger sends files');
      return image ? 'image' : 'file';
    default:
      tooLarge(MAX_MEDIA_BYTES, 'this server keeps files');
      return image ? 'image' : 'file';
  }
}

/** A stored file ready to go out on a channel. */
export interface OutboundFile {
  record: MediaRecord;
  bytes: Buffer;
  kind: OutboundKind;
}

/** Sending needs a file that is not (or no longer) stored: erased with its conversation, or no media store. */
export class MediaMissingError extends Error {
  override readonly name = 'MediaMissingError';
}

/**
 * The stored files an activity attaches, each checked for `channelId` before any is sent (so a refused
 * file never leaves half a reply behind); `MediaRefusedError` or `MediaMissingError` otherwise.
 */
export async function loadOutbound(media: Pick<MediaStore, 'get'> | undefined, channelId: string, attachments: Partial<Attachment>[] | undefined): Promise<OutboundFile[]> {
  const stored = storedAttachments(attachments);
  if (stored.length === 0) return [];
  if (!media) throw new MediaMissingError(`${channelId}: this server keeps no files (no media store), so attachments cannot be sent`);
  const files: OutboundFile[] = [];
  for (const { mediaId } of stored) {
    const found = await media.get(mediaId);
    if (!found) throw new MediaMissingError(`${channelId}: file ${mediaId} is no longer stored; attach it again`);
    files.push({ ...found, kind: outboundKind(channelId, found.record) });
  }
  return files;
}

/** The bytes of `file` as a form part (Graph API uploads). */
export function formBlob(file: OutboundFile): Blob {
  return new Blob([new Uint8Array(file.bytes)], { type: file.record.contentType });
}
