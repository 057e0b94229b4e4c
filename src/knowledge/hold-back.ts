/**
 * Which version of each knowledge file is served when some files are broken: a broken file holds back
 * only itself. Every file whose current text is valid goes live; a broken file keeps its last good
 * version (or is not served, if it never had one); and a change that breaks a rule across files (a
 * duplicate id, a follow-up to an entry that is gone) is held back too — the changed file, never the
 * unchanged one it collides with — with a problem naming both files.
 *
 * Pure: the knowledge base passes the folder as read and the last good texts, and gets back the files to
 * serve and what is held back and why.
 */
import { conflictProblem, findConflicts, parseCached, type CrossFileConflict, type ParseCache, type ParsedKnowledgeFile } from './loader.js';
import type { KnowledgeProblem } from './types.js';

/** A file whose current version on disk is not served, and why. */
export interface HeldBackFile {
  path: string;
  /** What the editor did to it: edited (or created again), added, or deleted. */
  change: 'edited' | 'added' | 'deleted';
  /** What customers get meanwhile: the file's last good version, or nothing (it never had one). */
  serving: 'last good version' | 'nothing';
  /** Its problems as `path:line: message`, first the file's own, then the cross-file ones (naming the other file). */
  problems: KnowledgeProblem[];
}

/** The outcome of `resolveServed`. */
export interface Resolution {
  /** The valid files to serve, by path. */
  served: ParsedKnowledgeFile[];
  /** Path → text of every served file: the new last good folder (for the snapshot). */
  texts: Map<string, string>;
  heldBack: HeldBackFile[];
  /** Every held-back file's problems, by path and line. */
  problems: KnowledgeProblem[];
}

interface Slot {
  path: string;
  cur?: ParsedKnowledgeFile;
  curText?: string;
  old?: ParsedKnowledgeFile;
  oldText?: string;
  use: 'cur' | 'old' | 'none';
  /** Serving a version other than the last good one (an edit, an addition or a deletion going live). */
  changed: boolean;
  held?: HeldBackFile;
}

const isValid = (p: ParsedKnowledgeFile | undefined): boolean => !!p?.entry && p.problems.length === 0;
const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * Decides what to serve from the folder as read now (`current`) and the last good texts by path (`good`,
 * empty on a first start without a snapshot). `cache` parses current texts, `goodCache` the good ones.
 */
export function resolveServed(
  current: { path: string; text: string }[],
  good: ReadonlyMap<string, string>,
  caches: { cache?: ParseCache; goodCache?: ParseCache } = {},
): Resolution {
  const disk = new Map(current.map((f) => [f.path, f.text]));
  for (const [cache, present] of [
    [caches.cache, disk],
    [caches.goodCache, good],
  ] as const) {
    if (cache) for (const key of [...cache.keys()]) if (!present.has(key)) cache.delete(key);
  }
  const slots = new Map<string, Slot>();
  for (const p of [...new Set([...disk.keys(), ...good.keys()])].sort()) {
    const curText = disk.get(p);
    const cur = curText === undefined ? undefined : parseCached({ path: p, text: curText }, caches.cache);
    const oldText = good.get(p);
    const parsedOld = oldText === undefined ? undefined : parseCached({ path: p, text: oldText }, caches.goodCache);
    const old = parsedOld && isValid(parsedOld) ? parsedOld : undefined; // a snapshot from an older version may no longer validate
    const slot: Slot = { path: p, cur, curText, old, oldText: old ? oldText : undefined, use: 'none', changed: false };
    if (cur && !isValid(cur)) {
      slot.use = old ? 'old' : 'none';
      slot.held = { path: p, change: old ? 'edited' : 'added', serving: old ? 'last good version' : 'nothing', problems: [...cur.problems] };
    } else if (cur) {
      slot.use = 'cur';
      slot.changed = slot.oldText !== curText;
    } else {
      slot.changed = !!old; // a deletion going live
    }
    slots.set(p, slot);
  }
  const version = (s: Slot) => (s.use === 'cur' ? s.cur : s.use === 'old' ? s.old : undefined);
  const slotOf = (f: ParsedKnowledgeFile) => slots.get(f.path)!;

  /** Back to the last good version (or nothing), with the problem that caused it. */
  const holdBack = (s: Slot, problem: KnowledgeProblem, drop = false) => {
    const wasDeletion = !s.cur;
    s.changed = false;
    s.use = !drop && s.old ? 'old' : 'none';
    s.held ??= {
      path: s.path,
      change: wasDeletion ? 'deleted' : s.old ? 'edited' : 'added',
      serving: s.use === 'old' ? 'last good version' : 'nothing',
      problems: [],
    };
    s.held.serving = s.use === 'old' ? 'last good version' : 'nothing';
    if (!s.held.problems.some((p) => p.line === problem.line && p.message === problem.message)) s.held.problems.push(problem);
  };

  const notServedBecause = (target: string): Slot | undefined =>
    [...slots.values()].find((s) => s.use === 'none' && s.held && (s.cur?.id ?? s.cur?.defaultId) === target);

  /**
   * Holds back the change that caused `c`, or returns the drop to make when no change did (an unchanged
   * file conflicting with another unchanged one); drops wait for a pass that finds no change to blame.
   */
  const blame = (c: CrossFileConflict, handled: Set<Slot>): (() => void) | undefined => {
    const x = slotOf(c.file);
    if (c.kind === 'duplicate-id') {
      const first = slotOf(c.first);
      if (x.changed) holdBack(x, conflictProblem(c));
      else if (first.changed) {
        holdBack(first, {
          path: first.path,
          line: c.first.lines.id,
          message: `duplicate id "${c.id}": already used by ${x.path}:${c.file.lines.id} (give one of them another id)`,
        });
        handled.add(first);
      } else return () => holdBack(x, conflictProblem(c), true);
      handled.add(x);
      return undefined;
    }
    if (x.changed) {
      const missing = c.kind === 'unknown-follow-up' ? notServedBecause(c.target) : undefined;
      holdBack(
        x,
        missing
          ? { path: x.path, line: c.line, message: `follow_ups names "${c.target}", which is not served: ${missing.path} has problems (fix it first)` }
          : conflictProblem(c),
      );
    } else {
      // An unchanged file lost its follow-up: hold back the change that removed the entry it names.
      const culprit = c.kind === 'unknown-follow-up' ? [...slots.values()].find((s) => s.changed && s.old?.id === c.target) : undefined;
      if (culprit && !handled.has(culprit)) {
        holdBack(culprit, {
          path: culprit.path,
          line: culprit.cur ? culprit.cur.lines.id : 1,
          message: culprit.cur
            ? `the id changed from "${c.target}", but ${x.path}:${c.line} follow_ups still names it (change both, or keep the id)`
            : `deleted, but ${x.path}:${c.line} follow_ups still names "${c.target}" (remove it there, then the deletion goes live)`,
        });
        handled.add(culprit);
        return undefined;
      }
      if (!culprit) return () => holdBack(x, conflictProblem(c), true);
    }
    handled.add(x);
    return undefined;
  };

  // Each pass holds back at least one change (or drops a file), so this ends.
  for (let pass = 0; pass <= slots.size; pass++) {
    const served = [...slots.values()].flatMap((s) => version(s) ?? []);
    const conflicts = findConflicts(served);
    if (conflicts.length === 0) break;
    const handled = new Set<Slot>();
    const drops: (() => void)[] = [];
    for (const c of conflicts) {
      if (handled.has(slotOf(c.file))) continue;
      const drop = blame(c, handled);
      if (drop) drops.push(drop);
    }
    // Only when no change could be blamed: a change held back this pass may already have ended the conflict.
    if (handled.size === 0) for (const drop of drops) drop();
  }

  // A broken file's current version may break cross-file rules too: list them now, not after the next fix.
  const served = [...slots.values()].flatMap((s) => version(s) ?? []);
  const servedIds = new Map(served.map((f) => [f.entry!.id, f]));
  for (const s of slots.values()) {
    if (!s.held || !s.cur || isValid(s.cur)) continue;
    const other = s.cur.id ? servedIds.get(s.cur.id) : undefined;
    if (other && other.path !== s.path && s.cur.lines.id > 1) {
      s.held.problems.push(conflictProblem({ kind: 'duplicate-id', file: s.cur, id: s.cur.id!, first: other }));
    }
    for (const c of findConflicts([s.cur], [...servedIds.keys(), s.cur.defaultId])) if (c.kind !== 'duplicate-id') s.held.problems.push(conflictProblem(c));
  }

  const heldBack = [...slots.values()].flatMap((s) => (s.held ? [s.held] : []));
  for (const h of heldBack) h.problems.sort((a, b) => a.line - b.line);
  const texts = new Map<string, string>();
  for (const s of slots.values()) {
    if (s.use === 'cur') texts.set(s.path, s.curText!);
    else if (s.use === 'old') texts.set(s.path, s.oldText!);
  }
  return {
    served: served.sort(byPath),
    texts,
    heldBack,
    problems: heldBack.flatMap((h) => h.problems),
  };
}
