/** Entries shared by the search and recognizer tests. */
import type { KnowledgeEntry } from '../../src/knowledge/types.js';

/** A knowledge entry with the loader's defaults. */
export function entry(id: string, question: string, alternates: string[], extra: Partial<KnowledgeEntry> = {}): KnowledgeEntry {
  return {
    id,
    question,
    alternates,
    answer: `Answer of ${id}`,
    tags: [],
    locale: 'en',
    handoff: false,
    followUps: [],
    source: { path: `${id}.md`, line: 1 },
    ...extra,
  };
}

/** A small help centre like the one in knowledge/: a few phrasings per entry. */
export function helpCentre(): KnowledgeEntry[] {
  return [
    entry('billing/pay-by-card', 'How can I pay my bill by card?', ['pay invoice with credit card', 'can I use my visa to pay', 'pay bill with debit card']),
    entry('billing/due-date', 'When is my bill due?', ['what is the due date of my invoice', 'when do I have to pay my bill', 'payment deadline']),
    entry('billing/refund', 'How do I get a refund?', ['I was charged twice and want my money back', 'refund for a wrong charge', 'can I get reimbursed']),
    entry('account/reset-password', 'I forgot my password', ['reset my password', 'cannot log in to my account', 'change my login password']),
    entry('roaming/activate', 'How do I turn on roaming?', ['use my phone abroad', 'activate roaming before travelling', 'will my sim work in another country']),
    entry('sim/esim', 'Can I get an eSIM?', ['switch from physical sim to esim', 'does my phone support esim', 'order an esim']),
    entry('delivery/track', 'Where is my order?', ['track my delivery', 'my parcel has not arrived', 'when will my new phone be delivered']),
    entry('stores/hours', 'What are your store opening hours?', ['when are your shops open', 'is the store open on sunday', 'closing time of the shop']),
    entry('plans/upgrade', 'How do I upgrade my phone?', ['I want a new phone', 'am I eligible for an upgrade', 'trade in my old handset']),
    entry('contract/cancel', 'How do I cancel my contract?', ['terminate my contract', 'I want to leave', 'end my subscription'], { handoff: true }),
    entry('smalltalk/hello', 'Hello', ['hi', 'good morning', 'hey there']),
    entry('smalltalk/thanks', 'Thank you', ['thanks a lot', 'cheers', 'that helped']),
  ];
}
