import { describe, expect, it } from 'vitest';
import { parseButtonId } from '../../bots/discord/components.ts';
import { DiscordConfigError, discordConfigFromEnv } from '../../bots/discord/config.ts';
import { stripBotMention } from '../../bots/discord/mentions.ts';
import { suggest } from '../../bots/discord/option-builder.ts';
import { loadConfig } from '../../src/config.ts';

describe('discord config', () => {
  it('reads the environment and refuses a versioned API URL or a bad role id', () => {
    const c = discordConfigFromEnv({
      DISCORD_TOKEN: 't',
      ATTACHMENT_HOSTS: '127.0.0.1:9000',
      DISCORD_ADMIN_ROLE_IDS: '123456789012',
    });
    expect(c).toMatchObject({
      apiUrl: 'https://discord.com/api',
      attachmentHosts: ['127.0.0.1:9000'],
      adminRoleIds: ['123456789012'],
    });
    expect(() => discordConfigFromEnv({})).toThrow(DiscordConfigError);
    expect(() => discordConfigFromEnv({ DISCORD_TOKEN: 't', DISCORD_API_URL: 'http://x/api/v10' })).toThrow(
      /must not end in a version/,
    );
    expect(() => discordConfigFromEnv({ DISCORD_TOKEN: 't', DISCORD_ADMIN_ROLE_IDS: 'mods' })).toThrow(
      /not a role id/,
    );
  });
});

describe('discord config: operators, guilds and the download cap', () => {
  it('reads the operator and guild lists, refuses a bad id by name, and caps downloads at the service limit', () => {
    const c = discordConfigFromEnv(
      {
        DISCORD_TOKEN: 't',
        DISCORD_OWNER_IDS: '111111111111',
        DISCORD_HOME_GUILD_IDS: ' 222222222222 ',
        DISCORD_GUILD_IDS: '222222222222,333333333333',
      },
      { maxImageBytes: 5_000_000 },
    );
    expect(c).toMatchObject({
      ownerIds: ['111111111111'],
      homeGuildIds: ['222222222222'],
      guildIds: ['222222222222', '333333333333'],
      maxImageBytes: 5_000_000,
    });
    // Without one given, the cap is the service's default upload limit, in the service's unit (MB).
    expect(discordConfigFromEnv({ DISCORD_TOKEN: 't' }).maxImageBytes).toBe(loadConfig({}).maxUploadBytes);
    expect(() => discordConfigFromEnv({ DISCORD_TOKEN: 't', DISCORD_GUILD_IDS: 'my-server' })).toThrow(
      /DISCORD_GUILD_IDS: "my-server" is not a guild id/,
    );
  });
});

describe('small pieces', () => {
  it('parses button ids and rejects foreign ones', () => {
    expect(parseButtonId('sm:reroll:abc_DEF-1')).toEqual({ action: 'reroll', jobId: 'abc_DEF-1' });
    expect(parseButtonId('sm:explode:abc')).toBeUndefined();
    expect(parseButtonId('other:cancel:abc')).toBeUndefined();
  });

  it('strips only the bot mention', () => {
    expect(stripBotMention('<@42> waves <@7> --fps 8 <@!42>', '42')).toBe('waves <@7> --fps 8');
  });

  it('suggests valid motion values and flags invalid guidance', () => {
    expect(suggest('motion', '')).toHaveLength(3);
    expect(suggest('motion', '180')[0]).toEqual({ name: '180', value: '180' });
    expect(suggest('motion', '999')[0]!.name).toMatch(/1–255/);
    expect(suggest('guidance', '5-1')[0]!.name).toMatch(/not min-max/);
  });
});

describe('message length', () => {
  it('keeps line lists under 2000 characters and says how many were left out', async () => {
    const { fitLines } = await import('../../bots/discord/message-text.ts');
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i} ${'x'.repeat(90)}`);
    const text = fitLines(['head'], lines);
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toMatch(/… and \d+ more$/);
    expect(fitLines([], ['a', 'b'])).toBe('a\nb');
  });
});
