/**
 * Issue 13: no customer message blocks the server. The ready server runs in its own process with all
 * three channels; a customer on each channel sends the longest text the channel allows ("no no no …",
 * the input that once stopped the server for half a minute) in every prompt state, and `/healthz`,
 * polled every 20 ms from this process, must answer within 200 ms throughout while the customer
 * still gets a sensible reply. This timing assertion is the one the issue asks for.
 *
 * On a loaded machine a single slow answer can be noise: a scenario over the goal is measured once
 * more on a new conversation and fails only if it is over the goal twice (a blocked event loop is
 * over it every time). The poller subtracts this process's own pauses (see `HealthPoller`).
 */
import { expect } from 'chai';
import { strings } from '../../src/bot/strings.js';
import {
  CHANNELS,
  HEALTHZ_GOAL_MS,
  LONGEST_TEXT,
  PROMPT_STATES,
  STATE_LABEL,
  StallRig,
  longText,
  measureStall,
  warmUp,
  type Channel,
  type PromptState,
  type StallResult,
} from './long-input-rig.js';

/** A turn of the ready server takes well under a second; this is far beyond any healthy turn. */
const TURN_TIMEOUT_MS = 15_000;

const en = strings.en!.bot;

/** What the customer should hear back in each state (a long text is a new question, not a yes/no or a pick). */
function expectSensibleReply(r: StallResult): void {
  const said = r.replies.join('\n');
  switch (r.state) {
    case 'after-answer':
    case 'suggestions':
    case 'offer-person':
      // Read as a new question (the sample knowledge answers "no no …" with its no-signal entry), never as the "no" it repeats.
      expect(said, 'the bot answered').not.to.equal('');
      for (const asYesNo of [en.sorryOfferHuman, en.offerDeclined, en.gladItHelped, en.rephrase]) expect(said, 'not taken as "no"').not.to.include(asYesNo);
      break;
    case 'handoff':
      expect(said, 'the handoff is confirmed').to.match(/agent|person|queue|waiting/i);
      break;
    case 'queued':
    case 'takeover':
      expect(r.replies, 'while a person owns the conversation the bot stays silent').to.deep.equal([]);
      break;
  }
}

describe('the longest message each channel allows never blocks the server', function () {
  this.timeout(10 * 60_000);
  const rig = new StallRig();

  before(async () => {
    await rig.start();
    await warmUp(rig, TURN_TIMEOUT_MS);
  });
  after(async () => rig.stop());

  it('sends what each channel allows', () => {
    expect(LONGEST_TEXT).to.deep.equal({ webchat: 16_000, whatsapp: 4096, messenger: 2000 });
    for (const c of CHANNELS) expect(longText(LONGEST_TEXT[c])).to.have.length(LONGEST_TEXT[c]);
  });

  for (const channel of CHANNELS as readonly Channel[]) {
    for (const state of PROMPT_STATES as readonly PromptState[]) {
      it(`${channel}, ${LONGEST_TEXT[channel]} characters, ${STATE_LABEL[state]}: /healthz within ${HEALTHZ_GOAL_MS} ms, and a sensible reply`, async () => {
        let r = await measureStall(rig, channel, state, TURN_TIMEOUT_MS);
        if (r.answered && r.worstMs >= HEALTHZ_GOAL_MS) {
          console.warn(`      (${channel} ${state}: /healthz took ${r.worstMs} ms once; measuring again)`);
          r = await measureStall(rig, channel, state, TURN_TIMEOUT_MS);
        }
        expect(r.answered, `every turn was answered within ${TURN_TIMEOUT_MS} ms`).to.equal(true);
        expect(r.samples, 'the poller kept asking').to.be.greaterThan(10);
        expect(r.worstMs, 'worst /healthz latency (ms)').to.be.below(HEALTHZ_GOAL_MS);
        expectSensibleReply(r);
      });
    }
  }
});
