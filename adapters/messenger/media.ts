/**
 * Messenger attachments in a webhook message → the activity's attachments (and text, for a location).
 * Pure: files are fetched during the turn (`MediaFetcher`) from the CDN URL in `payload.url`.
 * @see https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
 */
import type { Attachment } from 'botbuilder';
import type { MediaKind } from '../../src/media/store.js';
import { locationAttachment, locationText, pendingMediaAttachment } from '../shared/media.js';

/** Attachment types Messenger delivers as a downloadable file, and the kind each is kept as. */
const FILE_KINDS: Readonly<Record<string, MediaKind>> = { image: 'image', video: 'video', audio: 'audio', file: 'document' };

interface MessengerAttachment {
  type: string;
  title?: string;
  payload?: any;
}

/** The file name in a CDN URL's path (`…/report.pdf?…` → `report.pdf`), for documents only. */
function fileNameOf(url: string): string | undefined {
  try {
    const last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
    return /\.[A-Za-z0-9]{1,8}$/.test(last) ? last : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Attachments of one message: files (images, videos, audio, files, stickers) as pending downloads,
 * a location as coordinates with its text, anything else (shares, templates, fallbacks) as it came.
 * `mid` makes each file's `source`, so a redelivered message is stored once.
 */
export function messengerMediaOf(mid: string, attachments: MessengerAttachment[], stickerId?: number | string): { text?: string; attachments: Attachment[] } {
  const texts: string[] = [];
  const out = attachments.map((a, i): Attachment => {
    const url = typeof a.payload?.url === 'string' ? (a.payload.url as string) : undefined;
    const kind = FILE_KINDS[a.type];
    if (kind && url) {
      const sticker = a.payload?.sticker_id !== undefined || (stickerId !== undefined && a.type === 'image');
      return pendingMediaAttachment({
        kind: sticker ? 'sticker' : kind,
        url,
        name: kind === 'document' ? (a.title ?? fileNameOf(url)) : undefined,
        source: `messenger:${mid}:${i}`,
      });
    }
    const c = a.payload?.coordinates;
    if (a.type === 'location' && typeof c?.lat === 'number' && typeof c?.long === 'number') {
      const place = { latitude: c.lat, longitude: c.long, name: a.title };
      texts.push(locationText(place));
      return locationAttachment(place);
    }
    return { contentType: `application/vnd.facebook.${a.type}`, contentUrl: url, name: a.title ?? a.type, content: a.payload };
  });
  return { ...(texts.length ? { text: texts.join('\n') } : {}), attachments: out };
}
