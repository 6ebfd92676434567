/**
 * bots/slack/manifest.yml parses, and lists exactly what the code registers: the slash commands,
 * the message shortcut, the events, Socket Mode and interactivity; and every Web API method the
 * bot calls is covered by a requested scope (and every requested scope is used).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SlackDeps } from '../../bots/slack/context.ts';
import * as actions from '../../bots/slack/listeners/actions/index.ts';
import * as commands from '../../bots/slack/listeners/commands/index.ts';
import * as events from '../../bots/slack/listeners/events/index.ts';
import * as shortcuts from '../../bots/slack/listeners/shortcuts/index.ts';
import * as views from '../../bots/slack/listeners/views/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bots/slack');
const manifest = parse(readFileSync(path.join(root, 'manifest.yml'), 'utf8'));

/** Records what each listener module registers on a Bolt app. */
function registered() {
  const seen = {
    command: [] as string[],
    shortcut: [] as string[],
    event: [] as string[],
    view: [] as string[],
    action: [] as string[],
  };
  const app = {
    command: (name: string) => seen.command.push(name),
    shortcut: (id: string) => seen.shortcut.push(id),
    event: (name: string) => seen.event.push(name),
    view: (id: string) => seen.view.push(id),
    action: (p: RegExp) => seen.action.push(String(p)),
  };
  for (const m of [commands, shortcuts, views, actions, events]) m.register(app as never, {} as SlackDeps);
  return seen;
}

/** Each Web API method the bot may call, and the bot scope it needs. */
const METHOD_SCOPES: Readonly<Record<string, string>> = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.delete': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'views.open': 'commands',
  'files.info': 'files:read',
  filesUploadV2: 'files:write',
  'files.delete': 'files:write',
  'conversations.replies': 'channels:history',
};

/** Scopes needed for something other than a method call. */
const OTHER_SCOPES: Readonly<Record<string, string>> = {
  commands: 'slash commands and the message shortcut',
  'app_mentions:read': 'the app_mention event',
  'files:read': 'downloading url_private_download with the bot token',
  'groups:history': 'conversations.replies in private channels',
  'mpim:history': 'conversations.replies in group DMs',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

describe('manifest.yml', () => {
  it('lists the commands, shortcut and events the code registers', () => {
    const seen = registered();
    expect(manifest.features.slash_commands.map((c: { command: string }) => c.command).sort()).toEqual(
      [...seen.command].sort(),
    );
    const shortcutIds = manifest.features.shortcuts.map(
      (s: { callback_id: string; type: string }) => `${s.type}:${s.callback_id}`,
    );
    expect(shortcutIds).toEqual(seen.shortcut.map((id) => `message:${id}`));
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(seen.event);
    expect(seen.view.length).toBeGreaterThan(0);
    expect(seen.action.length).toBeGreaterThan(0);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(true);
  });

  it('requests a scope for every Web API method the bot calls, and no scope it does not use', () => {
    const source = sourceFiles(root)
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const called = new Set<string>();
    for (const m of source.matchAll(/client\.(\w+)\s*\.(\w+)\(/g)) called.add(`${m[1]}.${m[2]}`);
    for (const m of source.matchAll(/client\.(filesUploadV2)\(/g)) called.add(m[1]!);
    expect([...called].sort()).toEqual(Object.keys(METHOD_SCOPES).sort());
    const scopes: string[] = manifest.oauth_config.scopes.bot;
    for (const method of called) expect(scopes, method).toContain(METHOD_SCOPES[method]);
    const justified = new Set([...Object.values(METHOD_SCOPES), ...Object.keys(OTHER_SCOPES)]);
    for (const scope of scopes) expect(justified.has(scope), scope).toBe(true);
  });
});
