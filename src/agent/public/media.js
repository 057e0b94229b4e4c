// @ts-check
// Files in the console's transcript: a customer's photo shown inline, any other file as a download
// link with its name and size, a file that could not be fetched as a line saying why, a location as a
// map link. Files are fetched from /api/agent/media/{id} with the agent's token (an <img src> could not
// send it) and shown through blob: URLs, kept per media id while the page lives.

/** @typedef {{ contentType?: string, name?: string, contentUrl?: string, content?: any }} Attachment */

const MEDIA_PREFIX = '/api/agent/media/';
const UNAVAILABLE = 'application/vnd.switchboard.media.unavailable+json';
const LOCATION = 'application/vnd.switchboard.location+json';
/** Types the server serves inline (src/media/serve.ts); every other file is a download. */
const INLINE_IMAGE = /^image\/(png|jpeg|gif|webp|avif|bmp)$/;
/** Blob URLs kept at most; past this the oldest is revoked (an image shown again is fetched again). */
const MAX_BLOBS = 200;

/** @type {Map<string, Promise<string>>} media URL → blob: URL */
const blobs = new Map();

/** @param {number} n bytes @returns {string} */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The file behind `url` as a blob: URL, fetched once with the token.
 * @param {string} url @param {string} token @returns {Promise<string>}
 */
function blobUrl(url, token) {
  let p = blobs.get(url);
  if (!p) {
    p = fetch(url, { headers: { authorization: `Bearer ${token}` } }).then(async (res) => {
      if (!res.ok) throw new Error(`${res.status}`);
      return URL.createObjectURL(await res.blob());
    });
    p.catch(() => blobs.delete(url)); // a failed fetch is tried again next time
    blobs.set(url, p);
    if (blobs.size > MAX_BLOBS) {
      const [oldest, first] = blobs.entries().next().value ?? [];
      if (oldest) blobs.delete(oldest);
      first?.then((u) => URL.revokeObjectURL(u), () => undefined);
    }
  }
  return p;
}

/**
 * @param {string} tag @param {Record<string, string>} attrs @param {...(string | Node)} children
 * @returns {HTMLElement}
 */
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/**
 * What the transcript shows for one attachment, or undefined for one it does not show (a card).
 * `records` are the conversation's media (`GET …/conversations/{id}` → `media`), for names and sizes.
 * @param {Attachment} a @param {{ token: string, records?: { id: string, name?: string, size: number, contentType: string }[] }} options
 * @returns {HTMLElement | undefined}
 */
export function attachmentView(a, { token, records = [] }) {
  if (a.contentType === UNAVAILABLE) {
    const reason = a.content?.reason ?? 'unknown reason';
    return h('div', { class: 'media-missing', 'data-testid': 'media-unavailable' }, `${a.content?.kind || 'file'} (could not be downloaded: ${reason})`);
  }
  if (a.contentType === LOCATION && typeof a.content?.latitude === 'number' && typeof a.content?.longitude === 'number') {
    const { latitude: lat, longitude: lon } = a.content;
    const map = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
    return h('a', { class: 'media-location', href: map, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'media-location' }, 'Open the location on a map');
  }
  if (!a.contentUrl?.startsWith(MEDIA_PREFIX)) return undefined;
  const id = decodeURIComponent(a.contentUrl.slice(MEDIA_PREFIX.length));
  const record = records.find((r) => r.id === id);
  const type = (record?.contentType ?? a.contentType ?? '').toLowerCase();
  const name = record?.name ?? a.name ?? 'file';
  const size = record?.size ?? a.content?.size;
  const label = `${name}${typeof size === 'number' ? ` (${formatSize(size)})` : ''}`;
  if (INLINE_IMAGE.test(type)) {
    const img = /** @type {HTMLImageElement} */ (h('img', { alt: name, 'data-testid': 'media-image' }));
    const figure = h('figure', { class: 'media-image' }, img);
    blobUrl(a.contentUrl, token).then(
      (u) => (img.src = u),
      () => figure.replaceChildren(h('span', { class: 'media-missing' }, `${name}: could not be loaded; reopen the conversation to try again`)),
    );
    return figure;
  }
  const link = /** @type {HTMLAnchorElement} */ (h('a', { class: 'media-file', href: '#', 'data-testid': 'media-download', title: type }, `⬇ ${label}`));
  link.addEventListener('click', (e) => {
    e.preventDefault();
    blobUrl(/** @type {string} */ (a.contentUrl), token).then(
      (u) => {
        const save = /** @type {HTMLAnchorElement} */ (h('a', { href: u, download: name }));
        document.body.append(save);
        save.click();
        save.remove();
      },
      () => (link.textContent = `${label}: could not be downloaded; try again`),
    );
  });
  return link;
}
