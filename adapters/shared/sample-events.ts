/**
 * Realistic webhook bodies in Meta's documented shapes, for `npm run simulate`, the tests and the
 * benchmarks, plus Meta's way of serialising them (non-ASCII escaped as `\uXXXX`), so signatures are
 * computed over exactly the bytes Meta would send.
 */
import { randomBytes } from 'node:crypto';

/** JSON as Meta sends it: every non-ASCII character escaped (`ä` → `\u00e4`). */
export function serializeLikeMeta(body: unknown): string {
  return JSON.stringify(body).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** A Messenger page webhook with one text message (`messages` event). */
export function messengerTextWebhook(o: { psid: string; text: string; pageId?: string; mid?: string; timestamp?: number }) {
  const ts = o.timestamp ?? Date.now();
  const pageId = o.pageId ?? '682498302938465';
  return {
    object: 'page',
    entry: [
      {
        id: pageId,
        time: ts,
        messaging: [
          {
            sender: { id: o.psid },
            recipient: { id: pageId },
            timestamp: ts,
            message: { mid: o.mid ?? `m_${randomBytes(12).toString('base64url')}`, text: o.text },
          },
        ],
      },
    ],
  };
}

/** A WhatsApp Business Account webhook with one text message and the sender's profile name. */
export function whatsappTextWebhook(o: { waId: string; text: string; name?: string; phoneNumberId: string; wamid?: string; timestamp?: number }) {
  const ts = Math.floor((o.timestamp ?? Date.now()) / 1000);
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: o.phoneNumberId },
              contacts: [{ profile: { name: o.name ?? 'Test Customer' }, wa_id: o.waId }],
              messages: [
                {
                  from: o.waId,
                  id: o.wamid ?? `wamid.${randomBytes(24).toString('base64url')}`,
                  timestamp: String(ts),
                  type: 'text',
                  text: { body: o.text },
                },
              ],
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}
