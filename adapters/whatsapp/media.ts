/**
 * WhatsApp media and locations in a webhook message → the activity's text and attachments. Pure: the
 * file itself is fetched during the turn (`MediaFetcher`), from the media id the webhook gives.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/image
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/location
 */
import type { Attachment } from 'botbuilder';
import type { MediaKind } from '../../src/media/store.js';
import type { GraphClient } from '../shared/graph-client.js';
import { MediaDownloadError, locationAttachment, locationText, pendingMediaAttachment, type MediaLocation, type PendingMedia } from '../shared/media.js';

/** Message types whose part is a media object `{id, mime_type, sha256, caption?, filename?}`. */
const MEDIA_TYPES: ReadonlySet<string> = new Set<MediaKind>(['image', 'video', 'audio', 'document', 'sticker']);

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);

/**
 * The text (the caption, or a location in words) and attachments of a media or location message;
 * undefined for any other type, or a part without what it needs (no media id, no coordinates).
 */
export function whatsappMediaOf(m: { type: string } & Record<string, unknown>): { text: string; attachments: Attachment[] } | undefined {
  const part = m[m.type] as Record<string, unknown> | undefined;
  if (!part || typeof part !== 'object') return undefined;
  if (MEDIA_TYPES.has(m.type)) {
    const mediaId = str(part.id) ?? (typeof part.id === 'number' ? String(part.id) : undefined);
    if (!mediaId) return undefined;
    const attachment = pendingMediaAttachment({
      kind: m.type as MediaKind,
      mediaId,
      contentType: str(part.mime_type),
      name: str(part.filename),
      sha256: str(part.sha256),
      source: `whatsapp:${mediaId}`,
    });
    return { text: str(part.caption) ?? '', attachments: [attachment] };
  }
  if (m.type === 'location') {
    const latitude = num(part.latitude);
    const longitude = num(part.longitude);
    if (latitude === undefined || longitude === undefined) return undefined;
    const place = { latitude, longitude, name: str(part.name), address: str(part.address) };
    return { text: locationText(place), attachments: [locationAttachment(place)] };
  }
  return undefined;
}

/**
 * Where a WhatsApp media id can be downloaded: `GET /{media-id}?phone_number_id=` answers a URL valid
 * for five minutes, which needs the same Bearer token (one attempt: `MediaFetcher` retries the pair).
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#retrieve-media-url
 */
export async function locateWhatsAppMedia(graph: GraphClient, p: PendingMedia, account: { accessToken: string; phoneNumberId: string }): Promise<MediaLocation> {
  if (!p.mediaId) throw new MediaDownloadError(`no media id (${p.source})`, false);
  const r = await graph.get<{ url?: unknown; mime_type?: unknown; sha256?: unknown; file_size?: unknown }>(
    `/${encodeURIComponent(p.mediaId)}`,
    { phone_number_id: account.phoneNumberId },
    { maxAttempts: 1 },
  );
  const url = str(r.url);
  if (!url) throw new MediaDownloadError('Meta gave no download URL for the media id', false);
  return { url, headers: { authorization: `Bearer ${account.accessToken}` }, contentType: str(r.mime_type), size: num(r.file_size), sha256: str(r.sha256) };
}
