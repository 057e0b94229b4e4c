/**
 * How a stored file is answered to an agent (`GET /api/agent/media/{id}`). The bytes come from
 * customers, so the response is built to be harmless whatever they are: the stored type is sent only
 * when a browser cannot run it (raster images, audio, video are shown inline; HTML, SVG, XML, PDF and
 * everything else are downloads typed as octet-stream), `nosniff` stops the browser from guessing
 * otherwise, and a sandboxing CSP covers a file opened on its own.
 */
import type { ServerResponse } from 'node:http';
import type { Activity } from 'botbuilder';
import type { MediaRecord, MediaStore } from './store.js';

/** Types shown inline: a browser renders them without running anything in them. */
const INLINE_TYPES = /^(image\/(png|jpeg|gif|webp|avif|bmp)|audio\/[a-z0-9.+-]+|video\/[a-z0-9.+-]+)$/;

/** The CSP of a served file: nothing loads, nothing runs, even if a browser opens it as a page. */
export const MEDIA_RESPONSE_CSP = "default-src 'none'; sandbox";

/** Whether a stored type is served as itself and inline (else as a download). */
export function servesInline(contentType: string): boolean {
  return INLINE_TYPES.test(contentType.toLowerCase());
}

/** `Content-Disposition` with an ASCII fallback name and the exact one in RFC 5987 form. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_') || 'file';
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** A download name for a record: its own, else one made from its kind and type. */
export function downloadName(record: MediaRecord): string {
  if (record.name) return record.name;
  const ext = /^[a-z]+\/([a-z0-9]+)$/.exec(record.contentType.toLowerCase())?.[1];
  return `${record.id}${ext && ext !== 'octet' ? '.' + ext.replace('jpeg', 'jpg') : ''}`;
}

/** Writes the file as the agent route answers it. */
export function sendMedia(res: ServerResponse, found: { record: MediaRecord; bytes: Buffer }): void {
  const inline = servesInline(found.record.contentType);
  res.writeHead(200, {
    'Content-Type': inline ? found.record.contentType : 'application/octet-stream',
    'Content-Length': String(found.bytes.length),
    'Content-Disposition': contentDisposition(inline ? 'inline' : 'attachment', downloadName(found.record)),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': MEDIA_RESPONSE_CSP,
    'Cache-Control': 'private, no-store',
  });
  res.end(found.bytes);
}

/** The files of every conversation a transcript spans (a customer's transcript covers all of theirs), oldest first. */
export async function mediaOfTranscript(store: MediaStore, transcript: Partial<Activity>[]): Promise<MediaRecord[]> {
  const ids = [...new Set(transcript.map((a) => a.conversation?.id).filter((id): id is string => !!id))];
  const lists = await Promise.all(ids.map((id) => store.list(id)));
  return lists.flat().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
