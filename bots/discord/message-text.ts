/**
 * Message text for Discord: user text made inert in Discord's markdown, and line lists that fit
 * the 2000-character message limit.
 */
import { escapeMarkdown } from 'discord.js';
import type { Escape } from '../../src/chat/render.ts';

/**
 * User text (prompts, file names, errors that quote them) as Discord shows it literally: markdown,
 * headings and lists escaped by discord.js, and every `[`, `]`, `<` and `@` too, so no masked link
 * (`[text](url)`, nested ones included) survives and a prompt can't look like a mention. Pings are
 * also prevented by `allowedMentions`; this keeps the text honest.
 */
export const escapeDiscord: Escape = (text) =>
  escapeMarkdown(text, { heading: true, bulletedList: true, numberedList: true }).replace(/[[\]<@]/g, '\\$&');

/** Discord's 2000-character message limit for line lists: as many lines as fit, then "… and N more". */
export const MESSAGE_LIMIT = 2000;

export function fitLines(head: readonly string[], lines: readonly string[], limit = MESSAGE_LIMIT): string {
  const out = [...head];
  let length = out.join('\n').length;
  for (let i = 0; i < lines.length; i++) {
    const more = `… and ${lines.length - i} more`;
    if (length + 1 + lines[i]!.length + 1 + more.length > limit) {
      out.push(more);
      break;
    }
    out.push(lines[i]!);
    length += 1 + lines[i]!.length;
  }
  return out.join('\n');
}
