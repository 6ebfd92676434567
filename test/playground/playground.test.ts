/** The playground page in a real headless Chromium (playwright-core + Debian's chromium). */
import { mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, type Harness, png, startHarness } from '../http/harness.ts';

const SHOTS = 'test-results';

describe('playground', () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  beforeAll(async () => {
    [h, browser] = await Promise.all([
      startHarness(),
      chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: [
          '--no-sandbox',
          '--headless',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      }),
    ]);
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(h.url);
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  async function dropPicture(width: number, height: number, name = 'dropped.png') {
    const bytes = [...(await png(width, height))];
    await page.evaluate(
      ({ bytes, name }) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
        document
          .getElementById('drop')
          ?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      },
      { bytes, name },
    );
  }

  it('has a field for every option of the table, each with its range and default', async () => {
    await expect.poll(() => page.locator('#model-note').textContent()).toMatch(/random weights.*noise/);
    const model = (await call(h.url, 'GET', '/v1/model')).body;
    expect(model.options.length).toBeGreaterThanOrEqual(10);
    for (const spec of model.options) {
      expect(await page.locator(`#${spec.name}`).count(), spec.name).toBe(1);
      expect(await page.locator(`#${spec.name}-hint`).textContent()).toBe(
        `${spec.range} · default ${spec.defaultText}`,
      );
    }
    expect(await page.getAttribute('#frames', 'max')).toBe('14');
    expect(await page.locator('#size option').allTextContents()).toEqual([
      'default (auto)',
      'auto',
      'landscape',
      'portrait',
      'square',
    ]);
  });

  it('shows the crop the chosen size will use', async () => {
    await dropPicture(300, 100);
    expect(await page.locator('#image').evaluate((i) => (i as HTMLInputElement).files?.[0]?.name)).toBe(
      'dropped.png',
    );
    await expect.poll(() => page.locator('#crop-note').textContent()).toMatch(/300×100\) → \d+×\d+ \(auto\)/);
    await page.selectOption('#size', 'portrait');
    await expect.poll(() => page.locator('#crop-note').textContent()).toMatch(/→ 64×128 \(portrait\)/);
    await page.selectOption('#size', '');
  });

  it('shows a refusal beside the field it names', async () => {
    await page.fill('#motion', 'wild');
    await page.getByRole('button', { name: 'Animate' }).click();
    await expect.poll(() => page.locator('#motion-error').textContent()).toMatch(/motion must be .*1–255/);
    expect(await page.getAttribute('#motion', 'aria-invalid')).toBe('true');
    expect(await page.locator('#form-error').textContent()).toBe('');
    await page.fill('#motion', '');
    expect(await page.locator('#motion-error').textContent()).toBe('');
  });

  it('runs a whole job by keyboard: live preview before the result, player, download, seed and options', async () => {
    await page.evaluate(() => {
      const w = window as unknown as Record<string, number>;
      document.getElementById('live-preview')?.addEventListener('load', () => {
        w.previewAt ??= performance.now();
      });
      document.getElementById('video')?.addEventListener('loadedmetadata', () => {
        w.videoAt ??= performance.now();
      });
    });
    await page.fill('#frames', '4');
    await page.fill('#steps', '12');
    await page.fill('#seed', '11');
    await page.fill('#motion', '210');
    await page.selectOption('#loop', 'boomerang');
    expect(await page.locator('#steer-note').textContent()).toMatch(
      /Experimental\..*not trained with text, so results vary/s,
    );
    await page.fill('#steer', '0.5');
    // A prompt that would be markup if it were rendered as HTML.
    await page.focus('#prompt');
    await page.keyboard.type('<img src=x onerror=alert(1)> waves');
    let tabs = 0;
    while (!(await page.evaluate(() => document.activeElement?.id === 'submit')) && tabs++ < 40)
      await page.keyboard.press('Tab');
    expect(tabs).toBeLessThan(40);
    // What the form sends (Chromium does not expose multipart bodies with a file to playwright).
    await page.evaluate(() => {
      const w = window as unknown as { sent: Record<string, string>[]; fetch: typeof fetch };
      const original = w.fetch;
      w.sent = [];
      w.fetch = (url, init) => {
        if (init?.body instanceof FormData) {
          const fields: Record<string, string> = {};
          init.body.forEach((v, k) => {
            if (typeof v === 'string') fields[k] = v;
          });
          w.sent.push(fields);
        }
        return original(url, init);
      };
    });
    await page.keyboard.press('Enter');
    const sent = await page.evaluate(() => (window as unknown as { sent: Record<string, string>[] }).sent[0]);
    expect(sent).toMatchObject({ prompt: '<img src=x onerror=alert(1)> waves', steer: '0.5' });
    // Who the caller is comes from the session cookie, never from the form.
    expect(sent).not.toHaveProperty('user');

    await page.waitForSelector('#progress[data-seen-progress="true"]', { timeout: 60_000 });
    await page.waitForFunction(
      () => {
        const v = document.querySelector('video');
        return v && !v.hidden && Number.isFinite(v.duration) && v.duration > 0;
      },
      undefined,
      { timeout: 60_000 },
    );
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/playground.png`, fullPage: true });
    const at = await page.evaluate(() => window as unknown as Record<string, number>);
    const times = await page.evaluate(() => {
      const w = window as unknown as Record<string, number>;
      return { preview: w.previewAt, video: w.videoAt };
    });
    expect(at).toBeDefined();
    expect(times.preview).toBeGreaterThan(0);
    expect(times.preview).toBeLessThan(times.video!);
    // 2× the latent width of the output: the 300×100 picture's auto size is 192×64, so 48.
    expect(await page.locator('#live-preview').evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBe(
      48,
    );
    expect(await page.locator('#status').textContent()).toMatch(/Done\. Seed 11/);
    const href = (await page.getAttribute('#download', 'href')) ?? '';
    expect(href).toMatch(/\/v1\/jobs\/.+\/result$/);
    // The job is this browser session's (web:<session>): another caller reads it with the token.
    const made = await call(h.url, 'GET', href.replace(/\/result$/, ''), { token: ADMIN_TOKEN });
    expect(made.body.options).toMatchObject({ frames: 4, loop: 'boomerang', smooth: 'off' });
    const shown = await page.locator('#job-options').textContent();
    expect(shown).toContain('“<img src=x onerror=alert(1)> waves”');
    expect(shown).toContain('seed 11');
    expect(shown).toContain('--motion 210');
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    // 210 + 50 leaves 1–255: More motion is off; Less motion and Reroll are on.
    expect(await page.locator('#more-motion').isDisabled()).toBe(true);
    expect(await page.locator('#less-motion').isDisabled()).toBe(false);
  });

  it('Less motion keeps the seed and takes 50 off; Reroll keeps the options with a new seed', async () => {
    await page.click('#less-motion');
    await expect
      .poll(() => page.locator('#job-options').textContent(), { timeout: 60_000 })
      .toMatch(/seed 11 · --motion 160 .*--seed 11/);
    await page.click('#reroll');
    await expect
      .poll(() => page.locator('#status').textContent(), { timeout: 60_000 })
      .toMatch(/Done\. Seed (?!11\.)\d+/);
    const shown = await page.locator('#job-options').textContent();
    expect(shown).toContain('--motion 160');
    expect(shown).toContain('--frames 4 --steps 12');
    expect(shown).not.toContain('--seed 11 ');
  });

  it('cancels the current job from beside its status', async () => {
    await call(h.url, 'POST', '/v1/queue/pause', { token: ADMIN_TOKEN });
    try {
      await page.getByRole('button', { name: 'Animate' }).click();
      await expect.poll(() => page.locator('#status').textContent()).toMatch(/position 1/);
      await page.click('#cancel');
      await expect.poll(() => page.locator('#status').textContent()).toMatch(/Canceled/);
      expect(await page.locator('#cancel').isHidden()).toBe(true);
    } finally {
      await call(h.url, 'POST', '/v1/queue/resume', { token: ADMIN_TOKEN });
    }
  });

  it('keeps a gallery of this browser’s jobs with their options across a reload, and fits 375 px', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.reload();
    await expect.poll(() => page.locator('#recent li').count()).toBeGreaterThanOrEqual(4);
    const first = await page.locator('#recent li').first().textContent();
    expect(first).toMatch(/canceled/);
    const all = (await page.locator('#recent').textContent()) ?? '';
    expect(all).toContain('<img src=x onerror=alert(1)> waves');
    expect(all).toContain('--motion 160');
    expect(await page.locator('#recent img.thumb').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}/playground-375.png`, fullPage: true });
    const wide = await page.evaluate(() =>
      Array.from(document.querySelectorAll('body *'))
        .filter((e) => e.getBoundingClientRect().right > 376)
        .map((e) => `${e.tagName}#${e.id}.${e.className}`),
    );
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.screenshot({ path: `${SHOTS}/playground-375.png`, fullPage: true });
    expect(errors).toEqual([]);
  });
});
