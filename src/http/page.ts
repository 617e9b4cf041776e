import { html, raw } from 'hono/html';

import type { ScanRecord, SeriesSummary, ViewResult } from '../scan/types.ts';
import type { StatusSnapshot } from './types.ts';

// hono's html tag escapes & < > ' " in every interpolated string, so values from the record
// (case id, model name, ...) cannot inject markup. Nested html`` fragments are inserted as is.
type Fragment = ReturnType<typeof html>;

/** Seconds between automatic reloads of the page. */
const REFRESH_S = 5;

const FIXED_NOTICE = 'Reference model, not for clinical use.';

// STYLE is a constant, so it is inserted unescaped. It names system fonts only, because the page
// loads nothing external.
const STYLE = `
  body { font-family: system-ui, sans-serif; font-size: 22px; line-height: 1.4; margin: 1.5rem;
         color: #111; background: #fff; }
  h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
  h2 { font-size: 1.3rem; margin: 1.5rem 0 .5rem; }
  .notice { background: #fff3c4; border: 2px solid #b58900; padding: .5rem 1rem; font-weight: 600; }
  .bv { font-size: 3.5rem; font-weight: 700; margin: .5rem 0 0; }
  .per-kg { font-size: 2rem; margin: 0; }
  table { border-collapse: collapse; }
  th, td { border-bottom: 1px solid #ccc; padding: .3rem .8rem; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .ok { color: #116611; font-weight: 600; }
  .down { color: #b00020; font-weight: 600; }
`;

/** Renders the whole status page. */
export function renderStatusPage(snapshot: StatusSnapshot): Fragment {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta http-equiv="refresh" content="${REFRESH_S}" />
        <title>bv-edge status</title>
        <style>
          ${raw(STYLE)}
        </style>
      </head>
      <body>
        <h1>bv-edge</h1>
        <p class="notice">${FIXED_NOTICE}</p>
        ${snapshot.latestScan ? renderEstimate(snapshot.latestScan) : renderNoEstimate()}
        ${renderLink(snapshot)}
      </body>
    </html>`;
}

function renderNoEstimate(): Fragment {
  return html`<h2>Latest estimate</h2>
    <p>No scan yet.</p>`;
}

function renderEstimate(scan: ScanRecord): Fragment {
  const e = scan.estimate;
  return html`<h2>Latest estimate</h2>
    <p>Case <strong>${scan.caseId}</strong>, ${scan.createdAt}</p>
    <p class="bv">${formatNumber(e.bvMl, 0)} mL</p>
    <p class="per-kg">${formatNumber(e.bvMlPerKg, 1)} mL/kg</p>
    <p>95 % interval: ${formatNumber(e.lowerMl, 0)} – ${formatNumber(e.upperMl, 0)} mL</p>
    <p>Nadler prior: ${formatNumber(e.nadlerMl, 0)} mL</p>
    <p>
      Model: ${e.modelName} ${e.modelVersion} (${e.executionProvider})<br />
      Intended use: ${e.intendedUse}<br />
      Notice: ${e.notice}
    </p>
    ${renderViews(scan.views)}`;
}

function renderViews(views: ViewResult[]): Fragment {
  if (views.length === 0) return html`<p>No views measured.</p>`;
  return html`<h2>Views</h2>
    <table>
      <thead>
        <tr>
          <th>View</th>
          <th>Area mean (mm²)</th>
          <th>AP diameter mean (mm)</th>
          <th>Lateral diameter mean (mm)</th>
          <th>Collapsibility</th>
          <th>Pulsatility</th>
          <th>Heart rate (/min)</th>
          <th>Tracked</th>
        </tr>
      </thead>
      <tbody>
        ${views.map(renderViewRow)}
      </tbody>
    </table>`;
}

function renderViewRow(view: ViewResult): Fragment {
  const m = view.measurements;
  return html`<tr>
    <td>${view.view.toUpperCase()}</td>
    <td>${formatMean(m.areaMm2, 1)}</td>
    <td>${formatMean(m.apDiameterMm, 1)}</td>
    <td>${formatMean(m.lateralDiameterMm, 1)}</td>
    <td>${formatNumber(m.collapsibilityIndex, 2)}</td>
    <td>${formatNumber(m.pulsatilityIndex, 2)}</td>
    <td>${formatNumber(m.heartRateBpm, 0)}</td>
    <td>${formatNumber(m.trackedFraction * 100, 0)} %</td>
  </tr>`;
}

function renderLink(snapshot: StatusSnapshot): Fragment {
  const { depth, oldestAgeS } = snapshot.outbox;
  const oldest = oldestAgeS === null ? '' : `, oldest ${formatNumber(oldestAgeS, 0)} s old`;
  return html`<h2>Uplink</h2>
    <p>
      MQTT broker:
      ${
        snapshot.mqttConnected
          ? html`<span class="ok">connected</span>`
          : html`<span class="down">disconnected</span>`
      }
    </p>
    <p>Outbox: ${depth} message${depth === 1 ? '' : 's'} queued${oldest}</p>
    ${renderCapture(snapshot)}
    <p>Running since ${snapshot.startedAt}</p>`;
}

function renderCapture(snapshot: StatusSnapshot): Fragment | string {
  const capture = snapshot.capture;
  if (!capture) return '';
  const state =
    capture.state === 'live'
      ? html`<span class="ok">live</span>`
      : html`<span class="down">${capture.state}</span>`;
  return html`<p>Capture: ${state}, ${formatNumber(capture.fps, 1)} frames/s</p>`;
}

function formatMean(series: SeriesSummary, digits: number): string {
  return formatNumber(series.mean, digits);
}

/** Formats a value with fixed decimals; missing or non-finite values show as a dash. */
function formatNumber(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(digits);
}
