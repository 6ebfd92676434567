import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../fakes/discord/fake-discord.ts';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../bots/discord/register.ts');
let fake: FakeDiscord;

beforeAll(async () => {
  fake = await FakeDiscord.start();
});

afterAll(async () => {
  await fake?.stop();
});

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DISCORD_TOKEN: fake.token,
    DISCORD_API_URL: fake.apiUrl,
    ...extra,
  };
}

describe('npm run discord:register', () => {
  it('registers every command in the guild and prints the invite URL with exact scopes and permissions', async () => {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT], {
      env: env({ DISCORD_GUILD_ID: fake.guildId }),
    });
    const put = fake.calls.find((c) => c.method === 'PUT')!;
    expect(put.path).toBe(`/applications/${fake.appId}/guilds/${fake.guildId}/commands`);
    expect(put.auth).toBe(`Bot ${fake.token}`);
    const commands = put.body as {
      name: string;
      type?: number;
      options?: {
        name: string;
        type: number;
        autocomplete?: boolean;
        max_value?: number;
        choices?: unknown[];
      }[];
    }[];
    expect(commands.map((c) => c.name)).toEqual(['animate', 'queue', 'jobs', 'Animate']);
    expect(commands[3]!.type).toBe(3);
    const animate = commands[0]!.options!;
    expect(animate.map((o) => o.name)).toEqual([
      'image',
      'prompt',
      'motion',
      'fps',
      'frames',
      'steps',
      'seed',
      'noise',
      'guidance',
      'size',
      'format',
      'loop',
      'smooth',
      'steer',
      'help',
    ]);
    const byName = Object.fromEntries(animate.map((o) => [o.name, o]));
    expect(byName.motion).toMatchObject({ type: 3, autocomplete: true });
    expect(byName.guidance).toMatchObject({ type: 3, autocomplete: true });
    expect(byName.frames).toMatchObject({ type: 4, min_value: 2, max_value: 14 });
    expect(byName.steer).toMatchObject({ type: 10, min_value: 0, max_value: 1 });
    expect((byName.steer as { description?: string }).description).toMatch(
      /^EXPERIMENTAL.*not trained with text; results vary/,
    );
    expect(byName.noise).toMatchObject({ type: 10, min_value: 0, max_value: 1 });
    expect(byName.format!.choices).toEqual([
      { name: 'mp4', value: 'mp4' },
      { name: 'gif', value: 'gif' },
    ]);
    expect(byName.loop).toMatchObject({ type: 3 });
    expect(byName.loop!.choices).toEqual(['off', 'boomerang', 'fade'].map((c) => ({ name: c, value: c })));
    expect(byName.smooth!.choices).toEqual(['off', '2x', '3x', '4x'].map((c) => ({ name: c, value: c })));
    // Discord allows 25 options per command.
    expect(animate.length).toBeLessThanOrEqual(25);
    const url = new URL(stdout.trim());
    expect(url.origin + url.pathname).toBe('https://discord.com/oauth2/authorize');
    expect(url.searchParams.get('client_id')).toBe(fake.appId);
    expect(url.searchParams.get('scope')).toBe('bot applications.commands');
    // View Channels, Send Messages, Attach Files, Read Message History, Create Public Threads, Send Messages in Threads.
    const perms = (1n << 10n) | (1n << 11n) | (1n << 15n) | (1n << 16n) | (1n << 35n) | (1n << 38n);
    expect(url.searchParams.get('permissions')).toBe(perms.toString());
    expect(stderr).toContain(`registered 4 commands in guild ${fake.guildId}`);
    expect(stderr).not.toContain(fake.token);
  });

  it('registers globally without DISCORD_GUILD_ID, and fails clearly without a token', async () => {
    await run(process.execPath, [SCRIPT], { env: env({ DISCORD_APP_ID: fake.appId }) });
    expect(fake.calls.filter((c) => c.method === 'PUT').at(-1)!.path).toBe(
      `/applications/${fake.appId}/commands`,
    );
    const failed = await run(process.execPath, [SCRIPT], { env: { PATH: process.env.PATH } }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toMatch(/DISCORD_TOKEN is not set/);
  });
});
