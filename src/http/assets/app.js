/* global window, document, fetch, EventSource, localStorage, Image, setTimeout, clearTimeout, HTMLInputElement */
// The touchscreen page of bv-edge. Plain browser JavaScript, served as /assets/app.js with no
// build step. Every text comes from the catalogues in /assets/messages.js, and every element is
// built with textContent, never innerHTML, so no value from the server can inject markup.
'use strict';

const CATALOGUES = window.BV_EDGE_CATALOGUES;
/** g/dL of 1 of each hemoglobin unit, from the server's unit conversions. */
const HB_GDL_PER_UNIT = window.BV_EDGE_HB_GDL_PER_UNIT;
const LANGUAGE_KEY = 'bv-edge-language';
const VIEW_ORDER = ['ijv', 'scv', 'ivc', 'ca'];
const WORKFLOW_EVENTS = [
  'case-opened',
  'case-restored',
  'recording-started',
  'recording-finished',
  'quality-checked',
  'view-accepted',
  'retake',
  'estimate-ready',
  'case-closed',
  'case-abandoned',
];
/** Delay between two preview images of the active tile, ms (about 4 images per second). */
const PREVIEW_INTERVAL_MS = 250;
/** Delay between two set-up preview images in the device panel, ms. */
const SETUP_PREVIEW_INTERVAL_MS = 1000;
/** Delay before a new event stream when the browser gave up on one, ms. */
const RECONNECT_MS = 2000;
/** Minimum time between the two taps that abandon a case, ms. */
const ABANDON_CONFIRM_DELAY_MS = 600;
/** MRN that the HL7 API accepts, from the server's own check. */
const MRN_PATTERN = new RegExp(window.BV_EDGE_MRN_PATTERN);
/** Time without the event stream after which the last capture state is no longer shown, ms. */
const STALE_CAPTURE_MS = 5000;
/** Days of closed cases in the recent-cases list. */
const RECENT_DAYS = 7;
/** Minimum delay between two re-reads of a closed case while its delivery is pending, ms. */
const DELIVERY_REFRESH_MS = 3000;

const body = document.body;
const state = {
  language: readLanguage(),
  connected: false,
  /** Date.now() when the event stream was lost, or null while connected. */
  disconnectedAt: null,
  status: null,
  /** The open case from GET /api/workflow, or null. */
  workflowCase: null,
  /** The closed case shown: { caseId, record, labels, delivery }, until a new case is started. */
  closed: null,
  /** True while a closed case from the recent list is shown over the open case. */
  viewingClosed: false,
  /** Cases closed in the last RECENT_DAYS days from GET /api/cases, newest first, or null. */
  recent: null,
  /** Latest recording-progress event. */
  progress: null,
  selectedView: null,
  devicePanel: false,
  /** Result of storing the MRN for the HL7 push: 'stored', 'not-configured', 'failed' or null. */
  mrnPush: null,
  abandonArmed: false,
  /** Date.now() of the first tap on abandon. */
  abandonArmedAt: 0,
  error: null,
  fieldErrors: {},
  /** Lumen marks by view: the tap as fractions of the preview, and the point in source pixels. */
  marks: {},
  busy: false,
};

// ---- Text and formatting ---------------------------------------------------------------------

function readLanguage() {
  const stored = localStorage.getItem(LANGUAGE_KEY);
  if (stored && CATALOGUES[stored]) return stored;
  return body.dataset.language in CATALOGUES ? body.dataset.language : 'en';
}

/**
 * Returns the message of `key` with each {name} replaced by its value, numbers formatted for the
 * page's language, and each {name:prefix} by the message of key `prefix.<value>` (notices name a
 * view that way). A missing key shows as ⟦key⟧.
 */
function t(key, params) {
  const catalogue = CATALOGUES[state.language];
  const template = catalogue[key];
  if (template === undefined) return `⟦${key}⟧`;
  return template.replace(/\{(\w+)(?::([\w.-]+))?\}/g, (_, name, prefix) => {
    const value = params?.[name];
    if (value === undefined || value === null) return '';
    if (prefix) return catalogue[`${prefix}.${value}`] ?? String(value);
    return typeof value === 'number' ? new Intl.NumberFormat(state.language).format(value) : value;
  });
}

/**
 * Returns a notice of the daemon ({ key, params, text }, src/core/notice.ts) in the page's
 * language. A notice the catalogue lacks shows its English text on the English page and
 * `fallback` on any other, so that no English sentence appears on a translated page.
 */
function noticeText(notice, fallback) {
  if (notice && typeof notice.key === 'string' && CATALOGUES[state.language][notice.key]) {
    return t(notice.key, notice.params);
  }
  const english = typeof notice === 'string' ? notice : notice?.text;
  return state.language === 'en' && english ? english : fallback;
}

function formatNumber(value, digits) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return t('value.missing');
  return new Intl.NumberFormat(state.language, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

/**
 * Formats a value with the unit symbol of the catalogue key `unitKey`, e.g. 'unit.mL'. Intl's
 * unit style is not used because its Chinese names mix words and symbols ("毫升/kg").
 */
function formatQuantity(value, unitKey, digits) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return t('value.missing');
  return t('unit.value', { value: formatNumber(value, digits), unit: t(unitKey) });
}

/** Returns the message of `key`, or `fallback` when the catalogue has no such key. */
function tOr(key, fallback, params) {
  const text = t(key, params);
  return text === `⟦${key}⟧` ? fallback : text;
}

/**
 * Returns the model's notice of `estimate` in the page's language: the translation stored with
 * the estimate, else the active bundle's when the estimate came from it, else the English notice.
 */
function modelNotice(estimate) {
  const own = estimate.noticeTranslations?.[state.language];
  if (own) return own;
  const model = state.status?.model;
  const fromActive = model?.name === estimate.modelName && model?.version === estimate.modelVersion;
  const translated = fromActive ? model.noticeTranslations?.[state.language] : undefined;
  return translated ?? estimate.notice;
}

/** Formats a value with a unit that Intl lacks (mm², /min); a missing value shows no unit. */
function withUnit(key, value, digits) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return t('value.missing');
  return t(key, { value: formatNumber(value, digits) });
}

function formatPercent(fraction) {
  if (typeof fraction !== 'number' || !Number.isFinite(fraction)) return t('value.missing');
  return new Intl.NumberFormat(state.language, {
    style: 'percent',
    maximumFractionDigits: 0,
  }).format(fraction);
}

function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return t('value.missing');
  return new Intl.DateTimeFormat(state.language, {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(date);
}

// ---- DOM helpers -------------------------------------------------------------------------------

/** Creates an element; `attributes` keys starting with "on" add listeners, others set attributes. */
function el(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

function button(label, onClick, className, testId) {
  return el(
    'button',
    { type: 'button', class: className ?? 'btn', onclick: onClick, 'data-testid': testId },
    label,
  );
}

function row(label, value, testId) {
  return el(
    'div',
    { class: 'row' },
    el('dt', {}, label),
    el('dd', { 'data-testid': testId }, value),
  );
}

// ---- Server calls ------------------------------------------------------------------------------

/** Sends a request and returns { ok, status, body }; a 401 reloads into the login page. */
async function request(method, path, payload) {
  const options = { method, headers: {} };
  // Every write goes as JSON, also without a body, because the API rejects other content types
  // so that other web pages cannot post to it.
  if (method !== 'GET') {
    options.headers['content-type'] = 'application/json';
    options.body = JSON.stringify(payload ?? {});
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    return { ok: false, status: 0, body: { code: 'offline' } };
  }
  if (response.status === 401) {
    window.location.reload();
    return { ok: false, status: 401, body: { code: 'unauthorized' } };
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

/**
 * Shows a problem response. The form error is the translated message of its code, followed by
 * its notice when no field is named. Each field error is the translated error code, followed by
 * the field's notice, which describes the expected value.
 */
function showProblem(result) {
  const code = result.body?.code ?? 'internal_error';
  const errors = result.body?.errors ?? [];
  const message = tOr(`problem.${code}`, t('problem.generic'));
  const detail = errors.length === 0 ? noticeText(result.body?.notice ?? result.body?.detail) : '';
  state.error = detail ? `${message} ${detail}` : message;
  state.fieldErrors = {};
  for (const error of errors) {
    const name = error.field.split('.')[0];
    const prefix = isEmptyInput(name)
      ? t('field.error.required')
      : tOr(`field.error.${error.code}`, t('field.error.other'));
    const expected = noticeText(error.notice ?? error.detail);
    // A notice of a missing value starts with "required", so the prefix is left out.
    const isRequiredNotice = /\.required(\.|$)/.test(error.notice?.key ?? '');
    if (isRequiredNotice && expected)
      addFieldError(name, expected[0].toUpperCase() + expected.slice(1));
    else
      addFieldError(
        name,
        expected ? t('field.error.detail', { prefix, detail: expected }) : prefix,
      );
  }
}

/** Returns whether the form input of the API field `name` is on screen and empty. */
function isEmptyInput(name) {
  const input = document.getElementById(name);
  return input instanceof HTMLInputElement && input.type !== 'radio' && input.value.trim() === '';
}

function addFieldError(name, text) {
  state.fieldErrors[name] = state.fieldErrors[name] ? `${state.fieldErrors[name]} ${text}` : text;
}

/** Marks the field `name` as not a number, with the forms of number the page reads. */
function showNotNumber(name) {
  const prefix = t('field.error.notNumber');
  addFieldError(name, t('field.error.detail', { prefix, detail: t('field.error.numberForm') }));
}

function clearProblem() {
  state.error = null;
  state.fieldErrors = {};
}

async function refreshStatus() {
  const result = await request('GET', '/api/status');
  if (result.ok) state.status = result.body;
}

async function refreshCase() {
  const result = await request('GET', '/api/workflow');
  if (!result.ok) return;
  state.workflowCase = result.body.case;
  if (state.workflowCase && !state.viewingClosed) state.closed = null;
}

let closedReadAt = 0;

async function refreshClosed() {
  if (!state.closed) return;
  const caseId = state.closed.caseId;
  closedReadAt = Date.now();
  const result = await request('GET', `/api/cases/${encodeURIComponent(caseId)}`);
  if (result.ok && state.closed?.caseId === caseId) state.closed = { caseId, ...result.body };
}

async function refreshRecent() {
  const result = await request('GET', `/api/cases?days=${RECENT_DAYS}`);
  if (result.ok) state.recent = result.body.cases;
}

async function refreshAll() {
  await Promise.all([refreshStatus(), refreshCase(), refreshClosed(), refreshRecent()]);
  render();
}

/** Returns whether a delivery of the closed case may still change, so the page reads it again. */
function deliveryPending(closed) {
  const hl7 = closed?.delivery?.hl7?.state;
  return closed?.delivery?.central === 'queued' || ['queued', 'sending', 'retrying'].includes(hl7);
}

// ---- Live events ---------------------------------------------------------------------------------

function connectEvents() {
  const source = new EventSource('/api/events');
  source.addEventListener('hello', () => {
    state.connected = true;
    state.disconnectedAt = null;
    // The service responds again, so the offline error is cleared.
    if (state.error === t('problem.offline')) clearProblem();
    // Whether or not the missed events were replayed, the state is read again in full.
    void refreshAll();
  });
  source.addEventListener('status', (event) => {
    state.status = JSON.parse(event.data);
    updateLiveParts();
    const due = Date.now() - closedReadAt >= DELIVERY_REFRESH_MS;
    if (currentScreen?.startsWith('closed:') && due && deliveryPending(state.closed)) {
      void refreshClosed().then(updateClosedScreen);
    }
  });
  source.addEventListener('recording-progress', (event) => {
    state.progress = JSON.parse(event.data);
    updateLiveParts();
  });
  for (const name of WORKFLOW_EVENTS) {
    source.addEventListener(name, (event) => void onWorkflowEvent(name, JSON.parse(event.data)));
  }
  source.addEventListener('error', () => {
    state.connected = false;
    state.disconnectedAt ??= Date.now();
    updateLiveParts();
    // The chip switches to "not updating" once the last state is too old, without an event.
    setTimeout(updateLiveParts, STALE_CAPTURE_MS + 100);
    // EventSource retries by itself after a network error, but gives up on an HTTP error.
    if (source.readyState === EventSource.CLOSED) setTimeout(connectEvents, RECONNECT_MS);
  });
}

async function onWorkflowEvent(name, payload) {
  if (name === 'case-closed' && (!state.closed || state.closed.caseId !== payload.caseId)) {
    state.closed = { caseId: payload.caseId, record: payload.record, labels: [], delivery: null };
    state.viewingClosed = false;
  }
  if (name === 'recording-started' || name === 'retake') state.progress = null;
  await refreshCase();
  if (name === 'case-closed') await Promise.all([refreshClosed(), refreshRecent()]);
  render();
}

// ---- Rendering -----------------------------------------------------------------------------------

let currentScreen = null;

function screenName() {
  if (state.devicePanel) return 'device';
  if (state.closed && (state.viewingClosed || !state.workflowCase)) {
    return `closed:${state.closed.caseId}`;
  }
  if (state.workflowCase) return `case:${state.workflowCase.caseId}`;
  return 'new';
}

/** Rebuilds the page; forms are kept while their screen stays, so typed values survive. */
function render() {
  document.documentElement.lang = state.language;
  document.title = t('app.title');
  const header = document.getElementById('header');
  header.replaceChildren(...renderHeader());
  const screen = screenName();
  if (screen !== currentScreen) {
    document.getElementById('main').replaceChildren(renderScreen(screen));
    currentScreen = screen;
  }
  if (screen === 'new') updateNewCaseErrors();
  if (screen === 'new' || screen.startsWith('case:')) updateRecent();
  if (screen.startsWith('closed:')) updateClosedScreen();
  updateLiveParts();
  schedulePreviews();
}

function renderScreen(screen) {
  if (screen === 'device') return renderDevicePanel();
  if (screen.startsWith('case:')) return renderCaseScreen();
  if (screen.startsWith('closed:')) return renderClosedScreen();
  return renderNewCase();
}

function renderHeader() {
  const other = state.language === 'en' ? 'zh-CN' : 'en';
  return [
    el('h1', {}, t('app.title')),
    el('span', { class: 'chip', id: 'connection', 'data-testid': 'connection' }),
    el('span', { class: 'chip', id: 'capture-chip', 'data-testid': 'capture-chip' }),
    el('span', { class: 'spacer' }),
    button(
      state.devicePanel ? t('nav.back') : t('nav.device'),
      () => {
        state.devicePanel = !state.devicePanel;
        render();
      },
      'btn secondary',
      'device-toggle',
    ),
    button(
      t('language.other'),
      () => {
        state.language = other;
        localStorage.setItem(LANGUAGE_KEY, other);
        currentScreen = null;
        render();
      },
      'btn secondary',
      'language-toggle',
    ),
  ];
}

/** Updates the parts that change with every status event without rebuilding forms. */
function updateLiveParts() {
  const connection = document.getElementById('connection');
  if (connection) {
    connection.textContent = state.connected ? t('connection.live') : t('connection.reconnecting');
    connection.className = state.connected ? 'chip ok' : 'chip down';
  }
  const capture = state.status?.capture;
  const chip = document.getElementById('capture-chip');
  if (chip) {
    // Without the event stream the last status is old, so it is shown as not updating.
    const lostFor = state.connected ? 0 : Date.now() - (state.disconnectedAt ?? Date.now());
    const captureState =
      capture && lostFor <= STALE_CAPTURE_MS ? t(`capture.state.${capture.state}`) : null;
    if (!state.connected) {
      chip.textContent = captureState
        ? t('capture.stale', { state: captureState })
        : t('capture.staleUnknown');
    } else {
      chip.textContent = captureState
        ? t('capture.chip', { state: captureState })
        : t('capture.unknown');
    }
    chip.className = state.connected && capture?.state === 'live' ? 'chip ok' : 'chip down';
    chip.dataset.stale = String(!state.connected);
  }
  updateMrnNotice();
  if (currentScreen?.startsWith('case:')) updateTiles();
  if (currentScreen === 'device') updateDevicePanel();
  if (currentScreen?.startsWith('closed:')) updateDelivery();
}

// ---- New case -----------------------------------------------------------------------------------

const NEW_CASE_FIELDS = ['caseId', 'heightCm', 'weightKg', 'sex', 'ageYears', 'hbPreopGdl', 'mrn'];

/** Returns the site's hemoglobin unit (config clinical.hemoglobinUnit), e.g. 'g/L'. */
function siteHbUnit() {
  const unit = body.dataset.hbUnit;
  return unit && HB_GDL_PER_UNIT[unit] ? unit : 'g/dL';
}

function field(name, label, input, hint) {
  return el(
    'label',
    { class: 'field', for: input.id },
    el('span', { class: 'label' }, label),
    input,
    hint ? el('span', { class: 'hint' }, hint) : null,
    el('span', { class: 'field-error', id: `error-${name}`, 'data-testid': `error-${name}` }),
  );
}

function textInput(id, inputmode, extra) {
  return el('input', { id, name: id, type: 'text', inputmode, autocomplete: 'off', ...extra });
}

function renderNewCase() {
  const caseId = textInput('caseId', 'text', {
    autofocus: true,
    'data-testid': 'case-id',
    maxlength: 64,
  });
  // A barcode scanner types the id and presses Enter; Enter with the patient data still empty
  // moves on to the height instead of submitting.
  caseId.addEventListener('keydown', (event) => {
    const height = document.getElementById('heightCm');
    if (event.key === 'Enter' && height && height.value.trim() === '') {
      event.preventDefault();
      height.focus();
    }
  });
  const sex = el(
    'div',
    { class: 'choice', role: 'radiogroup', id: 'sex' },
    ['female', 'male'].map((value) =>
      el(
        'label',
        { class: 'choice-option' },
        el('input', { type: 'radio', name: 'sex', value, 'data-testid': `sex-${value}` }),
        el('span', {}, t(`sex.${value}`)),
      ),
    ),
  );
  const form = el(
    'form',
    { id: 'new-case', class: 'card form', novalidate: true, onsubmit: submitNewCase },
    el('h2', {}, t('case.new')),
    el('div', {
      class: 'form-error',
      id: 'form-error',
      role: 'alert',
      'data-testid': 'form-error',
    }),
    field('caseId', t('case.id'), caseId, t('case.idHint')),
    el(
      'div',
      { class: 'grid3' },
      field('heightCm', t('case.height'), textInput('heightCm', 'decimal'), t('unit.cm')),
      field('weightKg', t('case.weight'), textInput('weightKg', 'decimal'), t('unit.kg')),
      field('ageYears', t('case.age'), textInput('ageYears', 'numeric'), t('case.optional')),
    ),
    el(
      'div',
      { class: 'field' },
      el('span', { class: 'label' }, t('case.sex')),
      sex,
      el('span', { class: 'field-error', id: 'error-sex', 'data-testid': 'error-sex' }),
    ),
    field(
      'hbPreopGdl',
      t('case.hbPreop', { unit: t(`unit.hb.${siteHbUnit()}`) }),
      textInput('hbPreop', 'decimal', { 'data-testid': 'hb-preop' }),
      t('case.hbPreopHint'),
    ),
    field('mrn', t('case.mrn'), textInput('mrn', 'text'), t('case.mrnHint')),
    el(
      'button',
      { type: 'submit', class: 'btn primary', 'data-testid': 'open-case' },
      t('case.open'),
    ),
  );
  return el(
    'section',
    { class: 'screen' },
    form,
    el('div', { id: 'recent', 'data-testid': 'recent' }),
  );
}

/** Renders the list of recently closed cases; each opens its result and label form. */
function updateRecent() {
  const target = document.getElementById('recent');
  if (!target || !state.recent) return;
  const items = state.recent.map((item) =>
    el(
      'li',
      {},
      button(
        [
          el('strong', {}, item.caseId),
          el('span', { class: 'muted' }, formatDate(item.createdAt)),
          el('span', {}, formatQuantity(item.bvMl, 'unit.mL', 0)),
          el(
            'span',
            { class: 'muted' },
            t('recent.labels', { count: formatNumber(item.labelCount, 0) }),
          ),
        ],
        () => void openClosedCase(item.caseId),
        'btn secondary recent-case',
        `recent-${item.caseId}`,
      ),
    ),
  );
  target.replaceChildren(
    el(
      'section',
      { class: 'card' },
      el('h2', {}, t('recent.title')),
      el(
        'p',
        { class: 'muted' },
        items.length > 0
          ? t('recent.intro', { days: formatNumber(RECENT_DAYS, 0) })
          : t('recent.empty', { days: formatNumber(RECENT_DAYS, 0) }),
      ),
      items.length > 0 ? el('ul', { class: 'recent-list' }, items) : null,
    ),
  );
}

/** Shows the stored result and the label form of a closed case. */
async function openClosedCase(caseId) {
  clearProblem();
  state.mrnPush = null;
  state.closed = { caseId, record: null, labels: [], delivery: null };
  state.viewingClosed = state.workflowCase !== null;
  await refreshClosed();
  currentScreen = null;
  render();
}

function updateNewCaseErrors() {
  const formError = document.getElementById('form-error');
  if (formError) formError.textContent = state.error ?? '';
  for (const name of NEW_CASE_FIELDS) {
    const target = document.getElementById(`error-${name}`);
    if (target) target.textContent = state.fieldErrors[name] ?? '';
  }
}

/**
 * Reads a number typed in a form field: undefined when the field is empty, NaN when the text is
 * no number. A comma followed by groups of exactly three digits separates thousands ("1,500" is
 * 1500, "12,345.6" is 12345.6), and any other single comma is a decimal comma ("68,5" is 68.5).
 * Letters, two decimal marks or "1,5,0" give NaN, so the page shows a field error instead of
 * guessing.
 */
function parseTypedNumber(text) {
  // A Chinese input method in full-width mode types ０–９, ．, ， and －, which mean the same.
  const trimmed = text
    .trim()
    .replace(/[\uff10-\uff19\uff0b\uff0c\uff0d\uff0e]/g, (char) =>
      String.fromCharCode(char.charCodeAt(0) - 0xfee0),
    );
  if (trimmed === '') return undefined;
  if (/^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(trimmed)) return Number(trimmed.replaceAll(',', ''));
  if (/^[-+]?\d+,\d+$/.test(trimmed)) return Number(trimmed.replace(',', '.'));
  if (/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(trimmed)) return Number(trimmed);
  return Number.NaN;
}

/**
 * Reads the number inputs `names` (input ids equal to the API fields) into `payload`. Returns
 * whether each is a number or empty; each one that is not gets a field error.
 */
function readNumberInputs(names, payload) {
  let valid = true;
  for (const name of names) {
    const parsed = parseTypedNumber(document.getElementById(name).value);
    if (Number.isNaN(parsed)) {
      showNotNumber(name);
      valid = false;
    } else if (parsed !== undefined) {
      payload[name] = parsed;
    }
  }
  return valid;
}

async function submitNewCase(event) {
  event.preventDefault();
  if (state.busy) return;
  const value = (id) => document.getElementById(id).value;
  const sex = document.querySelector('input[name="sex"]:checked')?.value;
  const payload = { caseId: value('caseId').trim() };
  clearProblem();
  let valid = readNumberInputs(['heightCm', 'weightKg', 'ageYears'], payload);
  // The API takes g/dL, so the site's unit is converted here.
  const hbPreop = parseTypedNumber(value('hbPreop'));
  if (Number.isNaN(hbPreop)) {
    showNotNumber('hbPreopGdl');
    valid = false;
  } else if (hbPreop !== undefined) {
    payload.hbPreopGdl = hbPreop * HB_GDL_PER_UNIT[siteHbUnit()];
  }
  const mrn = value('mrn').trim();
  if (mrn && !MRN_PATTERN.test(mrn)) {
    addFieldError(
      'mrn',
      t('field.error.detail', {
        prefix: t('field.error.invalid_format'),
        detail: t('notice.hl7.field.mrn'),
      }),
    );
    valid = false;
  }
  if (!valid) {
    updateNewCaseErrors();
    return;
  }
  if (sex) payload.sex = sex;

  state.busy = true;
  const result = await request('POST', '/api/workflow/case', payload);
  state.busy = false;
  if (!result.ok) {
    showProblem(result);
    if (!sex && !state.fieldErrors.sex && result.body?.errors)
      state.fieldErrors.sex = t('field.error.invalid_value');
    updateNewCaseErrors();
    return;
  }
  clearProblem();
  state.mrnPush = mrn ? await pushMrn(payload.caseId, mrn) : null;
  state.workflowCase = result.body.case;
  state.closed = null;
  state.viewingClosed = false;
  state.selectedView = null;
  render();
}

/**
 * Stores the MRN on the cart for the HL7 push after the case is closed; a 404 means no HL7 link
 * is configured.
 */
async function pushMrn(caseId, mrn) {
  const result = await request('PUT', `/api/hl7/cases/${encodeURIComponent(caseId)}/mrn`, { mrn });
  if (result.ok) return 'stored';
  return result.status === 404 ? 'not-configured' : 'failed';
}

/** Returns the translated intended use of a model bundle, or the value itself when unknown. */
function intendedUseText(use) {
  return tOr(`intendedUse.${use}`, use);
}

/**
 * Returns whether the daemon withholds HL7 pushes of the loaded model, because its intended use
 * is not clinical and hl7.allowResearchPush is off.
 */
function pushesWithheld() {
  const use = state.status?.model?.intendedUse;
  return Boolean(use) && use !== 'clinical' && state.status?.hl7?.researchPushAllowed === false;
}

// ---- Open case: view tiles ------------------------------------------------------------------------

function renderCaseScreen() {
  const workflowCase = state.workflowCase;
  const covariates = workflowCase.covariates;
  const patient = [
    formatQuantity(covariates.heightCm, 'unit.cm', 0),
    formatQuantity(covariates.weightKg, 'unit.kg', 1),
    t(`sex.${covariates.sex}`),
    covariates.ageYears === undefined
      ? null
      : t('case.ageValue', { age: formatNumber(covariates.ageYears, 0) }),
  ].filter(Boolean);
  const views = VIEW_ORDER.filter((view) => workflowCase.requiredViews.includes(view));
  return el(
    'section',
    { class: 'screen' },
    el(
      'div',
      { class: 'case-head' },
      el('h2', {}, t('case.title', { caseId: workflowCase.caseId })),
      el('span', { class: 'muted' }, patient.join(' · ')),
    ),
    renderMrnNotice(),
    el('div', { class: 'banner', id: 'case-notice', 'data-testid': 'case-notice', hidden: true }),
    el('div', {
      class: 'form-error',
      id: 'action-error',
      role: 'alert',
      'data-testid': 'action-error',
    }),
    el('div', { class: 'tiles' }, views.map(renderTile)),
    el('div', { id: 'case-result' }),
    el(
      'div',
      { class: 'actions' },
      button(t('case.close'), closeCase, 'btn primary', 'close-case'),
      button(t('case.abandon'), abandonCase, 'btn danger', 'abandon-case'),
    ),
    // The coordinator can enter an earlier case's label while this one stays open.
    el('div', { id: 'recent', 'data-testid': 'recent' }),
  );
}

function renderMrnNotice() {
  return el('div', {
    class: 'banner',
    id: 'mrn-notice',
    'data-testid': 'mrn-notice',
    hidden: true,
  });
}

/** Shows whether the MRN was stored and whether the push after the case is closed will send it. */
function updateMrnNotice() {
  const notice = document.getElementById('mrn-notice');
  if (!notice) return;
  const outcome = state.mrnPush === 'stored' && pushesWithheld() ? 'withheld' : state.mrnPush;
  notice.hidden = !outcome;
  notice.className = outcome === 'stored' ? 'banner ok' : 'banner';
  const use = intendedUseText(state.status?.model?.intendedUse);
  notice.textContent = outcome
    ? t(outcome === 'stored' ? 'hl7.mrn.kept' : `hl7.mrn.${outcome}`, { use })
    : '';
  notice.dataset.outcome = outcome ?? '';
}

function renderTile(view) {
  return el(
    'article',
    {
      class: 'tile',
      id: `tile-${view}`,
      'data-testid': `tile-${view}`,
      onclick: () => {
        state.selectedView = view;
        updateTiles();
        schedulePreviews();
      },
    },
    el(
      'header',
      {},
      el('strong', {}, t(`view.${view}.short`)),
      el('span', { class: 'muted' }, t(`view.${view}.name`)),
      el('span', { class: 'badge', 'data-role': 'badge' }),
    ),
    el(
      'div',
      { class: 'preview' },
      el('img', {
        'data-role': 'preview',
        'data-testid': `preview-${view}`,
        hidden: true,
        alt: t('preview.alt', { view: t(`view.${view}.short`) }),
        onclick: (event) => markLumen(event, view),
      }),
      el('span', {
        class: 'mark',
        'data-role': 'mark',
        'data-testid': `mark-${view}`,
        hidden: true,
      }),
      el('span', { class: 'preview-text', 'data-role': 'preview-text' }),
    ),
    el('progress', { max: 1, value: 0, 'data-role': 'progress' }),
    el(
      'div',
      { class: 'tile-setup', 'data-role': 'setup' },
      el(
        'label',
        { class: 'depth' },
        t('tile.depth'),
        el('input', {
          id: `depth-${view}`,
          'data-testid': `depth-${view}`,
          inputmode: 'decimal',
          autocomplete: 'off',
          placeholder: t('tile.depthDefault'),
          onclick: (event) => event.stopPropagation(),
        }),
      ),
      el('span', { class: 'muted', 'data-role': 'mark-hint' }),
      button(
        t('tile.clearMark'),
        (event) => clearMark(event, view),
        'btn secondary',
        `clear-mark-${view}`,
      ),
      el('p', { class: 'field-error', 'data-testid': `error-setup-${view}` }),
    ),
    el('ul', { class: 'messages', 'data-role': 'messages', 'data-testid': `messages-${view}` }),
    el(
      'div',
      { class: 'tile-actions' },
      button(t('tile.record'), (event) => recordView(event, view), 'btn primary', `record-${view}`),
      button(t('tile.stop'), (event) => act(event, 'recording/stop'), 'btn', `stop-${view}`),
      button(t('tile.accept'), (event) => act(event, 'accept'), 'btn primary', `accept-${view}`),
      button(t('tile.retake'), (event) => act(event, 'retake'), 'btn secondary', `retake-${view}`),
    ),
  );
}

/** Returns the view with the live preview: the one in progress, else the one tapped, else the next. */
function activeTileView(workflowCase) {
  return (
    workflowCase.activeView ??
    (state.selectedView && workflowCase.requiredViews.includes(state.selectedView)
      ? state.selectedView
      : null) ??
    workflowCase.missingViews[0] ??
    null
  );
}

function tileState(workflowCase, view) {
  if (workflowCase.activeView === view) {
    if (workflowCase.step === 'review') {
      return workflowCase.pendingAttempt?.quality.passed ? 'review' : 'failed';
    }
    return workflowCase.step;
  }
  return workflowCase.accepted[view] ? 'accepted' : 'pending';
}

function updateTiles() {
  const workflowCase = state.workflowCase;
  if (!workflowCase) return;
  const active = activeTileView(workflowCase);
  for (const view of workflowCase.requiredViews) updateTile(workflowCase, view, active);
  updateCaseFooter(workflowCase);
  updateCaseResult(workflowCase);
}

function updateTile(workflowCase, view, active) {
  const tile = document.getElementById(`tile-${view}`);
  if (!tile) return;
  const tileStatus = tileState(workflowCase, view);
  tile.classList.toggle('active', view === active);
  tile.dataset.state = tileStatus;
  tile.querySelector('[data-role="badge"]').textContent = t(`tile.state.${tileStatus}`);
  tile.querySelector('[data-role="progress"]').value = progressOf(workflowCase, view, tileStatus);

  const captureState = view === active ? state.status?.capture?.state : null;
  const messages = qualityMessages(workflowCase, tileStatus, captureState);
  tile
    .querySelector('[data-role="messages"]')
    .replaceChildren(...messages.map((message) => el('li', {}, message)));

  const idle = workflowCase.step === 'idle';
  const settable = idle && tileStatus === 'pending';
  setVisible(tile, `record-${view}`, settable);
  tile.querySelector('[data-role="setup"]').hidden = !settable;
  updateMark(tile, view, settable && view === active);
  setVisible(tile, `stop-${view}`, tileStatus === 'recording');
  setVisible(tile, `accept-${view}`, tileStatus === 'review');
  setVisible(tile, `retake-${view}`, ['recording', 'review', 'failed'].includes(tileStatus));
  if (view !== active) {
    tile.querySelector('[data-role="preview"]').hidden = true;
    tile.querySelector('[data-role="preview-text"]').textContent = t('preview.tap');
  }
}

function updateCaseFooter(workflowCase) {
  const closeButton = document.querySelector('[data-testid="close-case"]');
  if (closeButton) closeButton.disabled = !(workflowCase.estimate && workflowCase.step === 'idle');
  const abandon = document.querySelector('[data-testid="abandon-case"]');
  if (abandon) {
    abandon.textContent = state.abandonArmed ? t('case.abandonConfirm') : t('case.abandon');
  }
  const notice = document.getElementById('case-notice');
  if (notice) {
    notice.hidden = !workflowCase.notice;
    notice.textContent = workflowCase.notice ? caseNoticeText(workflowCase.notice) : '';
  }
  const actionError = document.getElementById('action-error');
  if (actionError) actionError.textContent = state.error ?? '';
}

/** Renders the estimate card once per estimate, so it is not rebuilt on every status event. */
function updateCaseResult(workflowCase) {
  const result = document.getElementById('case-result');
  if (!result) return;
  const key = workflowCase.estimate?.estimateId ?? '';
  if (result.dataset.estimate !== key) {
    result.dataset.estimate = key;
    const card = workflowCase.estimate
      ? renderResult({
          estimate: workflowCase.estimate.estimate,
          views: Object.values(workflowCase.accepted),
          closed: false,
        })
      : '';
    result.replaceChildren(card);
  }
  updateDelivery();
}

/**
 * Translates the daemon's notice of the open case. A recording lost to a restart is shown in full.
 * A failed estimate carries the inference error in English, so only the English page adds it
 * to the generic message.
 */
function caseNoticeText(notice) {
  if (notice.key === 'notice.workflow.interrupted') return noticeText(notice, t('case.notice'));
  const reason = noticeText(notice.params?.reason ?? notice, '');
  return reason ? `${t('case.notice')} ${reason}` : t('case.notice');
}

function setVisible(tile, testId, visible) {
  tile.querySelector(`[data-testid="${testId}"]`).hidden = !visible;
}

function progressOf(workflowCase, view, tileStatus) {
  if (tileStatus === 'accepted' || tileStatus === 'review' || tileStatus === 'failed') return 1;
  if (tileStatus === 'analysing') return 1;
  if (tileStatus !== 'recording') return 0;
  const progress = state.progress?.view === view ? state.progress : workflowCase.recording;
  if (!progress || !progress.durationS) return 0;
  return Math.min(1, progress.elapsedS / progress.durationS);
}

/** Translated quality messages of a tile, from the quality check and the capture state. */
function qualityMessages(workflowCase, tileStatus, captureState) {
  const messages = [];
  if (captureState && captureState !== 'live') {
    messages.push(t(`quality.capture.${captureState}`));
  }
  if (tileStatus === 'failed' || tileStatus === 'review') {
    for (const issue of workflowCase.pendingAttempt?.quality.issues ?? []) {
      messages.push(noticeText(issue.notice, tOr(`quality.${issue.code}`, t('quality.other'))));
    }
    if (tileStatus === 'review' && messages.length === 0) messages.push(t('quality.passed'));
  }
  if (tileStatus === 'analysing') messages.push(t('quality.analysing'));
  return messages;
}

/**
 * Marks the lumen where the operator tapped the preview of `view`. The preview shows the image
 * area, so the tap becomes a point in source pixels through the image area of the status.
 */
function markLumen(event, view) {
  const area = state.status?.capture?.imageArea;
  const image = event.currentTarget;
  if (!area || image.clientWidth === 0 || state.workflowCase?.step !== 'idle') return;
  const fx = event.offsetX / image.clientWidth;
  const fy = event.offsetY / image.clientHeight;
  const x = Math.round(area.x + fx * area.width);
  const y = Math.round(area.y + fy * area.height);
  state.marks[view] = { fx, fy, point: { x, y } };
  updateTiles();
}

function clearMark(event, view) {
  event.stopPropagation();
  delete state.marks[view];
  updateTiles();
}

/** Shows the cross of the lumen mark over the preview, the hint or the clear button, and errors. */
function updateMark(tile, view, active) {
  const mark = state.marks[view];
  const cross = tile.querySelector('[data-role="mark"]');
  const image = tile.querySelector('[data-role="preview"]');
  const crossVisible = Boolean(mark) && active && !image.hidden;
  cross.hidden = !crossVisible;
  if (crossVisible) {
    cross.style.left = `${image.offsetLeft + mark.fx * image.clientWidth}px`;
    cross.style.top = `${image.offsetTop + mark.fy * image.clientHeight}px`;
  }
  tile.querySelector('[data-role="mark-hint"]').textContent = t(
    mark ? 'tile.marked' : 'tile.markHint',
  );
  setVisible(tile, `clear-mark-${view}`, Boolean(mark));
  const error = tile.querySelector(`[data-testid="error-setup-${view}"]`);
  error.textContent = active
    ? [state.fieldErrors.depthCm, state.fieldErrors.seed].filter(Boolean).join(' ')
    : '';
}

/** Records `view` with the depth typed in its tile and the lumen marked on its preview, if any. */
async function recordView(event, view) {
  event.stopPropagation();
  const payload = { view };
  const depth = parseTypedNumber(document.getElementById(`depth-${view}`).value);
  if (Number.isNaN(depth)) {
    clearProblem();
    showNotNumber('depthCm');
    updateTiles();
    return;
  }
  if (depth !== undefined) payload.depthCm = depth;
  if (state.marks[view]) payload.seed = state.marks[view].point;
  await act(event, 'recording', payload);
}

async function act(event, action, payload) {
  event.stopPropagation();
  if (state.busy) return;
  state.busy = true;
  const result = await request('POST', `/api/workflow/${action}`, payload ?? {});
  state.busy = false;
  if (!result.ok) showProblem(result);
  else clearProblem();
  if (action === 'recording') state.progress = null;
  await refreshCase();
  render();
}

async function closeCase() {
  if (state.busy) return;
  state.busy = true;
  const result = await request('POST', '/api/workflow/close', {});
  state.busy = false;
  if (!result.ok) {
    showProblem(result);
    updateTiles();
    return;
  }
  clearProblem();
  state.workflowCase = null;
  state.closed = {
    caseId: result.body.record.caseId,
    record: result.body.record,
    labels: [],
    delivery: null,
  };
  await refreshClosed();
  render();
}

async function abandonCase() {
  // A second tap counts only after a pause, so that a double tap or a bouncing touch cannot
  // drop the case with its accepted views.
  const armedFor = state.abandonArmed ? Date.now() - state.abandonArmedAt : 0;
  if (!state.abandonArmed || armedFor < ABANDON_CONFIRM_DELAY_MS) {
    if (!state.abandonArmed) state.abandonArmedAt = Date.now();
    state.abandonArmed = true;
    updateTiles();
    return;
  }
  state.abandonArmed = false;
  const result = await request('POST', '/api/workflow/abandon', {});
  if (!result.ok) showProblem(result);
  await refreshCase();
  render();
}

// ---- Result card --------------------------------------------------------------------------------

function measurementsOf(views, name) {
  return views.find((view) => view.view === name)?.measurements;
}

function renderResult({ estimate, views, closed }) {
  const ivc = measurementsOf(views, 'ivc');
  const ijv = measurementsOf(views, 'ijv');
  const ca = measurementsOf(views, 'ca');
  return el(
    'section',
    { class: 'card result', 'data-testid': 'result' },
    el('h2', {}, closed ? t('result.titleClosed') : t('result.title')),
    el(
      'div',
      { class: 'bv' },
      el(
        'span',
        { class: 'bv-ml', 'data-testid': 'bv-ml' },
        formatQuantity(estimate.bvMl, 'unit.mL', 0),
      ),
      el(
        'span',
        { class: 'bv-kg', 'data-testid': 'bv-kg' },
        formatQuantity(estimate.bvMlPerKg, 'unit.mLPerKg', 1),
      ),
    ),
    el(
      'dl',
      { class: 'facts' },
      row(
        t('result.interval'),
        t('result.range', {
          lower: formatQuantity(estimate.lowerMl, 'unit.mL', 0),
          upper: formatQuantity(estimate.upperMl, 'unit.mL', 0),
        }),
        'interval',
      ),
      row(t('result.nadler'), formatQuantity(estimate.nadlerMl, 'unit.mL', 0), 'nadler'),
      row(t('index.ivcCollapsibility'), formatPercent(ivc?.collapsibilityIndex), 'ivc-ci'),
      row(t('index.ijvArea'), withUnit('unit.mm2Value', ijv?.areaMm2?.mean, 1), 'ijv-area'),
      row(t('index.ijvCollapsibility'), formatPercent(ijv?.collapsibilityIndex), 'ijv-ci'),
      row(t('index.heartRate'), withUnit('unit.perMinuteValue', ca?.heartRateBpm, 0), 'heart-rate'),
      row(
        t('result.population'),
        estimate.population.inPopulation ? t('result.population.in') : t('result.population.out'),
        'population',
      ),
      estimate.population.inPopulation
        ? null
        : row(
            t('result.populationReasons'),
            el(
              'ul',
              { class: 'reasons' },
              estimate.population.reasons.map((reason) =>
                el('li', {}, noticeText(reason, t('reason.other'))),
              ),
            ),
            'population-reasons',
          ),
      row(
        t('result.model'),
        t('result.modelValue', {
          name: estimate.modelName,
          version: estimate.modelVersion,
          provider: estimate.executionProvider,
        }),
        'model',
      ),
      row(t('result.intendedUse'), intendedUseText(estimate.intendedUse), 'intended-use'),
      row(t('delivery.central'), '', 'delivery-central'),
      row(t('delivery.hl7'), '', 'delivery-hl7'),
    ),
    el(
      'p',
      { class: 'notice', 'data-testid': 'fixed-notice' },
      tOr(`notice.${estimate.intendedUse}`, t('notice.unknown')),
    ),
    el(
      'p',
      { class: 'muted' },
      t('result.manifestNotice'),
      el('span', { 'data-testid': 'manifest-notice' }, modelNotice(estimate)),
    ),
  );
}

function updateDelivery() {
  const central = document.querySelector('[data-testid="delivery-central"]');
  if (central) {
    const delivery = state.closed?.delivery?.central ?? 'open';
    const mqtt = state.status?.mqtt?.connected ? 'connected' : 'disconnected';
    central.textContent = t('delivery.centralValue', {
      delivery: t(`delivery.central.${delivery}`),
      mqtt: t(`delivery.mqtt.${mqtt}`),
    });
  }
  const hl7 = document.querySelector('[data-testid="delivery-hl7"]');
  if (hl7) {
    const text = hl7DeliveryText();
    hl7.textContent = text.text;
    hl7.dataset.state = text.state;
  }
}

/**
 * Returns { state, text } of the HL7 push of the case on screen: for a closed case its outbox
 * message as GET /api/cases/:caseId returns it, for the open case what will happen at close.
 */
function hl7DeliveryText() {
  const closed = currentScreen?.startsWith('closed:') ? state.closed : null;
  const use = intendedUseText(
    closed ? closed.record?.estimate.intendedUse : state.status?.model?.intendedUse,
  );
  if (closed) {
    const delivery = closed.delivery?.hl7;
    if (!delivery) return { state: '', text: t('value.missing') };
    const params = {
      use: intendedUseText(delivery.intendedUse),
      code: delivery.ackCode ?? '',
      // The receiver's own words; rows stored by older daemons start with their ack code.
      error: (delivery.error ?? '').replace(/^(rejected with )?A[ERC]: /, ''),
    };
    const key =
      delivery.state === 'rejected' && params.error === ''
        ? 'hl7.case.rejectedBare'
        : `hl7.case.${delivery.state}`;
    return { state: delivery.state, text: t(key, params) };
  }
  const link = state.status?.hl7?.state;
  if (!link || link === 'disabled')
    return { state: 'not-configured', text: t('hl7.case.not-configured') };
  if (pushesWithheld())
    return { state: 'open-withheld', text: t('hl7.case.open-withheld', { use }) };
  return { state: 'open', text: t('hl7.case.open') };
}

// ---- Closed case: result and ANH label form ------------------------------------------------------

const LABEL_NUMBER_FIELDS = [
  ['hbBefore', 'label.hbBefore'],
  ['hbAfter', 'label.hbAfter'],
  ['withdrawnMl', 'label.withdrawnMl'],
  ['bleedingMl', 'label.bleedingMl'],
  ['equilibrationMinutes', 'label.equilibrationMinutes'],
  ['replacementVolumeMl', 'label.replacementVolumeMl'],
  ['urineOutputMl', 'label.urineOutputMl'],
];

function renderClosedScreen() {
  const closed = state.closed;
  const record = closed.record;
  return el(
    'section',
    { class: 'screen' },
    el('div', { class: 'case-head' }, el('h2', {}, t('case.title', { caseId: closed.caseId }))),
    renderMrnNotice(),
    record ? renderResult({ estimate: record.estimate, views: record.views, closed: true }) : null,
    renderLabelForm(),
    el('div', { id: 'labels', 'data-testid': 'labels' }),
    el(
      'div',
      { class: 'actions' },
      state.workflowCase
        ? button(
            t('case.backToOpen', { caseId: state.workflowCase.caseId }),
            backToOpenCase,
            'btn primary',
            'back-to-open-case',
          )
        : button(t('case.next'), startNewCase, 'btn primary', 'new-case'),
    ),
  );
}

/** Leaves the closed case shown from the recent list for the case still open in the daemon. */
function backToOpenCase() {
  state.viewingClosed = false;
  state.closed = null;
  clearProblem();
  render();
}

function updateClosedScreen() {
  updateDelivery();
  updateLabelErrors();
  renderLabels();
}

function startNewCase() {
  state.closed = null;
  state.viewingClosed = false;
  state.mrnPush = null;
  clearProblem();
  render();
  void refreshRecent().then(updateRecent);
}

function renderLabelForm() {
  const hbUnit = body.dataset.hbUnit || 'g/dL';
  const method = el(
    'select',
    { id: 'method', name: 'method', 'data-testid': 'label-method' },
    el('option', { value: '' }, t('anh.method.all')),
    ['single-step', 'continuous-exchange'].map((name) =>
      el('option', { value: name }, t(`anh.method.${name}`)),
    ),
  );
  const unit = el(
    'select',
    { id: 'hbUnit', name: 'hbUnit', 'data-testid': 'label-hb-unit' },
    ['g/dL', 'g/L', 'mmol/L'].map((name) =>
      el('option', { value: name, selected: name === hbUnit }, t(`unit.hb.${name}`)),
    ),
  );
  return el(
    'form',
    { id: 'label-form', class: 'card form', novalidate: true, onsubmit: submitLabel },
    el('h2', {}, t('label.title')),
    el('p', { class: 'muted' }, t('label.intro')),
    el('div', {
      class: 'form-error',
      id: 'label-error',
      role: 'alert',
      'data-testid': 'label-error',
    }),
    el(
      'div',
      { class: 'grid3' },
      field('enteredBy', t('label.enteredBy'), textInput('enteredBy', 'text', { maxlength: 100 })),
      field('method', t('label.method'), method),
      field('hbUnit', t('label.hbUnit'), unit),
      LABEL_NUMBER_FIELDS.map(([name, key]) =>
        field(name, t(key), textInput(name, 'decimal', { 'data-testid': `label-${name}` })),
      ),
      field(
        'replacementFluid',
        t('label.replacementFluid'),
        textInput('replacementFluid', 'text', { maxlength: 100 }),
      ),
    ),
    el(
      'button',
      { type: 'submit', class: 'btn primary', 'data-testid': 'save-label' },
      t('label.save'),
    ),
  );
}

async function submitLabel(event) {
  event.preventDefault();
  if (state.busy || !state.closed) return;
  const value = (id) => document.getElementById(id).value;
  const payload = { enteredBy: value('enteredBy'), hbUnit: value('hbUnit') };
  if (value('method')) payload.method = value('method');
  clearProblem();
  if (
    !readNumberInputs(
      LABEL_NUMBER_FIELDS.map(([name]) => name),
      payload,
    )
  ) {
    updateLabelErrors();
    return;
  }
  const fluid = value('replacementFluid').trim();
  if (fluid) payload.replacementFluid = fluid;
  state.busy = true;
  const path = `/api/cases/${encodeURIComponent(state.closed.caseId)}/labels`;
  const result = await request('POST', path, payload);
  state.busy = false;
  if (!result.ok) showProblem(result);
  else clearProblem();
  await refreshClosed();
  updateClosedScreen();
}

function updateLabelErrors() {
  const formError = document.getElementById('label-error');
  if (formError) formError.textContent = state.error ?? '';
  for (const name of [
    'enteredBy',
    'method',
    'hbUnit',
    'replacementFluid',
    ...LABEL_NUMBER_FIELDS.map(([n]) => n),
  ]) {
    const target = document.getElementById(`error-${name}`);
    if (target) target.textContent = state.fieldErrors[name] ?? '';
  }
}

function renderLabels() {
  const target = document.getElementById('labels');
  const labels = state.closed?.labels ?? [];
  if (!target) return;
  if (labels.length === 0) {
    target.replaceChildren();
    return;
  }
  target.replaceChildren(
    el(
      'section',
      { class: 'card' },
      el('h2', {}, t('label.stored')),
      el(
        'table',
        {},
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', {}, t('label.method')),
            el('th', {}, t('label.bv')),
            el('th', {}, t('label.revision')),
            el('th', {}, t('label.warnings')),
          ),
        ),
        el(
          'tbody',
          {},
          labels.map((label) =>
            el(
              'tr',
              { 'data-testid': `label-${label.method}` },
              el('td', {}, t(`anh.method.${label.method}`)),
              el('td', {}, formatQuantity(label.bvMl, 'unit.mL', 0)),
              el('td', {}, formatNumber(label.revision, 0)),
              el(
                'td',
                { 'data-testid': `label-warnings-${label.method}` },
                label.warnings.length === 0
                  ? t('label.noWarnings')
                  : el(
                      'ul',
                      { class: 'reasons' },
                      label.warnings.map((warning) =>
                        el('li', {}, noticeText(warning, t('label.warningOther'))),
                      ),
                    ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// ---- Device panel -------------------------------------------------------------------------------

function renderDevicePanel() {
  return el(
    'section',
    { class: 'screen' },
    el(
      'div',
      { class: 'card' },
      el('h2', {}, t('device.title')),
      el('p', { class: 'banner', id: 'device-stale', 'data-testid': 'device-stale', hidden: true }),
      el('dl', { class: 'facts', id: 'device-facts' }),
    ),
    el(
      'div',
      { class: 'card' },
      el('h2', {}, t('device.setup')),
      el('p', { class: 'muted' }, t('device.setupHint')),
      el(
        'div',
        { class: 'preview setup' },
        el('img', {
          id: 'setup-preview',
          alt: t('device.setupAlt'),
          'data-testid': 'setup-preview',
        }),
        el('span', { class: 'preview-text', id: 'setup-text' }),
      ),
    ),
  );
}

function updateDevicePanel() {
  const facts = document.getElementById('device-facts');
  const status = state.status;
  const stale = document.getElementById('device-stale');
  if (stale) {
    stale.hidden = state.connected;
    stale.textContent = state.connected ? '' : t('device.stale');
  }
  if (!facts || !status) return;
  facts.classList.toggle('stale', !state.connected);
  const capture = status.capture;
  const area = capture?.imageArea;
  const providers = Object.entries(status.executionProviders ?? {})
    .map(([model, provider]) => t('device.providerValue', { model: modelName(model), provider }))
    .join(t('list.separator'));
  const outbox = status.outbox;
  const captureReason =
    capture && capture.state !== 'live' ? noticeText(capture.reasonNotice, '') : '';
  const rows = [
    row(
      t('device.capture'),
      capture ? t(`capture.state.${capture.state}`) : t('capture.unknown'),
      'device-capture',
    ),
    captureReason ? row(t('device.captureReason'), captureReason, 'device-capture-reason') : null,
    row(t('device.fps'), formatNumber(capture?.fps, 1), 'device-fps'),
    row(t('device.dropped'), formatNumber(capture?.framesDropped, 0), 'device-dropped'),
    row(
      t('device.imageArea'),
      area
        ? t('device.imageAreaValue', {
            x: formatNumber(area.x, 0),
            y: formatNumber(area.y, 0),
            width: formatNumber(area.width, 0),
            height: formatNumber(area.height, 0),
          })
        : t('device.imageAreaUnknown'),
      'device-area',
    ),
    row(
      t('device.model'),
      status.model
        ? t('device.modelValue', { name: status.model.name, version: status.model.version })
        : t('value.missing'),
      'device-model',
    ),
    row(t('device.providers'), providers || t('value.missing'), 'device-providers'),
    row(
      t('device.mqtt'),
      t(`delivery.mqtt.${status.mqtt.connected ? 'connected' : 'disconnected'}`),
      'device-mqtt',
    ),
    row(t('device.hl7'), t(`hl7.state.${status.hl7?.state ?? 'absent'}`), 'device-hl7'),
    row(
      t('device.outbox'),
      outbox.oldestAgeS === null
        ? t('device.outboxEmpty')
        : t('device.outboxValue', {
            depth: formatNumber(outbox.depth, 0),
            age: formatQuantity(outbox.oldestAgeS, 'unit.s', 0),
          }),
      'device-outbox',
    ),
    row(
      t('device.disk'),
      status.diskFreeBytes === null
        ? t('value.missing')
        : formatQuantity(status.diskFreeBytes / 1e9, 'unit.GB', 1),
      'device-disk',
    ),
    status.diskLow ? row(t('device.recordings'), t('device.diskLow'), 'device-disk-low') : null,
    row(t('device.started'), formatDate(status.startedAt), 'device-started'),
  ];
  facts.replaceChildren(...rows.filter(Boolean));
}

/** Returns the name of a model of the bundle: a view's short name, or the fusion model's. */
function modelName(model) {
  if (VIEW_ORDER.includes(model)) return t(`view.${model}.short`);
  return tOr(`device.modelName.${model}`, model);
}

// ---- Previews ------------------------------------------------------------------------------------

let previewTimer = null;
let previewCount = 0;
/** Raised by each schedulePreviews call, so that the image loads of an older loop stop. */
let previewGeneration = 0;

/** Starts the one preview loop that the current screen needs, stopping the previous one. */
function schedulePreviews() {
  clearTimeout(previewTimer);
  previewTimer = null;
  previewGeneration += 1;
  if (currentScreen === 'device')
    loadPreview('setup-preview', 'setup-text', '/api/preview/setup.png', SETUP_PREVIEW_INTERVAL_MS);
  else if (currentScreen?.startsWith('case:')) {
    const view = state.workflowCase && activeTileView(state.workflowCase);
    const tile = view && document.getElementById(`tile-${view}`);
    if (!tile) return;
    const image = tile.querySelector('[data-role="preview"]');
    image.id = `preview-${view}`;
    loadPreview(image.id, null, '/api/preview/lumen.png', PREVIEW_INTERVAL_MS, tile);
  }
}

function loadPreview(imageId, textId, path, intervalMs, tile) {
  const image = document.getElementById(imageId);
  if (!image) return;
  const text = textId
    ? document.getElementById(textId)
    : tile.querySelector('[data-role="preview-text"]');
  const loader = new Image();
  const generation = previewGeneration;
  previewCount += 1;
  const next = () => {
    if (generation !== previewGeneration || document.getElementById(imageId) !== image) return;
    previewTimer = setTimeout(
      () => loadPreview(imageId, textId, path, intervalMs, tile),
      intervalMs,
    );
  };
  loader.onload = () => {
    if (generation !== previewGeneration) return;
    image.src = loader.src;
    image.hidden = false;
    if (text) text.textContent = '';
    next();
  };
  loader.onerror = () => {
    if (generation !== previewGeneration) return;
    image.hidden = true;
    if (text) text.textContent = t('preview.none');
    next();
  };
  loader.src = `${path}?n=${previewCount}`;
}

// ---- Start -------------------------------------------------------------------------------------

body.replaceChildren(el('header', { id: 'header', class: 'top' }), el('main', { id: 'main' }));
render();
connectEvents();
