import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium; the tests never download a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Starts headless Chromium without network services of its own (updates, sync, first run). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * Returns what the operator can read on the page: the visible text, and the placeholder, title,
 * alt and aria-label attributes and the visible option labels.
 */
export async function readableText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const parts = [document.body.innerText, document.title];
    for (const element of Array.from(document.querySelectorAll('*'))) {
      for (const name of ['placeholder', 'title', 'alt', 'aria-label']) {
        const value = element.getAttribute(name);
        if (value) parts.push(value);
      }
    }
    return parts.join('\n');
  });
}

/** Returns whether the page is wider than the window, so that it scrolls sideways. */
export async function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(
    () => document.documentElement.scrollWidth > document.documentElement.clientWidth,
  );
}

/** Visible buttons and inputs lower than `minPx`, described as "tag text (height px)". */
export async function smallTargets(page: Page, minPx: number): Promise<string[]> {
  return page.evaluate((min) => {
    const targets = Array.from(
      document.querySelectorAll(
        'button, select, input[type="text"], input[type="password"], a.btn',
      ),
    );
    return targets
      .filter((target) => (target as HTMLElement).offsetParent !== null)
      .map((target) => ({ target, height: target.getBoundingClientRect().height }))
      .filter(({ height }) => height < min)
      .map(({ target, height }) => `${target.tagName} ${target.textContent} (${height} px)`);
  }, minPx);
}
