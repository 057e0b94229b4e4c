/**
 * An agent's file to WhatsApp: uploaded first to `POST /{phone-number-id}/media` (multipart: `file`,
 * its `type`, `messaging_product`), then sent by the returned id. Meta also accepts a `link`, but it
 * fetches that link from the public internet, and our files are only served to authenticated agents
 * and customers; an upload needs no public URL and the id is good for 30 days.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#upload-media
 */
import type { Activity } from 'botbuilder';
import type { GraphClient } from '../shared/graph-client.js';
import { formBlob, loadOutbound } from '../../src/media/outbound.js';
import type { MediaStore } from '../../src/media/store.js';
import type { WhatsAppUpload } from './outbound.js';

/** Uploads the stored files `activity` attaches; their ids for `renderWhatsApp`. */
export async function uploadWhatsAppMedia(graph: GraphClient, phoneNumberId: string, media: MediaStore | undefined, activity: Partial<Activity>): Promise<WhatsAppUpload[]> {
  const files = await loadOutbound(media, 'whatsapp', activity.attachments);
  const uploads: WhatsAppUpload[] = [];
  for (const file of files) {
    const form = () => {
      const f = new FormData();
      f.append('messaging_product', 'whatsapp');
      f.append('type', file.record.contentType);
      f.append('file', formBlob(file), file.record.name ?? (file.kind === 'image' ? 'image' : 'document'));
      return f;
    };
    const res = await graph.postForm<{ id?: string }>(`/${encodeURIComponent(phoneNumberId)}/media`, form);
    if (!res.id) throw new Error('whatsapp: POST /media answered without an id');
    uploads.push({ kind: file.kind === 'image' ? 'image' : 'document', id: res.id, ...(file.kind !== 'image' && file.record.name ? { filename: file.record.name } : {}) });
  }
  return uploads;
}
