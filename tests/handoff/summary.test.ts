import { expect } from 'chai';
import type { Activity } from 'botbuilder';
import {
  customerMessages,
  summarize,
  SUMMARY_MESSAGE_CHARS,
  SUMMARY_TRANSCRIPT_CHARS,
  type SummaryMessage,
} from '../../src/handoff/summary.js';

/** A customer message sent at `iso` from London. */
const said = (text: string, iso: string, extra: Partial<SummaryMessage> = {}): SummaryMessage => ({ text, timestamp: new Date(iso), timeZone: 'Europe/London', ...extra });
const LATER = new Date('2026-11-30T12:00:00Z'); // the summary is made a week later: dates must follow each message, not this

describe('handoff summary for an agent', () => {
  describe('the conversation that showed "date since this morning · date tomorrow · date black friday"', () => {
    const messages = [
      said('hi', '2026-11-23T09:30:00Z'),
      said('My bill is wrong', '2026-11-23T09:31:00Z'),
      said('Billing', '2026-11-23T09:31:10Z', { pick: true }),
      said('and there is no signal since this morning', '2026-11-23T09:32:00Z'),
      said('yes', '2026-11-23T09:32:30Z'),
      said('SW1A 1AA', '2026-11-23T09:33:00Z'),
      said('how much is it to use my phone in the US? I fly tomorrow and I bought the phone on black friday', '2026-11-23T09:34:00Z'),
      said('can I talk to someone', '2026-11-23T09:35:00Z'),
    ];
    const s = summarize(messages, undefined, LATER, { question: 'how much is it to use my phone in the US?' });

    it("puts the customer's problem in their own words first, without greetings, yes/no, picks or the request for a person", () => {
      expect(s.problem).to.deep.equal([
        'My bill is wrong',
        'and there is no signal since this morning',
        'how much is it to use my phone in the US? I fly tomorrow and I bought the phone on black friday',
      ]);
      expect(s.text.indexOf('“')).to.equal(0);
      expect(s.text).to.include('no signal since this morning');
    });

    it('finds the postcode', () => {
      expect(s.postcodes).to.deep.equal(['SW1A 1AA']);
      expect(s.text).to.include('postcode SW1A 1AA');
    });

    it("resolves the dates against each message's own time, never leaving a bare \"this morning\"", () => {
      expect(s.dates).to.deep.equal(['since Mon 23 Nov, morning', 'Tue 24 Nov', 'Fri 27 Nov']);
      expect(s.text).to.include('date since Mon 23 Nov, morning · date Tue 24 Nov · date Fri 27 Nov');
      expect(s.text).not.to.match(/date (since )?this morning|date tomorrow|date black friday/);
    });
  });

  it("reads \"this morning\" in the customer's time zone", () => {
    // 01:00 on Tuesday in Tokyo is still Monday in London.
    const at = '2026-11-23T16:00:00Z';
    expect(summarize([said('no signal since this morning', at, { timeZone: 'Asia/Tokyo' })]).dates).to.deep.equal(['since Tue 24 Nov, morning']);
    expect(summarize([said('no signal since this morning', at)]).dates).to.deep.equal(['since Mon 23 Nov, morning']);
  });

  it('shows a range as "27–29 Nov" and a date in another year with its year', () => {
    const s = summarize([
      said('we travel from 27 to 29 november', '2026-11-02T10:00:00Z'),
      said('the first bill came on 3 January 2025', '2026-11-02T10:01:00Z'),
      said('it has been wrong this month and last week', '2026-11-02T10:02:00Z'),
    ]);
    expect(s.dates).to.deep.equal(['27–29 Nov', 'Fri 3 Jan 2025', 'Nov 2026', '26 Oct – 1 Nov']);
  });

  it('lists amounts with their currency as the customer wrote them', () => {
    const s = summarize(['I was charged 500 EUR instead of €20', 'and refund £30 please', 'another $1,200.50 and EUR 45 and 12,50 euros', 'GBP 30 again']);
    expect(s.amounts).to.deep.equal(['500 EUR', '€20', '£30', '$1,200.50', '45 EUR', '12.50 EUR', '30 GBP']);
    expect(s.text).to.include('amount 500 EUR · amount €20 · amount £30');
  });

  it('lists a detail once, under one kind: an order number is not also a phone number, a date or an amount', () => {
    const s = summarize(
      ['order 1234567890 was charged twice', 'my order 123457 from Monday never came', 'call me on +44 7700 900123, ref AB-55512', 'order 1234567890 again, £30'],
      undefined,
      new Date('2026-11-25T10:00:00Z'),
      { timeZone: 'UTC' },
    );
    expect(s.orderNumbers).to.deep.equal(['1234567890', '123457', 'AB-55512']);
    expect(s.phoneNumbers).to.deep.equal(['+447700900123']);
    expect(s.dates).to.deep.equal(['Mon 23 Nov']);
    expect(s.amounts).to.deep.equal(['£30']);
    for (const value of s.orderNumbers) expect([...s.phoneNumbers, ...s.dates, ...s.amounts!, ...s.postcodes!].join(' ')).not.to.include(value);
  });

  it('writes phone numbers with a country code in E.164 and keeps national ones as written', () => {
    const s = summarize(['+44 7700 900123', 'or 0049 151 23456789', 'or 07700 900124']);
    expect(s.phoneNumbers).to.deep.equal(['+447700900123', '+4915123456789', '07700 900124']);
  });

  it('finds postcodes of other common formats, and ZIP codes only where they read as one', () => {
    const s = summarize(['I live at K1A 0B1', 'Springfield, IL 62701', 'postcode 1012 AB', 'zip 94103', 'order 90210 is late']);
    expect(s.postcodes).to.deep.equal(['K1A 0B1', '62701', '1012 AB', '94103']);
    expect(s.orderNumbers).to.deep.equal(['90210']);
  });

  it('reads a 16,000-character message only up to the bound, and the whole transcript only back to its bound', () => {
    const long = `order 55123 is wrong ${'and more words '.repeat(1100)} order 99999 ada@example.com`;
    expect(long.length).to.be.greaterThan(16_000);
    const one = summarize([long]);
    expect(one.orderNumbers).to.deep.equal(['55123']);
    expect(one.emails).to.deep.equal([]); // beyond SUMMARY_MESSAGE_CHARS
    expect(one.problem![0]!.length).to.be.at.most(200);

    // The date model reads long messages in pieces: what sits past the first piece is still found, once.
    const pieced = summarize([`${'the line was dead '.repeat(20)}order 12345 since yesterday`], undefined, new Date('2026-11-23T10:00:00Z'), { timeZone: 'UTC' });
    expect([pieced.orderNumbers, pieced.dates]).to.deep.equal([['12345'], ['since Sun 22 Nov']]);

    const filler = 'x'.repeat(SUMMARY_MESSAGE_CHARS);
    const many = [`order 11111 first`, ...Array.from({ length: SUMMARY_TRANSCRIPT_CHARS / SUMMARY_MESSAGE_CHARS }, () => filler), 'order 22222 last'];
    expect(summarize(many).orderNumbers).to.deep.equal(['22222']); // the newest messages are kept, the oldest dropped
  });

  it('reads picks, times and time zones from a transcript', () => {
    const bot: Partial<Activity> = {
      type: 'message',
      from: { id: 'bot', name: 'Bot', role: 'bot' },
      text: 'Which one?',
      suggestedActions: { to: [], actions: [{ type: 'imBack', title: 'Billing problems', value: 'Billing problems' }] },
    };
    const user = (text: string): Partial<Activity> => ({ type: 'message', from: { id: 'u1', name: 'Ada', role: 'user' }, text, timestamp: new Date('2026-11-23T09:00:00Z'), localTimezone: 'Europe/Paris' });
    const messages = customerMessages([user('my invoice is too high'), bot, user('Billing problems'), user('billing problems again since yesterday')], 'u1');
    expect(messages.map((m) => m.pick)).to.deep.equal([false, true, false]);
    const s = summarize(messages, undefined, LATER);
    expect(s.problem).to.deep.equal(['my invoice is too high', 'billing problems again since yesterday']);
    expect(s.dates).to.deep.equal(['since Sun 22 Nov']);
  });

  it('finds nothing in small talk', () => {
    const s = summarize(['hello', 'can I talk to someone', 'yes please', 'thanks!']);
    expect(s.text).to.equal('');
    expect(s.problem).to.deep.equal([]);
  });
});
