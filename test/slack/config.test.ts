/** Slack settings from the environment: each problem named, Socket Mode vs HTTP mode, admins. */
import { describe, expect, it } from 'vitest';
import { loadSlackConfig, SlackConfigError, slackRequested } from '../../bots/slack/config.ts';
import { isAdmin } from '../../bots/slack/context.ts';

describe('loadSlackConfig', () => {
  it('reads Socket Mode settings, the API URL and the admins', () => {
    const c = loadSlackConfig({
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_APP_TOKEN: 'xapp-1',
      SLACK_API_URL: 'http://127.0.0.1:9/api',
      SLACK_ADMIN_USERS: 'U1, T2:U2 ,slack:T3:U3',
      ATTACHMENT_HOSTS: 'files.example.com,127.0.0.1:9',
    });
    expect(c).toMatchObject({
      appToken: 'xapp-1',
      apiUrl: 'http://127.0.0.1:9/api/',
      attachmentHosts: ['files.example.com', '127.0.0.1:9'],
      // The bot token goes to the API host and Slack's file host, not to files.example.com.
      tokenHosts: ['127.0.0.1:9', 'files.slack.com'],
    });
    expect(isAdmin(c, 'T9', 'U1')).toBe(true);
    expect(isAdmin(c, 'T2', 'U2')).toBe(true);
    expect(isAdmin(c, 'T9', 'U2')).toBe(false);
    expect(isAdmin(c, 'T3', 'U3')).toBe(true);
    expect(isAdmin(c, 'T3', 'U4')).toBe(false);
  });

  it('defaults to slack.com and the CDN hosts; HTTP mode with a signing secret', () => {
    const c = loadSlackConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' });
    expect(c.appToken).toBeUndefined();
    expect(c.apiUrl).toBe('https://slack.com/api/');
    expect(c.tokenHosts).toEqual(['slack.com', 'files.slack.com']);
    expect(c.maxImageBytes).toBe(20_000_000);
    expect(c.attachmentHosts).toContain('files.slack.com');
  });

  it('names every problem at once', () => {
    expect(slackRequested({})).toBe(false);
    expect(() => loadSlackConfig({ SLACK_BOT_TOKEN: 'xoxp-user', SLACK_APP_TOKEN: 'bad' })).toThrow(
      SlackConfigError,
    );
    try {
      loadSlackConfig({ SLACK_BOT_TOKEN: 'xoxp-user', SLACK_APP_TOKEN: 'bad' });
    } catch (err) {
      expect(String(err)).toContain('SLACK_BOT_TOKEN: must be a bot token');
      expect(String(err)).toContain('SLACK_APP_TOKEN: must be an app-level token');
    }
    expect(() => loadSlackConfig({ SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(
      /SLACK_APP_TOKEN or SLACK_SIGNING_SECRET/,
    );
  });
});
