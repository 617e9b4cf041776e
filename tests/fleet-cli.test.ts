import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { UsageError } from '../src/commands/common.ts';
import { fleetCommand } from '../src/commands/fleet.ts';
import { silentLogger } from '../src/core/log.ts';
import { runCli } from './helpers/cli.ts';
import { SITE, startAgent, type AgentHarness } from './helpers/fleet.ts';
import { mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';

describe('bv-edge fleet', { skip: mosquittoSkipReason }, () => {
  let broker: Mosquitto;
  let harness: AgentHarness;
  const fleet = (...args: string[]) => runCli(['fleet', ...args, '--broker', broker.url]);

  before(async () => {
    broker = await startMosquitto();
    harness = await startAgent(broker.url, 'cart-1');
    // Wait until the agent's retained messages are on the broker.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && harness.publisher.stats().depth > 0) await delay(50);
  });

  after(async () => {
    await harness.stop();
    await broker.stop();
  });

  test('devices lists status and info', async () => {
    const json = await fleet('devices', '--json');
    assert.equal(json.code, 0, json.stderr);
    const devices = JSON.parse(json.stdout) as {
      site: string;
      device: string;
      status: { state: string };
      info: { daemonVersion: string; model: { version: string } };
    }[];
    const cart = devices.find((device) => device.device === 'cart-1');
    assert.ok(cart, `cart-1 listed: ${json.stdout}`);
    assert.equal(cart.site, SITE);
    assert.equal(cart.status.state, 'online');
    assert.equal(cart.info.model.version, '1.0.0');
    const text = await fleet('devices', '--site', SITE);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^test-site\/cart-1 {2}online {2}bv-edge \S+ {2}model reference@1\.0\.0/m,
    );
    const none = await fleet('devices', '--site', 'elsewhere');
    assert.match(none.stdout, /No devices under bv-edge\/v1\/elsewhere\//);
  });

  test('status shows info and telemetry', async () => {
    const result = await fleet('status', 'cart-1');
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as {
      site: string;
      status: { state: string };
      info: { device: string };
      telemetry: { capture: { state: string } };
    };
    assert.equal(status.site, SITE);
    assert.equal(status.status.state, 'online');
    assert.equal(status.info.device, 'cart-1');
    assert.equal(status.telemetry.capture.state, 'live');
    const missing = await fleet('status', 'no-such-cart', '--wait-ms', '300');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No device "no-such-cart" has a retained status/);
  });

  test('request prints the response', async () => {
    const ping = await fleet('request', 'cart-1', 'ping');
    assert.equal(ping.code, 0, ping.stderr);
    const response = JSON.parse(ping.stdout) as { status: string; data: { pong: boolean } };
    assert.equal(response.status, 'ok');
    assert.equal(response.data.pong, true);

    const key = await fleet('request', `${SITE}/cart-1`, 'config-get', '{"key": "mqtt.device"}');
    assert.equal(key.code, 0, key.stderr);
    assert.equal((JSON.parse(key.stdout) as { data: { value: string } }).data.value, 'cart-1');

    const bad = await fleet('request', 'cart-1', 'log-tail', '{"lines": "many"}');
    assert.equal(bad.code, 1);
    const error = JSON.parse(bad.stdout) as { status: string; error: { code: string } };
    assert.equal(error.status, 'error');
    assert.equal(error.error.code, 'invalid_params');
  });

  test('request times out without a device', async () => {
    const result = await fleet('request', `${SITE}/cart-gone`, 'ping', '--timeout-ms', '500');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /No response from test-site\/cart-gone to ping within 500 ms/);
  });

  test('watch streams status and events', async () => {
    const watching = fleet('watch', 'cart-1', '--count', '2', '--json');
    // The retained status arrives first; the frozen event is the second line.
    const deadline = Date.now() + 30_000;
    let done = false;
    void watching.finally(() => (done = true));
    while (!done && Date.now() < deadline) {
      harness.source.setState('frozen');
      harness.source.setState('live');
      await delay(300);
    }
    const result = await watching;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            device: string;
            kind: string;
            payload: { type?: string; state?: string };
          },
      );
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.kind, 'status');
    assert.equal(lines[0]!.payload.state, 'online');
    assert.equal(lines[1]!.kind, 'events');
    assert.match(lines[1]!.payload.type ?? '', /^capture-(frozen|live)$/);
  });

  test('watch warns about an unknown device', async () => {
    const stop = new AbortController();
    let stdout = '';
    let stderr = '';
    const out = { write: (text: string) => (stdout += text) };
    const err = {
      write: (text: string) => {
        stderr += text;
        stop.abort();
      },
    };
    const watching = fleetCommand(
      ['watch', 'nosuchcart', '--wait-ms', '300', '--broker', broker.url],
      silentLogger(),
      out,
      { err, signal: stop.signal },
    );
    // The warning aborts the watch; the timeout only ends a watch that never warns.
    const timer = setTimeout(() => stop.abort(), 20_000);
    try {
      assert.equal(await watching, 0);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(
      stderr,
      'bv-edge: warning: no retained status for device +/nosuchcart after 300 ms; check the ' +
        'name with bv-edge fleet devices. Still watching.\n',
    );
    assert.equal(stdout, '');

    const known = new AbortController();
    let knownErr = '';
    let knownOut = '';
    const knownWatch = fleetCommand(
      ['watch', 'cart-1', '--wait-ms', '300', '--broker', broker.url],
      silentLogger(),
      { write: (text: string) => (knownOut += text) },
      { err: { write: (text: string) => (knownErr += text) }, signal: known.signal },
    );
    await delay(1500);
    known.abort();
    assert.equal(await knownWatch, 0);
    assert.equal(knownErr, '', 'no warning for a device with a retained status');
    assert.match(knownOut, /cart-1/);
  });

  test('reads the broker from a config file', async () => {
    const file = join(harness.dir, 'engineer.yaml');
    await writeFile(file, `version: 2\nmqtt:\n  url: ${broker.url}\n`);
    const result = await runCli(['fleet', 'request', 'cart-1', 'ping', '--config', file]);
    assert.equal(result.code, 0, result.stderr);
  });

  test('rejects invalid command lines', async () => {
    const cases: string[][] = [
      [],
      ['reboot'],
      ['request', 'cart-1'],
      ['request', 'cart-1', 'Bad_Command'],
      ['request', 'cart-1', 'ping', '{not json'],
      ['devices', '--broker', 'ftp://127.0.0.1:1'],
      ['devices', '--wait-ms', 'soon'],
      ['status', 'a/b/c'],
      ['watch', '--count', '0'],
      ['devices', '--root', 'bv-edge/#'],
    ];
    for (const args of cases) {
      await assert.rejects(fleetCommand(args, silentLogger()), UsageError, args.join(' '));
    }
    const result = await runCli(['fleet', 'request', 'cart-1']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^bv-edge: fleet request takes 2 to 3 arguments, got 1/);
    const help = await runCli(['fleet', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /bv-edge fleet request DEVICE COMMAND/);
  });
});
