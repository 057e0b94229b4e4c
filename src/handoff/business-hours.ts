/**
 * When agents answer: `BUSINESS_HOURS` such as `"Mon-Fri 09:00-18:00"` or
 * `"Mon-Fri 09:00-18:00; Sat 10:00-14:00"`, read in the IANA zone `BUSINESS_TIMEZONE`. Outside these
 * hours the bot tells the customer so and keeps the conversation queued.
 */
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** A `BUSINESS_HOURS` value that cannot be read; says what the format is. */
export class BusinessHoursError extends Error {
  override name = 'BusinessHoursError';
}

interface Span {
  days: Set<number>;
  from: number; // minutes after midnight
  to: number;
}

function minutes(hhmm: string, where: string): number {
  const [h, m, ...rest] = hhmm.split(':');
  const hours = Number(h);
  const mins = Number(m);
  if (rest.length || !Number.isInteger(hours) || !Number.isInteger(mins) || hours < 0 || hours > 24 || mins < 0 || mins > 59) {
    throw new BusinessHoursError(`BUSINESS_HOURS: ${JSON.stringify(where)} has a bad time ${JSON.stringify(hhmm)} (use HH:MM, e.g. "Mon-Fri 09:00-18:00")`);
  }
  return hours * 60 + mins;
}

function day(name: string, where: string): number {
  const i = DAYS.findIndex((d) => d.toLowerCase() === name.trim().slice(0, 3).toLowerCase());
  if (i < 0) throw new BusinessHoursError(`BUSINESS_HOURS: ${JSON.stringify(where)} has an unknown day ${JSON.stringify(name)} (use Mon, Tue, ... Sun)`);
  return i;
}

/** Opening hours in one time zone; `isOpen(date)` answers for any instant. */
export class BusinessHours {
  private readonly spans: Span[];
  private readonly format: Intl.DateTimeFormat;

  /** @param spec e.g. `"Mon-Fri 09:00-18:00; Sat 10:00-14:00"` (`;` or `,` between spans). */
  constructor(
    readonly spec: string,
    readonly timeZone: string,
  ) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    this.spans = spec
      .split(/[;,]/)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((part) => {
        const [daysPart, timePart, ...extra] = part.split(/\s+/);
        if (!daysPart || !timePart || extra.length) {
          throw new BusinessHoursError(`BUSINESS_HOURS: cannot read ${JSON.stringify(part)} (expected e.g. "Mon-Fri 09:00-18:00")`);
        }
        const days = new Set<number>();
        for (const range of daysPart.split('+')) {
          const [a, b] = range.split('-');
          const start = day(a!, part);
          const end = b === undefined ? start : day(b, part);
          for (let d = start; ; d = (d + 1) % 7) {
            days.add(d);
            if (d === end) break;
          }
        }
        const [from, to] = timePart.split('-');
        if (!from || !to) throw new BusinessHoursError(`BUSINESS_HOURS: ${JSON.stringify(part)} needs a time range like 09:00-18:00`);
        return { days, from: minutes(from, part), to: minutes(to, part) };
      });
    if (this.spans.length === 0) throw new BusinessHoursError('BUSINESS_HOURS is empty (expected e.g. "Mon-Fri 09:00-18:00")');
  }

  /** Whether agents are working at `at`, in the configured time zone. */
  isOpen(at: Date): boolean {
    const parts = Object.fromEntries(this.format.formatToParts(at).map((p) => [p.type, p.value]));
    const weekday = DAYS.indexOf(parts.weekday as (typeof DAYS)[number]);
    const now = Number(parts.hour) * 60 + Number(parts.minute);
    return this.spans.some((s) => s.days.has(weekday) && now >= s.from && now < s.to);
  }

  /** The hours as configured, for customer messages, e.g. "Mon-Fri 09:00-18:00 (Europe/Berlin)". */
  describe(): string {
    return `${this.spec} (${this.timeZone})`;
  }
}
