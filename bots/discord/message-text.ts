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
