/**
 * The knowledge plugin: the folder loader, the search index, the hot-reloading `KnowledgeBase` and the
 * botbuilder-dialogs `KnowledgeRecognizer`.
 *
 * @example
 *   const knowledge = await KnowledgeBase.open('./knowledge');
 *   const recognizer = new KnowledgeRecognizer(knowledge);
 */
export * from './types.js';
export { loadKnowledge, parseKnowledgeFile, KnowledgeFolderError, type LoadedKnowledge, type ParsedKnowledgeFile } from './loader.js';
export { KnowledgeIndex, decideFrom, ANSWER_THRESHOLD, SUGGEST_THRESHOLD, MAX_SUGGESTIONS } from './search.js';
export { KnowledgeBase, KnowledgeLoadError, describeHeldBack, type KnowledgeBaseOptions, type KnowledgeStatus, type KnowledgeSummary } from './knowledge-base.js';
export { resolveServed, type HeldBackFile, type Resolution } from './hold-back.js';
export { SNAPSHOT_FILE, readSnapshot, writeSnapshot, type KnowledgeSnapshot } from './snapshot.js';
export { KnowledgeRecognizer, NONE_INTENT, type KnowledgeRecognizerOptions, type KnowledgeRecognizerResult } from './recognizer.js';
