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
export { KnowledgeBase, KnowledgeLoadError, type KnowledgeBaseOptions, type KnowledgeStatus } from './knowledge-base.js';
export { KnowledgeRecognizer, NONE_INTENT, type KnowledgeRecognizerOptions, type KnowledgeRecognizerResult } from './recognizer.js';
