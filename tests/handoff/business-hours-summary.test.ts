import { expect } from 'chai';
import { BusinessHours, BusinessHoursError } from '../../src/handoff/business-hours.js';
import { isCancelRequest } from '../../src/handoff/middleware.js';
import { defaultHandoffStrings } from '../../src/handoff/strings.js';
import { summarize } from '../../src/handoff/summary.js';

describe('business hours', () => {
  const berlin = new BusinessHours('Mon-Fri 09:00-18:00; Sat 10:00-14:00', 'Europe/Berlin');

  it('is open on a weekday afternoon in the configured time zone', () => {
    expect(berlin.isOpen(new Date('2026-11-23T16:30:00Z'))).to.equal(true); // 17:30 in Berlin
  });

  it('is closed after hours in the zone even when it is still within hours in UTC', () => {
    expect(berlin.isOpen(new Date('2026-11-23T17:30:00Z'))).to.equal(false); // 18:30 in Berlin
  });

  it('reads a second span for Saturday and is closed on Sunday', () => {
    expect(berlin.isOpen(new Date('2026-11-28T10:00:00Z'))).to.equal(true);
    expect(berlin.isOpen(new Date('2026-11-29T10:00:00Z'))).to.equal(false);
  });

  it('names the bad part of a value it cannot read', () => {
    expect(() => new BusinessHours('Mon-Fri 9-18', 'UTC')).to.throw(BusinessHoursError, /9-18|bad time/);
    expect(() => new BusinessHours('Someday 09:00-18:00', 'UTC')).to.throw(BusinessHoursError, /Someday/);
  });
});

describe('handoff summary', () => {
  it('pulls emails, phone numbers, order numbers and dates out of what the customer wrote', () => {
    const s = summarize(
      ['Hi, my email is ada@example.com', 'order A-77812 did not arrive', 'call me on +49 151 23456789', 'it was due on 12 November'],
      undefined,
      new Date('2026-11-23T10:00:00Z'),
    );
    expect(s.emails).to.deep.equal(['ada@example.com']);
    expect(s.orderNumbers).to.deep.equal(['A-77812']);
    expect(s.phoneNumbers).to.deep.equal(['+4915123456789']); // E.164
    expect(s.dates).to.deep.equal(['Thu 12 Nov']);
    expect(s.text).to.include('order A-77812');
  });

  it('does not list an order number as a date too', () => {
    const s = summarize(['my order 123457 from Monday never came'], undefined, new Date('2026-11-23T10:00:00Z'), { timeZone: 'UTC' });
    expect(s.orderNumbers).to.deep.equal(['123457']);
    expect(s.dates).to.deep.equal(['Mon 23 Nov']);
  });

  it('finds nothing in small talk', () => {
    expect(summarize(['hello', 'can I talk to someone']).text).to.equal('');
  });
});

describe('cancel recognition while waiting', () => {
  const phrases = defaultHandoffStrings.cancelPhrases;
  for (const text of ['cancel', 'never mind', 'Oh, never mind', 'forget it']) {
    it(`cancels on "${text}"`, () => expect(isCancelRequest(text, phrases)).to.equal(true));
  }
  for (const text of ['I want to cancel my order 55512', 'hello?', '1', '']) {
    it(`does not cancel on "${text}"`, () => expect(isCancelRequest(text, phrases)).to.equal(false));
  }
});
