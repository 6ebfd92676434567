/** The playground page in a real headless Chromium (playwright-core + Debian's chromium). */
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, type Harness, png, startHarness } from '../http/harness.ts';

describe('playground', () => {
  let h: Harness;
  let browser: Browser;
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
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('uploads a picture, shows live progress, plays the MP4, lists and cancels recent jobs', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(h.url);
    await expect.poll(() => page.locator('#model-note').textContent()).toMatch(/random weights.*noise/);
    expect(await page.locator('#model-note').isVisible()).toBe(true);
    expect(await page.getAttribute('#frames', 'max')).toBe('14');

    // Dropping a picture on the form picks it.
    const dropped = [...(await png(120, 80))];
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
      const target = document.getElementById('drop');
      target?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, dropped);
    expect(await page.locator('#image').evaluate((i) => (i as HTMLInputElement).files?.[0]?.name)).toBe(
      'dropped.png',
    );
    expect(await page.locator('#preview').isVisible()).toBe(true);
    expect(await page.getAttribute('#preview', 'alt')).toBe('Preview of dropped.png');
    await page.fill('#prompt', 'a card that moves');
    await page.fill('#frames', '4');
    await page.fill('#steps', '3');
    await page.fill('#seed', '11');
    await page.selectOption('#loop', 'boomerang');
    await page.getByRole('button', { name: 'Animate' }).click();

    await page.waitForSelector('#progress[data-seen-progress="true"]', { timeout: 60_000 });
    const duration = await page.waitForFunction(
      () => {
        const v = document.querySelector('video');
        return v && !v.hidden && Number.isFinite(v.duration) && v.duration > 0 ? v.duration : false;
      },
      undefined,
      { timeout: 60_000 },
    );
    expect(await duration.jsonValue()).toBeGreaterThan(0);
    expect(await page.locator('#status').textContent()).toMatch(/Done\. Seed 11/);
    expect(await page.locator('#progress').evaluate((p) => (p as HTMLProgressElement).value)).toBe(1);
    const href = (await page.getAttribute('#download', 'href')) ?? '';
    expect(href).toMatch(/\/v1\/jobs\/.+\/result$/);
    const made = await call(h.url, 'GET', href.replace(/\/result$/, ''));
    expect(made.body.options).toMatchObject({ frames: 4, loop: 'boomerang', smooth: 'off' });
    await page.selectOption('#loop', 'off');
    await expect
      .poll(() => page.locator('#recent li').first().textContent())
      .toMatch(/a card that moves.*succeeded/);

    // A refusal is shown next to the form.
    await page.fill('#motion', 'wild');
    await page.getByRole('button', { name: 'Animate' }).click();
    await expect.poll(() => page.locator('#form-error').textContent()).toMatch(/motion must be .*1–255/);
    await page.fill('#motion', '');

    // A waiting job can be canceled from the recent list.
    await call(h.url, 'POST', '/v1/queue/pause', { token: ADMIN_TOKEN });
    await page.getByRole('button', { name: 'Animate' }).click();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/position 1/);
    const cancel = page.locator('#recent li button', { hasText: 'Cancel' });
    await cancel.click();
    await expect.poll(() => page.locator('#recent li').first().textContent()).toMatch(/canceled/);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/Canceled/);
    await call(h.url, 'POST', '/v1/queue/resume', { token: ADMIN_TOKEN });
    expect(errors).toEqual([]);
  });
});
