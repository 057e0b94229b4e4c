/**
 * Agents' attachments: `POST /api/agent/conversations/{id}/attachments` stores one file (multipart,
 * field `file`) for the conversation the agent holds and answers `{mediaId, ...}`; the reply
 * `POST …/{id}/messages {text?, attachments: [mediaId]}` then carries it. Both check the file against
 * the customer's channel (kind and size), so the agent hears why a file cannot go before it is sent.
 */
import type { IncomingMessage } from 'node:http';
import type { Attachment } from 'botbuilder';
import { FormError, readMultipart } from '../media/multipart.js';
import {
  AGENT_ATTACHMENT_TYPES,
  MAX_AGENT_ATTACHMENT_BYTES,
  MediaMissingError,
  MediaRefusedError,
  mediaAttachment,
  outboundKind,
  sniffContentType,
} from '../media/outbound.js';
import { MediaTooLargeError, type MediaRecord, type MediaStore } from '../media/store.js';

/** Largest form field besides the file (none is needed; a browser may add a small one). */
const MAX_FIELD_BYTES = 1024;
/** Parts of the attachment form: the file and at most one other field. */
const MAX_FORM_PARTS = 2;
/** What a form may carry besides the file's bytes (boundaries, part headers, the extra field). */
const FORM_OVERHEAD_BYTES = 64 * 1024;

/** An attachment request refused, as the agent API answers it. */
export interface AttachmentRefusal {
  status: number;
  code: string;
  message: string;
}

/** The HTTP answer for a media error (refused kind or size, malformed form, file gone); undefined for any other error. */
export function attachmentRefusal(err: unknown): AttachmentRefusal | undefined {
  if (err instanceof MediaRefusedError) return { status: err.status, code: err.code, message: `agent API: ${err.message}` };
  if (err instanceof MediaTooLargeError) return { status: 413, code: 'PayloadTooLarge', message: `agent API: ${err.message}` };
  if (err instanceof MediaMissingError) return { status: 404, code: 'NotFound', message: `agent API: ${err.message}` };
  if (err instanceof FormError) {
    const code = err.status === 413 ? 'PayloadTooLarge' : err.status === 415 ? 'UnsupportedMediaType' : 'BadRequest';
    return { status: err.status, code, message: `agent API: ${err.message}` };
  }
  return undefined;
}

const noStore = () => new MediaMissingError('attachments: this server keeps no files (no media store)');

/**
 * Reads the one file of the request, checks what it really is and that the conversation's channel
 * can send it, and stores it with the conversation.
 */
export async function storeAgentAttachment(req: IncomingMessage, media: MediaStore | undefined, conversation: { id: string; channelId: string }): Promise<MediaRecord> {
  if (!media) {
    req.resume();
    throw noStore();
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_AGENT_ATTACHMENT_BYTES + FORM_OVERHEAD_BYTES) {
    req.resume();
    throw new MediaRefusedError(413, `the request is ${declared} bytes; attachments are at most ${MAX_AGENT_ATTACHMENT_BYTES} bytes`);
  }
  const parts = await readMultipart(req, { maxParts: MAX_FORM_PARTS, maxPartBytes: (f) => (f === 'file' ? MAX_AGENT_ATTACHMENT_BYTES : MAX_FIELD_BYTES) }, 'attachments');
  const file = parts.find((p) => p.field === 'file');
  if (!file || file.bytes.length === 0) throw new FormError(400, 'attachments: send the file as the form field "file"');
  const contentType = sniffContentType(file.bytes);
  if (!contentType || !AGENT_ATTACHMENT_TYPES.includes(contentType)) {
    throw new MediaRefusedError(415, `${file.filename ? `"${file.filename}"` : 'the file'} is not a PNG, JPEG or PDF; replies can carry only those`);
  }
  const described = { contentType, size: file.bytes.length, ...(file.filename ? { name: file.filename } : {}) };
  outboundKind(conversation.channelId, described); // refused here, before it is kept
  return media.put({ conversationId: conversation.id, channelId: conversation.channelId, bytes: file.bytes, ...described });
}

/** The attachments of a reply: each id a file stored for this conversation and sendable on its channel. */
export async function replyAttachments(media: MediaStore | undefined, conversation: { id: string; channelId: string }, mediaIds: string[]): Promise<Attachment[]> {
  if (mediaIds.length === 0) return [];
  if (!media) throw noStore();
  const attachments: Attachment[] = [];
  for (const mediaId of mediaIds) {
    const found = await media.get(mediaId);
    // A file of another conversation is answered exactly like a missing one.
    if (!found || found.record.conversationId !== conversation.id) throw new MediaMissingError(`messages: no file ${mediaId} in this conversation; upload it with POST …/attachments first`);
    outboundKind(conversation.channelId, found.record);
    attachments.push(mediaAttachment(found.record));
  }
  return attachments;
}
