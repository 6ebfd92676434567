/**
 * One option table drives every surface: a test-only copy of the engine's table with two more rows
 * (`wobble`, a whole number shown in short forms, and `tint`, an advanced choice) must show up on
 * each of them, parsed, listed and offered, with no surface changed. A surface that kept its own
 * list of options would miss them.
 */
import {
  type OptionModel,
  type OptionName,
  type OptionSpec,
  type OptionTable,
  optionSpec,
  optionSpecs,
} from '@stillmotion/engine';
import type { ChatInputCommandInteraction } from 'discord.js';
import { SlashCommandBuilder } from 'discord.js';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAnimateOptions, readAnimateOptions, suggest } from '../../bots/discord/option-builder.ts';
import { slackHelp } from '../../bots/slack/help.ts';
import { animateModal, modalFields, readSubmission, splitTyped } from '../../bots/slack/modal.ts';
import { helpText } from '../../src/chat/help-text.ts';
import { parseChatText } from '../../src/chat/option-text.ts';
import { cliHelp, parseCliArgs } from '../../src/cli/args.ts';
import { buildApp } from '../../src/http/app.ts';
import { listen } from '../../src/http/server.ts';
import { createLogger } from '../../src/log.ts';
import type { ModelSummary } from '../../src/service/engine-port.ts';
import type { JobService, SubmitRequest } from '../../src/service/types.ts';
import { png } from '../http/harness.ts';

const WOBBLE = optionSpec({
  name: 'wobble' as OptionName,
  label: 'Wobble amount',
  kind: 'integer',
  range: '0–9',
  default: 3,
  description: 'test-only wobble',
  note: 'A row that exists only in this test.',
  min: 0,
  max: 9,
  integer: true,
});
const TINT = optionSpec({
  name: 'tint' as OptionName,
  label: 'Tint',
  kind: 'choice',
  range: 'warm|cool',
  default: 'warm',
  description: 'test-only tint',
  choices: ['warm', 'cool'],
  advanced: true,
});
/** A copy of the engine's table with the two rows added after the prompt and at the end. */
const table: OptionTable = (model?: OptionModel) => {
  const [prompt, ...rest] = optionSpecs(model);
  return [prompt!, WOBBLE, ...rest, TINT];
};
const model: ModelSummary = {
  name: 'tiny',
  randomWeights: true,
  frames: 14,
  width: 128,
  height: 64,
  fps: 7,
  motion: 127,
  steps: 25,
  guidance: [1, 3],
  maxSteps: 50,
  steerable: true,
};

it('derives the new rows’ default text from their values', () => {
  expect(WOBBLE.defaultText).toBe('3');
  expect(TINT.defaultText).toBe('warm');
});

describe('the CLI', () => {
  it('parses the new flags in every spelling and refuses what the table lacks', () => {
    expect(parseCliArgs(['animate', 'a.png', '--wobble', '4', '-tint=cool'], table).options).toEqual({
      wobble: '4',
      tint: 'cool',
    });
    expect(() => parseCliArgs(['animate', 'a.png', '--wobble', '4'])).toThrow(/unknown option "--wobble"/);
    expect(() => parseCliArgs(['animate', 'a.png', '--bogus', '1'], table)).toThrow(
      /valid options: --prompt --wobble --motion .* --steer --tint -o/,
    );
  });

  it('lists them in --help with range, default and description', () => {
    const help = cliHelp(model, table);
    expect(help).toMatch(/ {2}--wobble {6}0–9 {31} default: 3\n {16}test-only wobble/);
    expect(help).toMatch(/--tint\s+warm\|cool\s+default: warm/);
    expect(cliHelp(model)).not.toContain('--wobble');
  });
});

describe('chat', () => {
  it('parses the new options from chat text', () => {
    const parsed = parseChatText('waves —wobble 5 --tint=cool at dusk', undefined, table);
    expect(parsed.options).toEqual({ prompt: 'waves at dusk', wobble: '5', tint: 'cool' });
    expect(() => parseChatText('waves --wobble 5')).toThrow(/unknown option "--wobble"/);
    expect(() => parseChatText('waves --wobble', undefined, table)).toThrow(/--wobble needs a value in 0–9/);
  });

  it('lists them in the help of both platforms', () => {
    expect(helpText(model, { table })).toContain('• `--wobble` 0–9 (default: 3): test-only wobble');
    const slack = slackHelp({ model, randomWeights: false }, table);
    expect(slack).toContain('• `--tint` warm|cool (default: warm): test-only tint');
  });
});

describe('Discord', () => {
  it('registers the new options with their types, bounds and choices', () => {
    const builder = new SlashCommandBuilder().setName('animate').setDescription('test');
    const json = addAnimateOptions(builder, model, table).toJSON();
    const options = json.options as unknown as { name: string; type: number }[];
    expect(options.map((o) => o.name)).toEqual(table(model).map((s) => s.name));
    const byName = Object.fromEntries(options.map((o) => [o.name, o]));
    expect(byName.wobble).toMatchObject({
      type: 4,
      min_value: 0,
      max_value: 9,
      description: 'test-only wobble (0–9; default 3)',
    });
    expect(byName.tint).toMatchObject({
      type: 3,
      choices: [
        { name: 'warm', value: 'warm' },
        { name: 'cool', value: 'cool' },
      ],
    });
    expect(suggest('wobble', '4', table)).toEqual([]);
  });

  it('reads the new options back from an interaction', () => {
    const given: Record<string, string | number> = { wobble: 6, tint: 'cool', fps: 8 };
    const interaction = {
      options: { get: (name: string) => (name in given ? { name, value: given[name] } : null) },
    } as unknown as ChatInputCommandInteraction;
    expect(readAnimateOptions(interaction, table)).toEqual({ wobble: 6, tint: 'cool', fps: 8 });
    expect(readAnimateOptions(interaction)).toEqual({ fps: 8 });
  });
});

describe('the Slack modal', () => {
  const metadata = { channel: 'C1', extra: {} };

  it('shows a field for the new short-form row, and carries the advanced one along', () => {
    const { fields, extra } = splitTyped({ wobble: '7', tint: 'cool', steps: 4 } as never, table);
    expect(fields).toEqual({ wobble: '7' });
    expect(extra).toEqual({ tint: 'cool', steps: '4' });
    const view = animateModal({ model, typed: fields, metadata: { ...metadata, extra }, table });
    const ids = view.blocks.map((b) => b.block_id);
    expect(ids).toEqual(['image', 'prompt', 'wobble', ...modalFields().slice(1), 'extra']);
    const wobble = view.blocks.find((b) => b.block_id === 'wobble') as unknown as Record<string, unknown>;
    expect(wobble).toMatchObject({
      label: { text: 'Wobble amount' },
      hint: { text: 'test-only wobble: 0–9, default 3' },
      element: {
        type: 'number_input',
        is_decimal_allowed: false,
        min_value: '0',
        max_value: '9',
        initial_value: '7',
      },
    });
    expect(JSON.stringify(view.blocks.at(-1))).toContain('--tint cool');
    expect(animateModal({ model, typed: {}, metadata }).blocks.map((b) => b.block_id)).not.toContain(
      'wobble',
    );
  });

  it('reads the new field back from a submitted view', () => {
    const view = {
      private_metadata: JSON.stringify({ channel: 'C1', extra: { tint: 'cool' } }),
      state: { values: { wobble: { value: { value: ' 8 ' } }, fps: { value: { value: '6' } } } },
    };
    expect(readSubmission(view, table).options).toEqual({ tint: 'cool', wobble: '8', fps: '6' });
    expect(readSubmission(view).options).toEqual({ tint: 'cool', fps: '6' });
  });
});

describe('the HTTP form and the playground', () => {
  const submitted: SubmitRequest[] = [];
  const service = {
    async submit(req: SubmitRequest) {
      submitted.push(req);
      return { id: `job${submitted.length}`, position: 1 };
    },
    async get() {
      return undefined;
    },
  } as unknown as JobService;
  const appWith = (optionTable?: OptionTable) =>
    buildApp({
      service,
      info: { model, ready: () => true, provider: () => 'cpu' },
      logger: createLogger('silent'),
      optionTable,
    });

  async function post(app: Awaited<ReturnType<typeof appWith>>, fields: Record<string, string>) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('image', new Blob([new Uint8Array(await png())], { type: 'image/png' }), 'a.png');
    const request = new Request('http://localhost/', { method: 'POST', body: form });
    return app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': request.headers.get('content-type')! },
      payload: Buffer.from(await request.arrayBuffer()),
    });
  }

  it('accepts the new fields in POST /v1/jobs, and refuses them without the row', async () => {
    const app = await appWith(table);
    const res = await post(app, { wobble: '2', tint: 'cool', fps: '8' });
    expect(res.statusCode, res.body).toBe(202);
    expect(submitted.at(-1)!.options).toEqual({ wobble: '2', tint: 'cool', fps: '8' });
    await app.close();
    const plain = await appWith();
    const refused = await post(plain, { wobble: '2' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'unknown_option', option: 'wobble' });
    await plain.close();
  });

  it('serves the table at GET /v1/options, with the access rules of the other /v1 routes', async () => {
    const app = await appWith(table);
    const res = await app.inject({ method: 'GET', url: '/v1/options' });
    expect(res.statusCode).toBe(200);
    const rows = res.json().options as OptionSpec[];
    expect(rows).toEqual(JSON.parse(JSON.stringify(table(model))));
    expect(rows.find((s) => (s.name as string) === 'wobble')).toMatchObject({
      kind: 'integer',
      defaultText: '3',
    });
    expect(res.json()).not.toHaveProperty('token');
    const stranger = await app.inject({ method: 'GET', url: '/v1/options', remoteAddress: '203.0.113.9' });
    expect(stranger.statusCode).toBe(401);
    await app.close();
  });

  describe('in a browser', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('builds the playground form from the table it is served, new rows included', async () => {
      const app = await appWith(table);
      const server = await listen(app, '127.0.0.1', 0);
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(server.url);
        await page.waitForSelector('#wobble');
        expect(await page.getAttribute('#wobble', 'type')).toBe('number');
        expect(await page.getAttribute('#wobble', 'max')).toBe('9');
        expect(await page.locator('#wobble-hint').textContent()).toBe('0–9 · default 3');
        expect(await page.locator('#wobble-note').textContent()).toBe('A row that exists only in this test.');
        expect(await page.locator('#tint option').allTextContents()).toEqual([
          'default (warm)',
          'warm',
          'cool',
        ]);
        const ids = await page.locator('#fields [name]').evaluateAll((els) => els.map((e) => e.id));
        expect(ids).toEqual(table(model).map((s) => s.name));
        expect(errors).toEqual([]);
      } finally {
        await server.close();
      }
    });
  });
});
