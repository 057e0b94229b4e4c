/**
 * The knowledge edit and the saved customer questions the `kb diff` tests share: "after" adds a
 * card-payment entry and takes the lost-or-stolen entry off web chat.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KnowledgeBase } from '../../src/knowledge/knowledge-base.js';
import { QuestionRecorder, type QuestionsStore } from '../../src/knowledge/questions-store.js';

export const PAY_BY_CARD = `---
question: Can I pay my bill by card?
alternates:
  - pay by credit card
  - pay with my debit card
  - can I use my visa to pay
  - card payment for my bill
tags: [billing, payments]
---
Yes: in the app under **Billing → Pay now**, by debit or credit card.
`;

/** The edit: a new entry takes card payments from billing/pay-bill; the lost-or-stolen entry goes WhatsApp-only. */
export async function editKnowledge(dir: string): Promise<void> {
  await writeFile(path.join(dir, 'billing', 'pay-by-card.md'), PAY_BY_CARD);
  const stolen = path.join(dir, 'sim', 'lost-stolen.md');
  const text = await readFile(stolen, 'utf8');
  await writeFile(stolen, text.replace('question: My phone has been lost or stolen\n', 'question: My phone has been lost or stolen\nchannels: [whatsapp]\n'));
}

/** What customers asked on web chat, and how often: the first three change with the edit, the last two do not. */
export const ASKED: [string, number][] = [
  ['can I pay by credit card', 3],
  ['someone stole my mobile', 2],
  ['block my sim', 1],
  ['how do I top up my prepaid', 5],
  ['How can I pay my bill?', 4],
];

/** Saves `ASKED` through the bot's recorder, with the decisions `knowledgeDir` gives them. */
export async function saveAsked(store: QuestionsStore, knowledgeDir: string): Promise<void> {
  const kb = await KnowledgeBase.open(knowledgeDir, { watch: false });
  const recorder = new QuestionRecorder(store);
  for (const [text, times] of ASKED) {
    for (let i = 0; i < times; i++) recorder.record(i % 2 ? text.toUpperCase() : text, kb.decide(text, { channel: 'webchat' }), { channel: 'webchat' });
  }
  await recorder.flush();
  await kb.close();
}
