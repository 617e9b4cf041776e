import { readFileSync } from 'node:fs';

import { html } from 'hono/html';

import { HEMOGLOBIN_UNITS, hemoglobinToGdl } from '../clinical/units.ts';
import { MRN_PATTERN } from '../hl7/routes.ts';
import type { PageLanguage } from './languages.ts';
import { MESSAGES, translate } from './messages.ts';

const ASSET_DIR = new URL('./assets/', import.meta.url);

/** The page's script and style sheet, read once at start-up and served from the app's routes. */
export interface PageAssets {
  appJs: string;
  appCss: string;
  /**
   * Sets window.BV_EDGE_CATALOGUES to the message catalogues, window.BV_EDGE_HB_GDL_PER_UNIT
   * to the g/dL of 1 of each hemoglobin unit, so that the page converts as the server does, and
   * window.BV_EDGE_MRN_PATTERN to the source of the MRN check of the HL7 API.
   */
  messagesJs: string;
}

/** g/dL of 1 of each hemoglobin unit; every conversion in units.ts is a plain factor. */
function hemoglobinFactors(): Record<string, number> {
  return Object.fromEntries(HEMOGLOBIN_UNITS.map((unit) => [unit, hemoglobinToGdl(1, unit)]));
}

export function loadPageAssets(): PageAssets {
  return {
    appJs: readFileSync(new URL('app.js', ASSET_DIR), 'utf8'),
    appCss: readFileSync(new URL('app.css', ASSET_DIR), 'utf8'),
    messagesJs:
      `window.BV_EDGE_CATALOGUES = ${JSON.stringify(MESSAGES)};\n` +
      `window.BV_EDGE_HB_GDL_PER_UNIT = ${JSON.stringify(hemoglobinFactors())};\n` +
      `window.BV_EDGE_MRN_PATTERN = ${JSON.stringify(MRN_PATTERN.source)};\n`,
  };
}

/**
 * Renders the page shell, which has no content of its own because app.js builds every screen in
 * the operator's language. `hbUnit` is the site's hemoglobin unit, preselected in the label form.
 */
export function renderShell(language: PageLanguage, hbUnit: string) {
  return html`<!doctype html>
    <html lang="${language}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${translate(language, 'app.title')}</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/messages.js" defer></script>
        <script src="/assets/app.js" defer></script>
      </head>
      <body data-language="${language}" data-hb-unit="${hbUnit}"></body>
    </html>`;
}

/** Renders the sign-in form, shown in place of the shell when a token is required and missing. */
export function renderLogin(language: PageLanguage, invalid: boolean) {
  const t = (key: Parameters<typeof translate>[1]) => translate(language, key);
  const other = language === 'en' ? 'zh-CN' : 'en';
  return html`<!doctype html>
    <html lang="${language}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${t('login.title')}</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/app.css" />
      </head>
      <body>
        <main class="screen">
          <form class="card form login" method="post" action="/login">
            <h2>${t('login.title')}</h2>
            <p class="muted">${t('login.intro')}</p>
            ${invalid ? html`<p class="form-error" role="alert">${t('login.invalid')}</p>` : ''}
            <input type="hidden" name="language" value="${language}" />
            <label class="field">
              <span class="label">${t('login.token')}</span>
              <input type="password" name="token" autocomplete="current-password" autofocus />
            </label>
            <button type="submit" class="btn primary">${t('login.submit')}</button>
            <a class="btn secondary" href="/?lang=${other}">${t('language.other')}</a>
          </form>
        </main>
      </body>
    </html>`;
}
