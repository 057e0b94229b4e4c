/**
 * How files appear in activities (the transcript, the console, the channels' mappers), one
 * vocabulary for every channel: a stored file is an attachment whose `contentUrl` is the agent route
 * (`mediaContentUrl`) and whose `content` is `MediaAttachmentContent`; a customer's file that could
 * not be fetched, and a shared location, have content types of their own.
 */
import type { Attachment } from 'botbuilder';
import type { MediaKind } from './store.js';

/** Content type of a customer's file announced by a webhook and not fetched yet (only between the webhook and its turn). */
export const PENDING_MEDIA_TYPE = 'application/vnd.switchboard.media.pending+json';
/** Content type of a customer's file that could not be fetched; `content` is `{kind, reason}`. */
export const MEDIA_UNAVAILABLE_TYPE = 'application/vnd.switchboard.media.unavailable+json';
/** Content type of a shared location; `content` is `{latitude, longitude, name?, address?}`. */
export const LOCATION_TYPE = 'application/vnd.switchboard.location+json';

/** Where the agent route serves a stored file. */
export const MEDIA_ROUTE_PREFIX = '/api/agent/media/';

/** The `content` of a stored file's attachment. */
export interface MediaAttachmentContent {
  mediaId: string;
  kind?: MediaKind;
  size: number;
}

/** The agent route that serves a stored file (`GET /api/agent/media/{id}`, agent Bearer auth). */
export function mediaContentUrl(id: string): string {
  return MEDIA_ROUTE_PREFIX + encodeURIComponent(id);
}

/** True for an attachment that points at a stored file. */
export function isStoredMedia(a: Pick<Attachment, 'contentUrl'>): boolean {
  return typeof a.contentUrl === 'string' && a.contentUrl.startsWith(MEDIA_ROUTE_PREFIX);
}

/**
 * The `content` a transcript view keeps of an attachment: the small description of a stored file, an
 * unavailable one or a location (size, reason, coordinates); nothing of any other (cards, raw payloads).
 */
export function mediaContentOf(a: Attachment): Pick<Attachment, 'content'> | Record<string, never> {
  return isStoredMedia(a) || a.contentType === MEDIA_UNAVAILABLE_TYPE || a.contentType === LOCATION_TYPE ? { content: a.content } : {};
}
