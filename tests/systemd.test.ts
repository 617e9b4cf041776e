import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { repoRoot } from './helpers/data.ts';

const UNIT_DIR = join(repoRoot, 'systemd');
const INSTALL_SCRIPT = join(repoRoot, 'deploy/install-jetson.sh');
/** Where Debian keeps the units that every unit depends on (sysinit.target and the like). */
const SYSTEM_UNITS = '/usr/lib/systemd/system';

function which(program: string): string | null {
  const result = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

const analyzeSkip: string | false =
  which('systemd-analyze') && existsSync(SYSTEM_UNITS)
    ? false
    : 'systemd-analyze or /usr/lib/systemd/system not found; install systemd to verify the units';
const shellcheckSkip: string | false = which('shellcheck')
  ? false
  : 'shellcheck not found; install it with "apt-get install shellcheck"';

const unitNames = readdirSync(UNIT_DIR).filter((name) => name.endsWith('.service'));
let tempDir = '';

before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'bv-edge-systemd-'));
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

/** Parses `Key=value` lines of a unit file; a key that repeats keeps every value. */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!match) continue;
    const values = settings.get(match[1]!) ?? [];
    values.push(match[2]!);
    settings.set(match[1]!, values);
  }
  return settings;
}

/** Programs that the units run, which systemd-analyze verify requires to exist. */
function executables(texts: string[]): string[] {
  const paths = new Set<string>();
  for (const text of texts) {
    for (const [key, values] of unitSettings(text)) {
      if (!key.startsWith('Exec')) continue;
      for (const value of values) {
        const program = value.replace(/^[-@:+!]+/, '').split(' ')[0]!;
        if (program.startsWith('/')) paths.add(program);
      }
    }
  }
  return [...paths];
}

/**
 * Builds a root folder for `systemd-analyze verify --root`: the system's own units, the units
 * under test in /etc/systemd/system, and a stand-in script at each program path they run. The
 * check then covers the unit files and not the software of this machine.
 */
function verifyRoot(name: string, units: Record<string, string>): string {
  const root = join(tempDir, name);
  cpSync(SYSTEM_UNITS, join(root, SYSTEM_UNITS), { recursive: true });
  for (const program of executables(Object.values(units))) {
    mkdirSync(dirname(join(root, program)), { recursive: true });
    writeFileSync(join(root, program), '#!/bin/sh\n');
    chmodSync(join(root, program), 0o755);
  }
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  for (const [unit, text] of Object.entries(units)) {
    writeFileSync(join(root, 'etc/systemd/system', unit), text);
  }
  return root;
}

function verify(root: string, units: string[]): { status: number | null; output: string } {
  const result = spawnSync(
    'systemd-analyze',
    [
      'verify',
      '--man=no',
      `--root=${root}`,
      ...units.map((unit) => join(root, 'etc/systemd/system', unit)),
    ],
    { encoding: 'utf8' },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

function readUnits(): Record<string, string> {
  return Object.fromEntries(
    unitNames.map((name) => [name, readFileSync(join(UNIT_DIR, name), 'utf8')]),
  );
}

describe('systemd units', () => {
  test('both units are present', () => {
    assert.deepEqual(unitNames.sort(), ['bv-edge-kiosk.service', 'bv-edge.service']);
  });

  test('every unit passes systemd-analyze verify', { skip: analyzeSkip }, () => {
    const units = readUnits();
    const result = verify(verifyRoot('all', units), Object.keys(units));
    // verify exits 0 after some warnings, such as an unknown key, so its output must be empty.
    assert.equal(result.output, '');
    assert.equal(result.status, 0);
  });

  test('verify catches a broken unit', { skip: analyzeSkip }, () => {
    const text = readUnits()['bv-edge.service']!.replace('Type=notify', 'Type=notify-ish');
    const result = verify(verifyRoot('broken', { 'bv-edge.service': text }), ['bv-edge.service']);
    assert.match(result.output, /Failed to parse service type/);
  });

  test('verify catches a missing program', { skip: analyzeSkip }, () => {
    const units = { 'bv-edge.service': readUnits()['bv-edge.service']! };
    const root = verifyRoot('missing', units);
    const program = executables(Object.values(units))[0]!;
    rmSync(join(root, program));
    const result = verify(root, ['bv-edge.service']);
    assert.match(result.output, /is not executable/);
    assert.notEqual(result.status, 0);
  });

  test('daemon unit notifies and is hardened', () => {
    const settings = unitSettings(readUnits()['bv-edge.service']!);
    const one = (key: string): string | undefined => settings.get(key)?.[0];
    assert.equal(one('Type'), 'notify');
    assert.equal(one('NotifyAccess'), 'all', 'systemd-notify runs as a child process');
    assert.equal(one('WatchdogSec'), '30s');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('User'), 'bv-edge');
    assert.equal(one('SupplementaryGroups'), 'video');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('ProtectHome'), 'yes');
    assert.equal(one('PrivateTmp'), 'yes');
    // config-set renames a new config.yaml into /etc/bv-edge; secret files stay read-only.
    assert.deepEqual(settings.get('ReadWritePaths'), ['/var/lib/bv-edge', '/etc/bv-edge']);
    assert.deepEqual(settings.get('ReadOnlyPaths'), ['-/etc/bv-edge/secrets']);
    assert.equal(one('DevicePolicy'), 'closed');
    const devices = settings.get('DeviceAllow') ?? [];
    for (const device of ['char-video4linux rw', '/dev/nvmap rw', 'char-nvidia-frontend rw']) {
      assert.ok(devices.includes(device), `DeviceAllow=${device} in ${devices.join(', ')}`);
    }
    assert.equal(one('StandardError'), 'journal');
  });

  test('kiosk unit waits for the daemon', () => {
    const settings = unitSettings(readUnits()['bv-edge-kiosk.service']!);
    assert.deepEqual(settings.get('Requires'), ['bv-edge.service']);
    assert.ok(
      settings.get('After')?.some((value) => value.split(' ').includes('bv-edge.service')),
      `After= names bv-edge.service: ${settings.get('After')?.join(' | ')}`,
    );
    assert.equal(settings.get('User')?.[0], 'bv-edge-kiosk');
    assert.match(settings.get('ExecStartPre')?.[0] ?? '', /127\.0\.0\.1:8080\/healthz$/);
    assert.match(
      settings.get('ExecStart')?.[0] ?? '',
      /chromium --kiosk .* http:\/\/127\.0\.0\.1:8080\//,
    );
  });
});

describe('Jetson install script', () => {
  test('passes shellcheck', { skip: shellcheckSkip }, () => {
    const result = spawnSync('shellcheck', [INSTALL_SCRIPT], { encoding: 'utf8' });
    assert.equal(result.stdout, '');
    assert.equal(result.status, 0);
  });

  test('dry run prints every action', () => {
    const unitPath = '/etc/systemd/system/bv-edge.service';
    const unitBefore = existsSync(unitPath);
    const result = spawnSync(
      'bash',
      [INSTALL_SCRIPT, '--dry-run', '--assume-arch', 'aarch64', '--kiosk', '--no-start'],
      { encoding: 'utf8' },
    );
    assert.equal(result.status, 0, result.stderr);
    const out = result.stdout;
    assert.match(out, /dry run: nothing is changed/);
    assert.match(out, /Node v20\.|NodeSource/);
    assert.match(out, /bv-edge\.service/);
    assert.match(out, /\/etc\/bv-edge\/config\.yaml/);
    assert.match(out, /install -d -m 0770 -o root -g bv-edge \/etc\/bv-edge$/m);
    assert.match(out, /chmod 0660 \/etc\/bv-edge\/config\.yaml/);
    assert.match(out, /install -d -m 0750 -o root -g bv-edge \/etc\/bv-edge\/secrets$/m);
    assert.match(out, /dry run finished: \d+ changes would be made/);
    assert.doesNotMatch(out, /install: running: /, 'a dry run runs no change');
    assert.doesNotMatch(out, /systemctl restart/, '--no-start leaves the units stopped');
    assert.equal(existsSync(unitPath), unitBefore, `${unitPath} untouched`);
  });

  test('wrong architecture is rejected', () => {
    const result = spawnSync('bash', [INSTALL_SCRIPT, '--dry-run', '--assume-arch', 'x86_64'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /for Jetson carts \(aarch64\); this machine is x86_64/);
  });

  test('unknown option is rejected', () => {
    const result = spawnSync('bash', [INSTALL_SCRIPT, '--dry-rn'], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /unknown option --dry-rn/);
  });
});
