/**
 * Tags of the knowledge format that change what the bot does (README, "The knowledge format"). Kept
 * here, with the format, so the knowledge tools (`kb diff`, `kb check`) read them without loading the bot.
 */

/** Entries tagged so are small talk (greetings, thanks): answered or not at all, never suggested, no "Did this help?". */
export const SMALLTALK_TAG = 'smalltalk';
