/**
 * Slack mrkdwn reads `<…>` as mentions and links (`<!channel>`, `<https://x|text>`) and `&` as the
 * start of an entity. User text (prompts, file names, errors that quote them) goes in escaped, so it
 * shows as typed and can neither ping nor disguise a link. Text the bot writes itself, with its own
 * `<@U…>` mentions, is put together around the escaped parts.
 */
import type { Escape } from '../../src/chat/index.ts';

export const mrkdwn: Escape = (text) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
