/**
 * "This edit changed N answers": after each reload that swapped in a new index, the saved customer
 * questions are replayed against the index served before and the one served now (diff.ts), off the hot
 * path — the replay yields to the event loop in slices — and the result is kept for the agent console
 * (`GET /api/agent/knowledge`, the `knowledge` event). A newer reload stops a replay still running.
 *
 * @example
 *   const changes = new ReloadDiffs(knowledge, questions, { logger });
 *   changes.on('computed', (c) => console.log(`${c.changedCount} answers changed`));
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../log.js';
import { diffKnowledge, type ChangedQuestion } from './diff.js';
import type { KnowledgeBase } from './knowledge-base.js';
import type { QuestionOutcome, QuestionsStore } from './questions-store.js';
import type { KnowledgeSearcher } from './types.js';

/** How many changed questions the console is sent (the most asked); `changedCount` says how many there are. */
export const MAX_SHOWN_CHANGES = 50;

/** What the last edit changed, as the console shows it. */
export interface ReloadChanges {
  /** When the reload that made the edit loaded (ISO time), as in the knowledge status. */
  loadedAt: string;
  /** When the replay finished (ISO time). */
  computedAt: string;
  questions: number;
  changedCount: number;
  /** Customers' askings of the changed questions. */
  changedAsked: number;
  /** The most asked changes first, at most `MAX_SHOWN_CHANGES`. */
  changed: ChangedQuestion[];
  ms: number;
}

/** Events of `ReloadDiffs`. */
export interface ReloadDiffEvents {
  computed: [ReloadChanges];
}

/** Keeps the diff of the last edit of a `KnowledgeBase` over the saved questions. */
export class ReloadDiffs extends EventEmitter<ReloadDiffEvents> {
  private served: KnowledgeSearcher;
  private last?: ReloadChanges;
  private running?: AbortController;
  /** What the served index gives the saved questions, from the last replay, and the UTC day it holds for. */
  private outcomes?: { index: KnowledgeSearcher; day: string; byQuestion: Map<string, QuestionOutcome> };
  private current: Promise<void> = Promise.resolve();
  private readonly logger: Logger;
  private readonly onReloaded = () => this.reloaded();

  constructor(
    private readonly knowledge: Pick<KnowledgeBase, 'index' | 'status' | 'on' | 'off'>,
    private readonly questions: Pick<QuestionsStore, 'list'>,
    options: { logger?: Logger } = {},
  ) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.served = knowledge.index;
    knowledge.on('reloaded', this.onReloaded);
  }

  /** The changes of the last edit, once computed; undefined before the first edit. */
  latest(): ReloadChanges | undefined {
    return this.last;
  }

  /** Resolves when the replay in progress (if any) is done; for tests and benchmarks. */
  settled(): Promise<void> {
    return this.current;
  }

  private reloaded(): void {
    const after = this.knowledge.index;
    if (after === this.served) return; // reloaded, but what is served did not change
    const before = this.served;
    this.served = after;
    const loadedAt = this.knowledge.status().loadedAt;
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    this.current = this.replay(before, after, loadedAt, controller.signal).catch((err: Error) => {
      if (!controller.signal.aborted) this.logger.warn('could not compute what the knowledge edit changed', { error: err.message });
    });
  }

  private async replay(before: KnowledgeSearcher, after: KnowledgeSearcher, loadedAt: string, signal: AbortSignal): Promise<void> {
    const questions = await this.questions.list();
    signal.throwIfAborted();
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    const known = this.outcomes?.index === before && this.outcomes.day === day ? this.outcomes.byQuestion : undefined;
    const diff = await diffKnowledge(before, after, questions, { signal, now, beforeOutcomes: known });
    this.outcomes = { index: after, day, byQuestion: diff.afterOutcomes };
    this.last = {
      loadedAt,
      computedAt: new Date().toISOString(),
      questions: diff.questions,
      changedCount: diff.changed.length,
      changedAsked: diff.changedAsked,
      changed: diff.changed.slice(0, MAX_SHOWN_CHANGES),
      ms: Math.round(diff.ms),
    };
    this.logger.info('knowledge edit replayed over saved questions', { questions: diff.questions, changed: diff.changed.length, ms: this.last.ms });
    this.emit('computed', this.last);
  }

  /** Stops following reloads (and any replay in progress). */
  close(): void {
    this.knowledge.off('reloaded', this.onReloaded);
    this.running?.abort();
  }
}
