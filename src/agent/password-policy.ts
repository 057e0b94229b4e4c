/**
 * Which passwords an agent account may have. The console is signed into with a password alone, so
 * the password is the whole defence; the rule is OWASP ASVS 4.0 V2.1 (and NIST SP 800-63B 3.1.1.2):
 * long rather than complex, and not one an attacker tries first.
 *
 * - At least `MIN_PASSWORD_LENGTH` (12) characters. 8 plus the common-password check would keep the
 *   lists out but leave passwords short enough to brute-force offline should the hashes leak; 12 is
 *   ASVS's minimum and still fits three short words, which is what the messages suggest.
 * - At most `MAX_PASSWORD_LENGTH`: the sign-in route reads no longer password, so a longer one could
 *   be set but never used.
 * - Not guessable, as zxcvbn-ts estimates with its common-password and word lists
 *   (`@zxcvbn-ts/language-common`, which includes breached-password lists): a score of at least
 *   `MIN_PASSWORD_SCORE` (3, about 10^8 guesses: out of reach of online guessing through our sign-in
 *   limits, and slow offline against scrypt).
 * - Not the agent's name, nor containing it (`alice2026` for alice), whatever the case.
 *
 * `passwordProblem` says what is wrong in a sentence for the person choosing it, never repeating the
 * password; accounts.ts turns it into an `AgentAccountError` wherever a password is set.
 */
import { ZxcvbnFactory, type ZxcvbnResult } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/** Shortest password accepted (OWASP ASVS 4.0 V2.1.1). */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password accepted: the most `POST /api/agent/login` reads. */
export const MAX_PASSWORD_LENGTH = 1024;
/** Lowest zxcvbn score (0–4) accepted; 3 is "safely unguessable" (about 10^8 guesses). */
export const MIN_PASSWORD_SCORE = 3;
/** A name shorter than this is only refused as the whole password: "al" is in too many good ones. */
const MIN_CONTAINED_NAME = 3;

/** Who the password is for: their sign-in name and display name are refused in it. */
export interface PasswordOwner {
  username?: string;
  displayName?: string;
}

const ADVICE = 'three or four unrelated words make a good one';

/** zxcvbn-ts's warning keys (its `translationKeys.warnings`) in words for the person choosing. */
const WARNINGS: Record<string, string> = {
  topTen: 'it is one of the ten most common passwords',
  topHundred: 'it is one of the hundred most common passwords',
  common: 'it is a commonly used password',
  pwned: 'it has appeared in data breaches',
  similarToCommon: 'it is a small change to a commonly used password',
  wordByItself: 'a single word is easy to guess',
  namesByThemselves: 'names on their own are easy to guess',
  commonNames: 'common names are easy to guess',
  userInputs: "it is too close to the agent's name",
  straightRow: 'a row of keys on the keyboard is easy to guess',
  keyPattern: 'a short keyboard pattern is easy to guess',
  simpleRepeat: 'repeated characters like "aaa" are easy to guess',
  extendedRepeat: 'repeated patterns like "abcabc" are easy to guess',
  sequences: 'sequences like "abc" or "6543" are easy to guess',
  recentYears: 'recent years are easy to guess',
  dates: 'dates are easy to guess',
};

let estimator: ZxcvbnFactory | undefined;

/** The estimator, built on first use (ranking the word lists takes ~150 ms; a server may never need it). */
function zxcvbn(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, useLevenshteinDistance: true });
  return estimator;
}

/** zxcvbn-ts's estimate for `password`, counting the owner's names and the product's as known words. */
export function estimatePassword(password: string, owner: PasswordOwner = {}): ZxcvbnResult {
  const inputs = [owner.username, ...(owner.displayName?.split(/\s+/) ?? []), 'switchboard'].filter((w): w is string => !!w);
  return zxcvbn().check(password, inputs);
}

/**
 * What is wrong with `password` for `owner`, as a sentence ("the password is too easy to guess: it is
 * one of the ten most common passwords; …"), or undefined when it is acceptable.
 */
export function passwordProblem(password: string, owner: PasswordOwner = {}): string | undefined {
  const length = [...password].length; // characters as people count them, not UTF-16 units
  if (length < MIN_PASSWORD_LENGTH) return `the password needs at least ${MIN_PASSWORD_LENGTH} characters (${ADVICE})`;
  if (password.length > MAX_PASSWORD_LENGTH) return `the password may have at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  const name = owner.username?.trim().toLowerCase();
  if (name && (lower === name || (name.length >= MIN_CONTAINED_NAME && lower.includes(name)))) {
    return `the password must not contain the agent's name (${name}); choose another (${ADVICE})`;
  }
  const estimate = estimatePassword(password, owner);
  if (estimate.score >= MIN_PASSWORD_SCORE) return undefined;
  const why = (estimate.feedback.warning && WARNINGS[estimate.feedback.warning]) || 'it follows a pattern password crackers try early';
  return `the password is too easy to guess: ${why}; choose another (${ADVICE})`;
}
