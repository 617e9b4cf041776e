import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { readArchive } from '../src/ota/index.ts';
import { buildOtaBundle } from './fixtures/ota-bundles.ts';
import { runCli } from './helpers/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'bv-edge-ota-cli-'));
const MAX_BYTES = 64 * 2 ** 20;

after(() => rmSync(root, { recursive: true, force: true }));

describe('model bundle CLI', () => {
  const configuredDir = join(root, 'configured');
  const bundleDir = join(root, 'bundle');
  const keyPrefix = join(root, 'ml-team');
  const archive = join(root, 'bundle.tar.gz');
  const config = join(root, 'config.yaml');
  let publicKey = '';

  before(async () => {
    await buildOtaBundle(configuredDir, { version: '0.0.1' });
    await buildOtaBundle(bundleDir, { version: '0.0.2' });
  });

  test('keygen writes a key pair', async () => {
    const result = await runCli(['model', 'keygen', '--out', keyPrefix]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(statSync(`${keyPrefix}.key`).mode & 0o777, 0o600, 'the private key is mode 0600');
    assert.ok(existsSync(`${keyPrefix}.pub`), 'the public key is written');
    const match = /for models\.trustedKeys: (\S+)/.exec(result.stdout);
    assert.ok(match, result.stdout);
    publicKey = match[1]!;
    assert.match(result.stdout, /key id [0-9a-f]{16}/);
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: join(root, 'data'),
        modelDir: configuredDir,
        providers: ['cpu'],
        models: { trustedKeys: [publicKey] },
      }),
    );

    const again = await runCli(['model', 'keygen', '--out', keyPrefix]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already; keygen never overwrites a key/);
    const missing = await runCli(['model', 'keygen']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /needs --out/);
  });

  test('pack and sign', async () => {
    const unsigned = join(root, 'unsigned.tar.gz');
    const packed = await runCli(['model', 'pack', bundleDir, '--out', unsigned]);
    assert.equal(packed.code, 0, packed.stderr);
    assert.match(packed.stdout, /unsigned \(sign it with bv-edge model sign/);
    assert.equal(readArchive(readFileSync(unsigned), MAX_BYTES).signature, null);

    const signed = await runCli([
      'model',
      'sign',
      unsigned,
      '--key',
      `${keyPrefix}.key`,
      '--out',
      archive,
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /signed with key [0-9a-f]{16}/);
    assert.ok(readArchive(readFileSync(archive), MAX_BYTES).signature, 'the archive is signed');

    const direct = await runCli([
      'model',
      'pack',
      bundleDir,
      '--key',
      `${keyPrefix}.key`,
      '--out',
      join(root, 'direct.tar.gz'),
    ]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /bytes, signed/);
  });

  test('pack and sign bad input', async () => {
    const noOut = await runCli(['model', 'pack', bundleDir]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /needs --out/);

    const noDir = await runCli([
      'model',
      'pack',
      join(root, 'nowhere'),
      '--out',
      join(root, 'x.tar.gz'),
    ]);
    assert.equal(noDir.code, 1);
    assert.match(noDir.stderr, /^bv-edge: Cannot pack .*nowhere: .*manifest\.json is missing/);
    assert.doesNotMatch(noDir.stderr, /build:models|BV_EDGE_MODEL_DIR/);

    const noOutDir = join(root, 'no-such-folder');
    const outMissing = await runCli([
      'model',
      'pack',
      bundleDir,
      '--out',
      join(noOutDir, 'x.tar.gz'),
    ]);
    assert.equal(outMissing.code, 1);
    assert.equal(
      outMissing.stderr,
      `bv-edge: Cannot write bundle archive ${join(noOutDir, 'x.tar.gz')} (ENOENT): ` +
        `the folder ${noOutDir} does not exist; create it or choose another path.\n`,
    );
    const keyMissing = await runCli(['model', 'keygen', '--out', join(noOutDir, 'k')]);
    assert.equal(keyMissing.code, 1);
    assert.equal(
      keyMissing.stderr,
      `bv-edge: Cannot write private key ${join(noOutDir, 'k.key')} (ENOENT): ` +
        `the folder ${noOutDir} does not exist; create it or choose another path.\n`,
    );

    writeFileSync(join(root, 'not-a-key.pem'), 'hello');
    const badKey = await runCli([
      'model',
      'pack',
      bundleDir,
      '--key',
      join(root, 'not-a-key.pem'),
      '--out',
      join(root, 'x.tar.gz'),
    ]);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /Invalid private key .*not-a-key\.pem/);

    const notArchive = await runCli([
      'model',
      'sign',
      join(root, 'not-a-key.pem'),
      '--key',
      `${keyPrefix}.key`,
    ]);
    assert.equal(notArchive.code, 1);
    assert.match(notArchive.stderr, /not gzip data/);

    const unknown = await runCli(['model', 'unpack']);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /expected validate, pack, sign, keygen, install, list, activate or rollback/,
    );
  });

  test('install, list, activate, rollback', async () => {
    const fresh = await runCli(['model', 'rollback', '--config', config]);
    assert.equal(fresh.code, 1);
    assert.match(fresh.stderr, /no previous bundle to roll back to/);

    // runCli runs at level warn, the default of one-shot commands.
    const unsigned = await runCli([
      'model',
      'install',
      join(root, 'unsigned.tar.gz'),
      '--config',
      config,
    ]);
    assert.equal(unsigned.code, 1);
    const rejectLines = unsigned.stderr.trimEnd().split('\n');
    assert.equal(rejectLines.length, 1, `one line at the default log level:\n${unsigned.stderr}`);
    assert.match(rejectLines[0]!, /^bv-edge: .*no signature/);
    const missing = await runCli([
      'model',
      'install',
      join(root, 'missing.tar.gz'),
      '--config',
      config,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot read bundle archive/);

    const installed = await runCli(['model', 'install', archive, '--config', config]);
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(
      installed.stdout,
      /bv-edge-test-small 0\.0\.2 installed \(signed by key [0-9a-f]{16}\)/,
    );

    const listed = await runCli(['model', 'list', '--config', config, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as {
      active: { source: string };
      installed: string[];
      installs: { state: string; reasonCode: string | null }[];
    };
    assert.equal(list.active.source, 'configured');
    assert.deepEqual(list.installed, ['0.0.2']);
    assert.deepEqual(
      list.installs.map((row) => row.state),
      ['installed', 'rejected'],
    );

    const badVersion = await runCli(['model', 'activate', '9.9.9', '--config', config]);
    assert.equal(badVersion.code, 1);
    assert.match(
      badVersion.stderr,
      /Bundle version 9\.9\.9 is not installed \(installed: 0\.0\.2\)/,
    );
    const noVersion = await runCli(['model', 'activate', '--config', config]);
    assert.equal(noVersion.code, 2);

    const activated = await runCli(['model', 'activate', '0.0.2', '--config', config]);
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(activated.stdout, /0\.0\.2 is active; previous the configured modelDir bundle/);
    const text = await runCli(['model', 'list', '--config', config]);
    assert.match(
      text.stdout,
      /active: {3}bv-edge-test-small 0\.0\.2 \(installed\), health gate pending/,
    );

    const rolledBack = await runCli(['model', 'rollback', '--config', config]);
    assert.equal(rolledBack.code, 0, rolledBack.stderr);
    assert.match(
      rolledBack.stdout,
      /rolled back to the configured modelDir bundle; previous 0\.0\.2/,
    );

    const rolledForward = await runCli(['model', 'rollback', '--config', config]);
    assert.equal(rolledForward.code, 0, rolledForward.stderr);
    const afterRollback = await runCli(['model', 'list', '--config', config]);
    assert.match(
      afterRollback.stdout,
      /active: {3}bv-edge-test-small 0\.0\.2 \(installed\), health gate pending/,
      'a bundle that never passed its gate stays pending after a rollback to it',
    );
  });
});
