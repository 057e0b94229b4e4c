/**
 * An agent's file to Messenger: the Send API with the file itself as multipart `filedata` beside the
 * JSON `recipient`, `message` (`attachment: {type: "image" | "file", payload: {is_reusable: false}}`)
 * and `messaging_type`. One request per file, and no public URL needed (Meta fetches `payload.url`
 * from the internet, and our files are not public). Text goes in messages of its own: a Messenger
 * message is either text or one attachment.
 * https://developers.facebook.com/docs/messenger-platform/send-messages#file
 */
import type { Activity } from 'botbuilder';
import type { GraphClient } from '../shared/graph-client.js';
import { formBlob, loadOutbound, type OutboundFile } from '../../src/media/outbound.js';
import type { MediaStore } from '../../src/media/store.js';

/** The stored files `activity` attaches, checked for Messenger (load before sending anything). */
export function messengerFiles(media: MediaStore | undefined, activity: Partial<Activity>): Promise<OutboundFile[]> {
  return loadOutbound(media, 'messenger', activity.attachments);
}

/** Sends one file with the envelope (`recipient`, `messaging_type`, `tag`) of the text messages; the message id. */
export async function sendMessengerFile(graph: GraphClient, envelope: Record<string, unknown>, file: OutboundFile): Promise<string | undefined> {
  const form = () => {
    const f = new FormData();
    for (const [key, value] of Object.entries(envelope)) f.append(key, typeof value === 'string' ? value : JSON.stringify(value));
    f.append('message', JSON.stringify({ attachment: { type: file.kind === 'image' ? 'image' : 'file', payload: { is_reusable: false } } }));
    f.append('filedata', formBlob(file), file.record.name ?? (file.kind === 'image' ? 'image' : 'file'));
    return f;
  };
  const res = await graph.postForm<{ message_id?: string }>('/me/messages', form);
  return res.message_id;
}
