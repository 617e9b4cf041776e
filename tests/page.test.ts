import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Hono } from 'hono';
import type { Browser, Page } from 'playwright-core';

import { CaptureService } from '../src/capture/index.ts';
import { workflowSettings } from '../src/commands/run.ts';
import { loadConfig, Secret } from '../src/config/index.ts';
import type { CaptureState } from '../src/core/frames.ts';
import { silentLogger } from '../src/core/log.ts';
import { Daemon } from '../src/daemon.ts';
import { createHttpApp, serveStatus, type StatusSnapshot } from '../src/http/index.ts';
import { MESSAGES } from '../src/http/messages.ts';
import { notice, NOTICES } from '../src/notices/index.ts';
import { fillTemplate } from '../src/core/notice.ts';
import { parseManifest } from '../src/inference/manifest.ts';
import { WorkflowEventBus } from '../src/workflow/events.ts';
import { launchChromium, readableText, scrollsSideways, smallTargets } from './helpers/browser.ts';
import { freePort } from './helpers/mosquitto.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const ARTIFACTS = join(repoRoot, 'test-artifacts', 'page');
const TOKEN = 'page-test-token';
/** Long enough for the reference model's window of 32 frames at 10 Hz. */
const RECORD_SECONDS = 3.5;
const VIEWS = ['ijv', 'scv', 'ivc', 'ca'] as const;
const REFERENCE_MANIFEST = parseManifest(
  JSON.parse(readFileSync(join(repoRoot, 'models/reference/manifest.json'), 'utf8')),
  'models/reference/manifest.json',
);

/**
 * English catalogue values that must not show when the page is in Chinese: those that differ
 * from their Chinese text and are plain words, not a pattern with {placeholders} or a symbol.
 */
const ENGLISH_ONLY = Object.entries(MESSAGES.en)
  .filter(([key, text]) => MESSAGES['zh-CN'][key as keyof typeof MESSAGES.en] !== text)
  .map(([, text]) => text)
  .filter((text) => !text.includes('{') && /[A-Za-z]{2}/.test(text));

function untranslated(text: string): string[] {
  const escape = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = ENGLISH_ONLY.filter((english) =>
    new RegExp(`(^|[^A-Za-z])${escape(english)}($|[^A-Za-z])`).test(text),
  );
  if (text.includes('⟦')) found.push('a missing catalogue key');
  return found;
}

/**
 * Runs of three or more English words, which a Chinese screen shows only where a sentence was
 * left untranslated: catalogue templates with {placeholders} and the daemon's notices escape the
 * catalogue comparison of `untranslated`, so this catches them.
 */
function englishPhrases(text: string): string[] {
  return text.match(/\b[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}/g) ?? [];
}

async function assertChinese(page: Page, screen: string): Promise<void> {
  const text = await readableText(page);
  assert.deepEqual(untranslated(text), [], `${screen} shows English text`);
  assert.deepEqual(englishPhrases(text), [], `${screen} shows English sentences`);
}

/** Matches a daemon sentence shown in `language`: English words, or Chinese characters. */
function inLanguage(language: 'en' | 'zh-CN', english: RegExp): RegExp {
  return language === 'en' ? english : /\p{Script=Han}/u;
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function checkLayout(page: Page, screen: string): Promise<void> {
  assert.equal(await scrollsSideways(page), false, `${screen} scrolls sideways`);
  assert.deepEqual(await smallTargets(page, 48), [], `${screen} has targets below 48 px`);
}

describe('touchscreen page on live phantom capture', { timeout: 240_000 }, () => {
  let dataDir: string;
  let capture: CaptureService;
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  let url: string;
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'bv-edge-page-'));
    const config = loadConfig({
      dataDir,
      providers: ['cpu'],
      mqtt: { url: 'mqtt://127.0.0.1:9' },
      http: { language: 'en' },
      // The site enters Hb in g/L, so the preoperative Hb is converted to g/dL by the page.
      clinical: { hemoglobinUnit: 'g/L' },
      workflow: { recordSeconds: RECORD_SECONDS },
      // The carotid clip, because the ca view must pulse. The vein views pass on it too.
      capture: { source: { kind: 'phantom', view: 'ca' } },
    });
    const logger = silentLogger();
    capture = new CaptureService({ capture: config.capture, dataDir, logger });
    await capture.start();
    daemon = new Daemon({
      config,
      workflow: workflowSettings(config),
      http: { host: '127.0.0.1', port: 0, token: new Secret(TOKEN) },
      frameSource: capture,
      stopFrameSource: () => capture.stop(),
      logger,
    });
    await daemon.start();
    url = daemon.url!;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1024, height: 600 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    await capture?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(pageErrors, [], 'script errors on the page');
  });

  /**
   * Runs one case from the new-case form to the stored label, checking `onScreen` on each. With
   * `hbPreopGL` the preoperative Hb is entered in g/L, which puts the patient in the population.
   */
  async function runCase(
    caseId: string,
    language: 'en' | 'zh-CN',
    onScreen: (screen: string) => Promise<void>,
    hbPreopGL?: string,
  ): Promise<void> {
    const text = MESSAGES[language];
    await page.getByTestId('case-id').waitFor();
    await onScreen('new case');
    await screenshot(page, `${language}-1-new-case`);
    // The scanner types the id and Enter; with the height empty, Enter moves to the height.
    await page.getByTestId('case-id').fill(caseId);
    await page.getByTestId('case-id').press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'heightCm');
    await page.locator('#heightCm').fill('172');
    // A Chinese input method in full-width mode types "６８，５".
    await page.locator('#weightKg').fill(language === 'zh-CN' ? '６８，５' : '68,5');
    await page.locator('#ageYears').fill('47');
    await page.getByTestId('sex-female').check();
    if (hbPreopGL !== undefined) {
      // A value outside the API's range is rejected with the API's own description of the field.
      await page.getByTestId('hb-preop').fill('400');
      await page.getByTestId('open-case').click();
      await page.waitForFunction(
        () =>
          (document.querySelector('[data-testid="error-hbPreopGdl"]')?.textContent ?? '') !== '',
      );
      const hbError = await page.getByTestId('error-hbPreopGdl').innerText();
      assert.match(hbError, inLanguage(language, /expected a number/));
      assert.match(hbError, /\d/, `the Hb error names no range: ${hbError}`);
      await onScreen('failed field');
      await page.getByTestId('hb-preop').fill(hbPreopGL);
    }
    // An MRN that the HL7 push would reject is named before the case opens.
    await page.locator('#mrn').fill('A B 12');
    await page.getByTestId('open-case').click();
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="error-mrn"]')?.textContent ?? '') !== '',
    );
    assert.equal(((await apiGet('api/workflow')) as { case: unknown }).case, null);
    await page.locator('#mrn').fill('MRN-000123');
    await page.getByTestId('open-case').click();
    await page.getByTestId('tile-ijv').waitFor();
    // The HL7 link is off in this config, so the MRN push is not configured.
    await page.waitForFunction(
      (text) => document.querySelector('[data-testid="mrn-notice"]')?.textContent === text,
      MESSAGES[language]['hl7.mrn.not-configured'],
    );
    assert.ok(!(await readableText(page)).includes('MRN-000123'), 'MRN shown on the page');
    // "68,5" has a decimal comma.
    const opened = (await apiGet('api/workflow')) as { case: { covariates: { weightKg: number } } };
    assert.equal(opened.case.covariates.weightKg, 68.5);
    await onScreen('view tiles');
    await screenshot(page, `${language}-2-tiles`);

    for (const [index, view] of VIEWS.entries()) {
      const tile = page.getByTestId(`tile-${view}`);
      if (index === 0) await assertMarkAndDepth(view, text);
      await page.getByTestId(`record-${view}`).click();
      await page.waitForSelector(`[data-testid="tile-${view}"][data-state="recording"]`);
      await page.waitForFunction(
        (name) => {
          const image = document.querySelector<HTMLImageElement>(`#preview-${name}`);
          return image !== null && !image.hidden && image.naturalWidth > 0;
        },
        view,
        { timeout: 10_000 },
      );
      if (index === 0) {
        await page.waitForFunction(
          (name) =>
            (document.querySelector<HTMLProgressElement>(`#tile-${name} progress`)?.value ?? 0) > 0,
          view,
        );
        await onScreen('recording');
        await screenshot(page, `${language}-3-recording`);
      }
      // A recording that fails the quality check (e.g. the vessel lost under load) is retaken once.
      for (let attempt = 1; ; attempt++) {
        const checked = `[data-testid="tile-${view}"]:is([data-state="review"], [data-state="failed"])`;
        await page.waitForSelector(checked, { timeout: 60_000 });
        if ((await tile.getAttribute('data-state')) === 'review' || attempt === 2) break;
        await page.getByTestId(`retake-${view}`).click();
        await page.getByTestId(`record-${view}`).click();
      }
      assert.equal(await tile.getAttribute('data-state'), 'review', `${view} failed twice`);
      const messages = await page.getByTestId(`messages-${view}`).innerText();
      assert.ok(messages.length > 0, `${view}: no quality message in review`);
      if (index === 0) {
        await onScreen('review');
        await screenshot(page, `${language}-4-review`);
      }
      await page.getByTestId(`accept-${view}`).click();
      await page.waitForSelector(`[data-testid="tile-${view}"][data-state="accepted"]`);
      assert.equal(await tile.getAttribute('data-state'), 'accepted');
    }

    await page.getByTestId('result').waitFor();
    const bv = await page.getByTestId('bv-ml').innerText();
    assert.match(bv, /\d/, `blood volume ${bv}`);
    await assertResultCard(language, hbPreopGL !== undefined);
    assert.equal(
      await page.getByTestId('delivery-hl7').innerText(),
      text['hl7.case.not-configured'],
    );
    await onScreen('estimate');
    await screenshot(page, `${language}-5-estimate`);
    await page.getByTestId('close-case').click();
    await page.getByTestId('save-label').waitFor();
    await onScreen('closed case');
    await screenshot(page, `${language}-6-closed`);

    // A label without hemoglobin values is rejected and the fields are named.
    await page.getByTestId('save-label').click();
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="error-hbBefore"]')?.textContent ?? '') !== '',
    );
    assert.notEqual(await page.getByTestId('error-hbAfter').innerText(), '');
    await onScreen('label errors');
    assert.match(
      await page.getByTestId('error-hbBefore').innerText(),
      inLanguage(language, /expected a number/),
    );
    // Empty fields are marked as required, whatever rule of the API they fail.
    for (const name of ['enteredBy', 'hbBefore', 'hbAfter']) {
      const error = await page.getByTestId(`error-${name}`).innerText();
      assert.ok(error.startsWith(text['field.error.required']), `${name}: ${error}`);
    }
    assert.equal(await page.locator('#enteredBy').getAttribute('maxlength'), '100');
    await assertLabelFieldErrors(text);
    await onScreen('label field errors');
    await page.locator('#enteredBy').fill('coordinator-1');
    await page.getByTestId('label-hb-unit').selectOption('g/dL');
    await page.getByTestId('label-hbBefore').fill('13.2');
    await page.getByTestId('label-hbAfter').fill('10.1');
    await page.getByTestId('label-withdrawnMl').fill('1100');
    // "1,500" has a thousands separator.
    await page.getByTestId('label-urineOutputMl').fill('1,500');
    // Shorter than the default site minimum of 15 min, so each label carries a warning.
    await page.getByTestId('label-equilibrationMinutes').fill('10');
    await page.getByTestId('save-label').click();
    await page.getByTestId('label-single-step').waitFor();
    await page.getByTestId('label-continuous-exchange').waitFor();
    assert.equal(await page.getByTestId('error-hbBefore').innerText(), '');
    const warnings = await page.getByTestId('label-warnings-single-step').innerText();
    assert.match(
      warnings,
      inLanguage(language, /equilibration time 10 min is shorter than the site minimum of 15 min/),
    );
    assert.match(warnings, /10 min.*15 min/, `the warning lacks its numbers: ${warnings}`);
    const stored = (await apiGet(`api/cases/${caseId}`)) as {
      labels: { inputsCanonical: { urineOutputMl?: number } }[];
    };
    assert.equal(stored.labels[0]?.inputsCanonical.urineOutputMl, 1500);
    await onScreen('stored label');
    await screenshot(page, `${language}-7-label`);

    await page.getByTestId('device-toggle').click();
    await page.waitForFunction(() => {
      const image = document.querySelector<HTMLImageElement>('#setup-preview');
      return image !== null && image.naturalWidth > 0;
    });
    const captureState = await page.getByTestId('device-capture').innerText();
    assert.ok(captureState.length > 0, 'device panel lacks the capture state');
    await onScreen('device panel');
    await screenshot(page, `${language}-8-device`);
    await page.getByTestId('device-toggle').click();
    await page.getByTestId('new-case').click();
  }

  /**
   * Marks the lumen on the preview of `view` and types a depth, then checks the recording request
   * that the page sends to a stub route. The mark and the depth are cleared afterwards.
   */
  async function assertMarkAndDepth(view: string, text: Record<string, string>): Promise<void> {
    await page.waitForFunction((name) => {
      const image = document.querySelector<HTMLImageElement>(`#preview-${name}`);
      return image !== null && !image.hidden && image.naturalWidth > 0;
    }, view);
    const preview = page.getByTestId(`preview-${view}`);
    const box = (await preview.boundingBox())!;
    await preview.click({ position: { x: box.width / 2, y: box.height / 2 } });
    assert.equal(await page.getByTestId(`mark-${view}`).isVisible(), true, 'no mark shown');
    await page.getByTestId(`depth-${view}`).fill('abc');
    await page.getByTestId(`record-${view}`).click();
    const depthError = await page.getByTestId(`error-setup-${view}`).innerText();
    assert.ok(depthError.startsWith(text['field.error.notNumber']!), depthError);

    let sent: { view?: string; depthCm?: number; seed?: { x: number; y: number } } = {};
    await page.route('**/api/workflow/recording', async (route) => {
      sent = route.request().postDataJSON() as typeof sent;
      const problem = { status: 409, code: 'invalid_transition', detail: 'stub' };
      await route.fulfill({
        status: 409,
        contentType: 'application/problem+json',
        body: JSON.stringify(problem),
      });
    });
    await page.getByTestId(`depth-${view}`).fill('4,5');
    await page.getByTestId(`record-${view}`).click();
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="action-error"]')?.textContent ?? '') !== '',
    );
    await page.unroute('**/api/workflow/recording');
    assert.equal(sent.view, view);
    assert.equal(sent.depthCm, 4.5);
    const status = (await apiGet('api/status')) as {
      capture: { imageArea: { x: number; y: number; width: number; height: number } };
    };
    const area = status.capture.imageArea;
    // The middle of the preview is the middle of the image area, within a pixel or two.
    assert.ok(Math.abs(sent.seed!.x - (area.x + area.width / 2)) <= 2, JSON.stringify(sent));
    assert.ok(Math.abs(sent.seed!.y - (area.y + area.height / 2)) <= 2, JSON.stringify(sent));

    await page.getByTestId(`clear-mark-${view}`).click();
    assert.equal(await page.getByTestId(`mark-${view}`).isVisible(), false, 'mark still shown');
    await page.getByTestId(`depth-${view}`).fill('');
  }

  async function apiGet(path: string): Promise<unknown> {
    const response = await fetch(new URL(path, url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(response.status, 200, `GET ${path}`);
    return response.json();
  }

  /** Waits until the field error of `name` starts with `prefix`, and returns it. */
  async function fieldError(name: string, prefix: string): Promise<string> {
    await page.waitForFunction(
      ([id, start]) =>
        (document.querySelector(`[data-testid="error-${id}"]`)?.textContent ?? '').startsWith(
          start,
        ),
      [name, prefix] as const,
    );
    return page.getByTestId(`error-${name}`).innerText();
  }

  /**
   * Checks the label form's errors of a typed value that is no number, which the page rejects
   * itself, and of a filled value that the API rejects, which is not called required.
   */
  async function assertLabelFieldErrors(text: Record<string, string>): Promise<void> {
    await page.getByTestId('label-withdrawnMl').fill('1,5,0');
    await page.getByTestId('save-label').click();
    const notNumber = await fieldError('withdrawnMl', text['field.error.notNumber']!);
    assert.ok(notNumber.includes(text['field.error.numberForm']!), notNumber);
    assert.equal(await page.locator('#withdrawnMl').inputValue(), '1,5,0', 'value changed');

    await page.getByTestId('label-withdrawnMl').fill('1100');
    await page.getByTestId('label-hbBefore').fill('abc');
    await page.getByTestId('save-label').click();
    await fieldError('hbBefore', text['field.error.notNumber']!);

    await page.getByTestId('label-hbBefore').fill('13.2');
    await page.getByTestId('label-hbAfter').fill('-3');
    await page.getByTestId('save-label').click();
    const hbAfter = await fieldError('hbAfter', text['field.error.too_small']!);
    assert.match(hbAfter, /0/, `the error names no limit: ${hbAfter}`);
  }

  /** Checks the population flag, the intended use, the notices and the units of the result. */
  async function assertResultCard(language: 'en' | 'zh-CN', hbEntered: boolean): Promise<void> {
    const text = MESSAGES[language];
    const population = await page.getByTestId('population').innerText();
    const reasons = page.getByTestId('population-reasons');
    if (hbEntered && population === text['result.population.in']) {
      // Age 47 years, BMI 23.2 kg/m² and Hb 132 g/L = 13.2 g/dL meet every criterion.
      assert.equal(await reasons.count(), 0);
    } else if (hbEntered) {
      // A phantom recording can still give view features outside the training cohort, the one
      // reason left when the patient meets every criterion; it is shown in the page's language.
      assert.equal(population, text['result.population.out']);
      const cohort = language === 'en' ? /training cohort/ : /训练队列/;
      for (const line of (await reasons.innerText()).split('\n').filter(Boolean)) {
        assert.match(line, cohort);
      }
    } else {
      assert.equal(population, text['result.population.out']);
      assert.match(await reasons.innerText(), /preoperative Hb not entered/);
    }
    assert.equal(
      await page.getByTestId('intended-use').innerText(),
      text[`intendedUse.${REFERENCE_MANIFEST.intendedUse}`],
    );
    assert.equal(
      await page.getByTestId('fixed-notice').innerText(),
      text[`notice.${REFERENCE_MANIFEST.intendedUse}`],
    );
    assert.equal(
      await page.getByTestId('manifest-notice').innerText(),
      language === 'en'
        ? REFERENCE_MANIFEST.notice
        : REFERENCE_MANIFEST.noticeTranslations?.[language],
    );
    assert.match(await page.getByTestId('bv-kg').innerText(), /^[\d.,]+ mL\/kg$/);
    assert.match(await page.getByTestId('bv-ml').innerText(), /^[\d.,\s]+ mL$/);
  }

  test('whole case in English', async () => {
    await page.goto(`${url}?token=${TOKEN}`);
    assert.equal(new URL(page.url()).search, '', 'token left in the address');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await runCase('page-en-1', 'en', (screen) => checkLayout(page, screen));

    // After a reload the closed case is still reachable from the recent-cases list.
    await page.reload();
    await page.getByTestId('recent-page-en-1').click();
    await page.getByTestId('label-single-step').waitFor();
    assert.match(await page.getByTestId('bv-ml').innerText(), /\d/);
    assert.equal(
      await page.getByTestId('delivery-hl7').innerText(),
      MESSAGES.en['hl7.case.not-configured'],
    );
    await page.getByTestId('save-label').waitFor();
    await page.getByTestId('new-case').click();
    const status = (await (
      await fetch(new URL('api/status', url), { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { latestEstimate: { caseId: string } };
    assert.equal(status.latestEstimate.caseId, 'page-en-1');
  });

  test('recent case while case open', async () => {
    await page.getByTestId('case-id').fill('page-en-2');
    await page.locator('#heightCm').fill('180');
    await page.locator('#weightKg').fill('80');
    await page.getByTestId('sex-male').check();
    await page.getByTestId('open-case').click();
    await page.getByTestId('tile-ijv').waitFor();

    // The earlier case's label is entered while this case stays open in the daemon.
    await page.getByTestId('recent-page-en-1').click();
    await page.getByTestId('save-label').waitFor();
    assert.equal(await page.getByTestId('new-case').count(), 0, 'next-case button shown');
    await page.locator('#enteredBy').fill('coordinator-2');
    await page.getByTestId('label-hb-unit').selectOption('g/dL');
    await page.getByTestId('label-hbBefore').fill('13.2');
    await page.getByTestId('label-hbAfter').fill('10.1');
    await page.getByTestId('label-withdrawnMl').fill('1,100');
    await page.getByTestId('save-label').click();
    // The third column is the revision, 2 after this second entry, unless the entry failed.
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="label-single-step"] td:nth-child(3)')?.textContent ===
          '2' || document.querySelector('[data-testid="label-error"]')?.textContent !== '',
    );
    assert.equal(await page.getByTestId('label-error').innerText(), '', 'label not stored');
    const open = (await apiGet('api/workflow')) as { case: { caseId: string } | null };
    assert.equal(open.case?.caseId, 'page-en-2');
    await checkLayout(page, 'closed case beside an open case');

    await page.getByTestId('back-to-open-case').click();
    await page.getByTestId('tile-ijv').waitFor();

    // The page's bodyless POST carries the JSON content type, so the abandon goes through.
    // A double tap only arms the button, so a bouncing touch cannot drop the case.
    await page.getByTestId('abandon-case').dblclick();
    await page.waitForTimeout(300);
    const armed = (await apiGet('api/workflow')) as { case: { caseId: string } | null };
    assert.equal(armed.case?.caseId, 'page-en-2', 'a double tap abandoned the case');
    await page.waitForTimeout(700);
    await page.getByTestId('abandon-case').click();
    await page.getByTestId('case-id').waitFor();
    assert.equal(((await apiGet('api/workflow')) as { case: unknown }).case, null);
  });

  test('whole case in Chinese', async () => {
    await page.getByTestId('case-id').waitFor();
    await page.getByTestId('language-toggle').click();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await runCase(
      'page-zh-1',
      'zh-CN',
      async (screen) => {
        await assertChinese(page, screen);
        await checkLayout(page, screen);
        assert.ok(!(await readableText(page)).includes('毫升'), `${screen} mixes unit styles`);
      },
      '132',
    );
    // A case id used before is rejected with the daemon's reason, shown in Chinese.
    await page.getByTestId('case-id').fill('page-zh-1');
    await page.locator('#heightCm').fill('172');
    await page.locator('#weightKg').fill('68');
    await page.getByTestId('sex-female').check();
    await page.getByTestId('open-case').click();
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="form-error"]')?.textContent ?? '') !== '',
    );
    const rejected = await page.getByTestId('form-error').innerText();
    assert.ok(rejected.startsWith(MESSAGES['zh-CN']['problem.case_exists']), rejected);
    assert.ok(rejected.includes('page-zh-1'), `the reason does not name the case id: ${rejected}`);
    await assertChinese(page, 'case id used before');
    await page.getByTestId('case-id').fill('');
    await page.getByTestId('language-toggle').click();
  });

  test('1280x800 layout fits', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByTestId('case-id').waitFor();
    await checkLayout(page, 'new case at 1280x800');
    await page.getByTestId('device-toggle').click();
    await checkLayout(page, 'device panel at 1280x800');
    await screenshot(page, 'wide-device');
    await page.getByTestId('device-toggle').click();
  });

  test('sign-in page without token', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 600 } });
    try {
      const fresh = await context.newPage();
      await fresh.goto(url);
      await fresh.locator('input[name="token"]').fill('wrong');
      await fresh.locator('button[type="submit"]').click();
      assert.ok((await readableText(fresh)).includes(MESSAGES.en['login.invalid']), 'no error');
      await fresh.locator('input[name="token"]').fill(TOKEN);
      await fresh.locator('button[type="submit"]').click();
      await fresh.getByTestId('case-id').waitFor();
    } finally {
      await context.close();
    }
  });
});

describe('page event stream', { timeout: 60_000 }, () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  test('resumes after server restart', async () => {
    let captureState: CaptureState = 'live';
    const snapshot = (): StatusSnapshot => ({
      latestScan: null,
      outbox: { depth: 0, oldestAgeS: null },
      mqttConnected: false,
      startedAt: '2025-03-14T08:00:00.000Z',
      capture: { state: captureState, fps: 30 },
    });
    // The open case as the workflow restores it after a restart during an SCV recording.
    const restoredCase = {
      caseId: 'page-restart-1',
      step: 'idle',
      activeView: null,
      covariates: { heightCm: 172, weightKg: 68.5, sex: 'female', ageYears: 47 },
      requiredViews: ['ijv', 'scv'],
      missingViews: ['scv'],
      accepted: {},
      pendingAttempt: null,
      estimate: null,
      notice: notice('notice.workflow.interrupted', { view: 'scv' }),
    };
    const workflowStub = new Hono().get('/', (c) => c.json({ case: restoredCase }));
    const start = async (port: number) => {
      const http = createHttpApp({
        language: 'en',
        hbUnit: 'g/dL',
        logger: silentLogger(),
        readStatus: snapshot,
        readiness: () => ({ storeOpen: true, modelsLoaded: true, captureState }),
        events: new WorkflowEventBus(silentLogger()),
        routes: { '/api/workflow': workflowStub },
      });
      const server = await serveStatus(http.app, { host: '127.0.0.1', port });
      return { server, close: http.close };
    };
    const port = await freePort();
    let running = await start(port);
    const page = await browser.newPage({ viewport: { width: 1024, height: 600 } });
    try {
      await page.goto(running.server.url);
      const connection = page.getByTestId('connection');
      const chip = page.getByTestId('capture-chip');
      await page.waitForFunction(
        (text) => document.querySelector('[data-testid="connection"]')?.textContent === text,
        MESSAGES.en['connection.live'],
      );
      const notice = page.getByTestId('case-notice');
      await notice.waitFor();
      assert.equal(
        await notice.innerText(),
        'The SCV recording was interrupted by a restart. Record it again.',
      );
      running.close();
      await running.server.close();
      await page.waitForFunction(
        (text) => document.querySelector('[data-testid="connection"]')?.textContent === text,
        MESSAGES.en['connection.reconnecting'],
      );
      // The last capture state is still shown, marked as not updating.
      const stale = MESSAGES.en['capture.stale'].replace(
        '{state}',
        MESSAGES.en['capture.state.live'],
      );
      assert.equal(await chip.innerText(), stale);
      assert.equal(await chip.getAttribute('data-stale'), 'true');
      // Lost for more than a few seconds, the old state is no longer shown.
      await page.waitForFunction(
        (text) => document.querySelector('[data-testid="capture-chip"]')?.textContent === text,
        MESSAGES.en['capture.staleUnknown'],
        { timeout: 15_000 },
      );
      captureState = 'frozen';
      running = await start(port);
      await page.waitForFunction(
        (text) => document.querySelector('[data-testid="connection"]')?.textContent === text,
        MESSAGES.en['connection.live'],
        { timeout: 20_000 },
      );
      assert.equal(await connection.innerText(), MESSAGES.en['connection.live']);
      const frozen = MESSAGES.en['capture.chip'].replace(
        '{state}',
        MESSAGES.en['capture.state.frozen'],
      );
      await page.waitForFunction(
        (text) => document.querySelector('[data-testid="capture-chip"]')?.textContent === text,
        frozen,
      );
      assert.equal(await chip.innerText(), frozen);
    } finally {
      await page.close();
      running.close();
      await running.server.close();
    }
  });

  test('device and delivery in Chinese', async () => {
    const zh = MESSAGES['zh-CN'];
    const snapshot = (): StatusSnapshot => ({
      latestScan: null,
      outbox: { depth: 0, oldestAgeS: null },
      mqttConnected: true,
      startedAt: '2025-03-14T08:00:00.000Z',
      capture: {
        state: 'frozen',
        fps: 30,
        reasonNotice: notice('notice.capture.frozen', { seconds: 4 }),
      },
      executionProviders: { ijv: 'cpu', scv: 'cpu', ivc: 'cpu', ca: 'cpu', fusion: 'cpu' },
      diskFreeBytes: 2e8,
      diskLow: true,
    });
    const estimate = {
      bvMl: 4850,
      bvMlPerKg: 69.3,
      lowerMl: 4210,
      upperMl: 5490,
      nadlerMl: 4927,
      modelName: 'bv-reference',
      modelVersion: '0.1.0',
      intendedUse: 'research',
      notice: 'Research model.',
      noticeTranslations: { 'zh-CN': '研究用模型（随估计值保存的译文）。' },
      executionProvider: 'cpu',
      population: { inPopulation: true, reasons: [] },
    };
    let hl7: Record<string, unknown> = {
      state: 'rejected',
      ackCode: 'AE',
      error: 'rejected with AE: Patient [MRN] not found in the ADT system of the hospital',
    };
    let openCase: Record<string, unknown> | null = null;
    const cases = new Hono()
      .get('/', (c) =>
        c.json({
          cases: [
            {
              caseId: 'page-hl7-1',
              createdAt: '2025-03-14T09:00:00.000Z',
              bvMl: 4850,
              inPopulation: true,
              labelCount: 0,
            },
          ],
        }),
      )
      .get('/page-hl7-1', (c) =>
        c.json({
          record: { caseId: 'page-hl7-1', estimate, views: [] },
          labels: [],
          delivery: { central: 'sent', hl7 },
        }),
      );
    const http = createHttpApp({
      language: 'zh-CN',
      hbUnit: 'g/dL',
      logger: silentLogger(),
      readStatus: snapshot,
      readiness: () => ({ storeOpen: true, modelsLoaded: true, captureState: 'frozen' }),
      events: new WorkflowEventBus(silentLogger()),
      routes: {
        '/api/workflow': new Hono().get('/', (c) => c.json({ case: openCase })),
        '/api/cases': cases,
      },
    });
    const server = await serveStatus(http.app, { host: '127.0.0.1', port: 0 });
    const page = await browser.newPage({ viewport: { width: 1024, height: 600 } });
    try {
      await page.goto(server.url);
      await page.getByTestId('device-toggle').click();
      await page.getByTestId('device-providers').waitFor();
      const providers = await page.getByTestId('device-providers').innerText();
      for (const name of ['view.ijv.short', 'view.ca.short', 'device.modelName.fusion'] as const) {
        assert.ok(providers.includes(zh[name]), `providers lack ${zh[name]}: ${providers}`);
      }
      assert.doesNotMatch(providers, /ijv|fusion/, 'model ids shown');
      assert.equal(
        await page.getByTestId('device-capture-reason').innerText(),
        NOTICES['zh-CN']['notice.capture.frozen'].replace('{seconds}', '4'),
      );
      assert.equal(await page.getByTestId('device-disk-low').innerText(), zh['device.diskLow']);
      await assertChinese(page, 'device panel with capture reason and low disk');
      await checkLayout(page, 'device panel with capture reason and low disk');
      await page.getByTestId('device-toggle').click();

      await page.getByTestId('recent-page-hl7-1').click();
      const delivery = page.getByTestId('delivery-hl7');
      await delivery.waitFor();
      assert.equal(
        await delivery.innerText(),
        zh['hl7.case.rejected']
          .replace('{code}', 'AE')
          .replace('{error}', 'Patient [MRN] not found in the ADT system of the hospital'),
      );
      // The label of the row keeps its width beside a long value.
      const label = page.locator('.row', { has: delivery }).locator('dt');
      // One client rectangle per line of the label's text.
      const labelLines = await label.evaluate((element) => {
        const range = document.createRange();
        range.selectNodeContents(element);
        return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
      });
      assert.equal(labelLines, 1, 'the row label wraps');
      assert.equal(
        await page.getByTestId('manifest-notice').innerText(),
        estimate.noticeTranslations['zh-CN'],
      );

      hl7 = { state: 'retrying', error: 'mllp://127.0.0.1:47313 refused the connection' };
      await page.reload();
      await page.getByTestId('recent-page-hl7-1').click();
      await page.waitForFunction(
        (text) => document.querySelector('[data-testid="delivery-hl7"]')?.textContent === text,
        zh['hl7.case.retrying'],
      );
      await assertChinese(page, 'closed case with HL7 retrying');

      hl7 = { state: 'rejected', ackCode: 'AE', error: '' };
      await page.reload();
      await page.getByTestId('recent-page-hl7-1').click();
      await page.waitForFunction(
        (text) => document.querySelector('[data-testid="delivery-hl7"]')?.textContent === text,
        zh['hl7.case.rejectedBare'].replace('{code}', 'AE'),
      );

      // The tile of a failed recording shows the issue's notice with its numbers.
      const tooShort = notice('notice.workflow.quality.tooShort', {
        view: 'ijv',
        durationS: 1,
        minDurationS: 3.2,
      });
      openCase = {
        caseId: 'page-tile-1',
        step: 'review',
        activeView: 'ijv',
        covariates: { heightCm: 172, weightKg: 68.5, sex: 'female' },
        requiredViews: ['ijv', 'scv'],
        missingViews: ['ijv', 'scv'],
        accepted: {},
        pendingAttempt: {
          quality: {
            passed: false,
            issues: [{ code: 'too_short', message: tooShort.text, notice: tooShort }],
          },
        },
        estimate: null,
        notice: null,
      };
      await page.reload();
      await page.waitForSelector('[data-testid="tile-ijv"][data-state="failed"]');
      const lookup = (key: string) => (NOTICES['zh-CN'] as Record<string, string>)[key];
      // The first message is the frozen capture of this status.
      const messages = (await page.getByTestId('messages-ijv').innerText()).split('\n');
      assert.equal(messages.at(-1), fillTemplate(lookup(tooShort.key)!, tooShort.params, lookup));
      await assertChinese(page, 'failed recording');
    } finally {
      await page.close();
      http.close();
      await server.close();
    }
  });
});
