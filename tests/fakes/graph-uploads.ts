/**
 * The multipart half of the fake Graph API: files our server sends to Meta, checked as Meta documents them.
 * - WhatsApp `POST /{phone-number-id}/media`: fields `messaging_product=whatsapp`, `type` (the MIME type)
 *   and `file`; images JPEG/PNG up to 5 MB, documents (PDF, ...) up to 100 MB; answers `{id}`, which a
 *   later `image`/`document` message may name. https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#upload-media
 * - Messenger `POST /me/messages` as multipart: `recipient` and `message` as JSON strings,
 *   `messaging_type` (and `tag`), the file as `filedata`; `message.attachment.type` image/video/audio/file,
 *   up to 25 MB. https://developers.facebook.com/docs/messenger-platform/send-messages#file
 */
import type { IncomingHttpHeaders } from 'node:http';
import busboy from 'busboy';

const MB = 1024 * 1024;

/** A file the fake received. */
export interface UploadedFile {
  api: 'whatsapp' | 'messenger';
  /** WhatsApp media id, or the Messenger message id. */
  id: string;
  field: string;
  filename?: string;
  /** The part's Content-Type. */
  contentType: string;
  bytes: Buffer;
  /** The other form fields, as sent. */
  fields: Record<string, string>;
}

interface Form {
  fields: Record<string, string>;
  files: { field: string; filename?: string; contentType: string; bytes: Buffer }[];
}

type Answer = [number, unknown, Record<string, string>?];

const WHATSAPP_UPLOAD_LIMITS: Record<string, number> = {
  'image/jpeg': 5 * MB,
  'image/png': 5 * MB,
  'application/pdf': 100 * MB,
  'text/plain': 100 * MB,
};
const MESSENGER_FILE_LIMIT = 25 * MB;

const error = (status: number, code: number, message: string): Answer => [status, { error: { message, type: 'OAuthException', code, fbtrace_id: 'AFakeTrace' } }];

/** Parses and answers multipart requests for `FakeGraph`. */
export class FakeGraphUploads {
  readonly files: UploadedFile[] = [];
  private seq = 0;

  constructor(
    private readonly options: {
      pageAccessToken: () => string;
      whatsappAccessToken: () => string;
      phoneNumberId: () => string;
      /** True when free-form sends to this recipient are outside the window. */
      windowClosed: (recipientId: string) => boolean;
    },
  ) {}

  /** True for a WhatsApp media id this fake handed out. */
  has(mediaId: string): boolean {
    return this.files.some((f) => f.api === 'whatsapp' && f.id === mediaId);
  }

  /** The form in a buffered body; undefined unless the request is multipart. */
  async parse(headers: IncomingHttpHeaders, body: Buffer): Promise<Form | undefined> {
    if (!/^multipart\/form-data/i.test(String(headers['content-type'] ?? ''))) return undefined;
    return new Promise((resolve, reject) => {
      const form: Form = { fields: {}, files: [] };
      const bb = busboy({ headers });
      bb.on('field', (name, value) => (form.fields[name] = value));
      bb.on('file', (field, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => form.files.push({ field, filename: info.filename, contentType: info.mimeType, bytes: Buffer.concat(chunks) }));
      });
      bb.on('close', () => resolve(form));
      bb.on('error', reject);
      bb.end(body);
    });
  }

  /** The answer to a multipart request at `path` (after `/v<version>/`); `kind` says what it was. */
  route(method: string, path: string, token: string | undefined, form: Form): { api: 'whatsapp' | 'messenger' | 'unknown'; isMessage: boolean; answer: Answer } {
    if (method === 'POST' && path === `${this.options.phoneNumberId()}/media`) return { api: 'whatsapp', isMessage: false, answer: this.whatsappUpload(token, form) };
    if (method === 'POST' && path === 'me/messages') return { api: 'messenger', isMessage: true, answer: this.messengerSend(token, form) };
    return { api: 'unknown', isMessage: false, answer: error(400, 2500, `Unknown path components: /${path} (multipart)`) };
  }

  private whatsappUpload(token: string | undefined, form: Form): Answer {
    if (token !== this.options.whatsappAccessToken()) return error(401, 190, 'Invalid OAuth access token - Cannot parse access token');
    if (form.fields.messaging_product !== 'whatsapp') return error(400, 100, '(#100) The parameter messaging_product is required.');
    const type = form.fields.type;
    if (!type) return error(400, 100, '(#100) The parameter type is required.');
    const file = form.files.find((f) => f.field === 'file');
    if (!file) return error(400, 100, '(#100) The parameter file is required.');
    if (file.contentType !== type) return error(400, 131053, `(#131053) Media upload error: file type ${file.contentType} does not match type ${type}`);
    const limit = WHATSAPP_UPLOAD_LIMITS[type];
    if (limit === undefined) return error(400, 131053, `(#131053) Media upload error: unsupported type ${type}`);
    if (file.bytes.length > limit) return error(400, 131053, `(#131053) Media upload error: file over ${limit} bytes`);
    const id = `wa-media-${++this.seq}`;
    this.files.push({ api: 'whatsapp', id, ...file, fields: form.fields });
    return [200, { id }];
  }

  private messengerSend(token: string | undefined, form: Form): Answer {
    if (token !== this.options.pageAccessToken()) return error(400, 190, 'Invalid OAuth access token - Cannot parse access token');
    let recipient: { id?: string } | undefined;
    let message: { attachment?: { type?: string; payload?: Record<string, unknown> } } | undefined;
    try {
      recipient = JSON.parse(form.fields.recipient ?? 'null');
      message = JSON.parse(form.fields.message ?? 'null');
    } catch {
      return error(400, 100, '(#100) recipient and message must be JSON');
    }
    if (!recipient?.id) return error(400, 100, '(#100) The parameter recipient is required');
    if (!['RESPONSE', 'UPDATE', 'MESSAGE_TAG'].includes(form.fields.messaging_type ?? '')) return error(400, 100, '(#100) messaging_type is required');
    if ((form.fields.messaging_type === 'MESSAGE_TAG') !== (form.fields.tag !== undefined)) return error(400, 100, '(#100) tag is required with MESSAGE_TAG and only then');
    const kind = message?.attachment?.type;
    if (!kind || !['image', 'video', 'audio', 'file'].includes(kind) || typeof message?.attachment?.payload !== 'object') return error(400, 100, '(#100) message.attachment with type and payload is required');
    if (message.attachment!.payload!.url !== undefined) return error(400, 100, '(#100) send either payload.url or filedata, not both');
    const file = form.files.find((f) => f.field === 'filedata');
    if (!file) return error(400, 100, '(#100) filedata is required for an attachment without a url');
    if (file.bytes.length > MESSENGER_FILE_LIMIT) return error(400, 100, '(#100) the attachment is over 25 MB');
    if (kind === 'image' && !file.contentType.startsWith('image/')) return error(400, 100, `(#100) an image attachment cannot be ${file.contentType}`);
    if (this.options.windowClosed(recipient.id) && form.fields.tag !== 'HUMAN_AGENT') return error(400, 10, '(#10) This message is sent outside of allowed window.');
    const id = `m_fake_upload_${++this.seq}`;
    this.files.push({ api: 'messenger', id, ...file, fields: form.fields });
    return [200, { recipient_id: recipient.id, message_id: id, ...(message.attachment!.payload!.is_reusable ? { attachment_id: `att_${this.seq}` } : {}) }];
  }
}
