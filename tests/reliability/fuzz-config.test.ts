/**
 * Config files made by mutating deploy/bv-edge.example.yaml, as YAML text, as parsed values and
 * as JSON: each loads, or fails with a BvEdgeError whose message names the key path of every
 * problem. `bv-edge config check` on a sample of the rejected ones exits 1 and prints the problems
 * with their key paths and no stack trace.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { parse, stringify } from 'yaml';

import { loadConfig } from '../../src/config/index.ts';
import { BvEdgeError } from '../../src/core/errors.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/data.ts';
import { Fuzzer, random } from './helpers/harness.ts';

const FILES = Number(process.env.BV_EDGE_FUZZ_CONFIGS ?? 600);
/** Mutated files also checked through the CLI, each a new process of a few seconds. */
const CLI_FILES = Number(process.env.BV_EDGE_FUZZ_CONFIG_CLI ?? 6);
const SEED = 20260312;
const EXAMPLE = readFileSync(resolve(repoRoot, 'deploy/bv-edge.example.yaml'), 'utf8');

let folder = '';
const outcomes = { loaded: 0, rejected: 0, problems: 0, byCode: new Map<string, number>() };
/** Files that failed to load, kept for the CLI check. */
const rejectedFiles: string[] = [];

before(() => {
  folder = mkdtempSync(join(tmpdir(), 'bv-edge-fuzz-config-'));
});

after(() => {
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** Key paths of every value in `node`, e.g. ["mqtt", "url"]. */
function keyPaths(node: unknown, prefix: string[] = []): string[][] {
  if (typeof node !== 'object' || node === null) return [prefix];
  const entries = Array.isArray(node)
    ? node.map((value, i) => [String(i), value] as const)
    : Object.entries(node);
  const paths: string[][] = prefix.length > 0 ? [prefix] : [];
  for (const [key, value] of entries) paths.push(...keyPaths(value, [...prefix, key]));
  return paths;
}

/** Sets, deletes or adds a key at a random path of the parsed example. */
function mutateValue(fuzz: Fuzzer, config: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(config);
  const paths = keyPaths(copy);
  for (let count = 1 + fuzz.int(3); count > 0; count--) {
    const path = fuzz.pick(paths);
    let parent: Record<string, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      const child = parent[key];
      if (typeof child !== 'object' || child === null) break;
      parent = child as Record<string, unknown>;
    }
    const key = path[path.length - 1]!;
    const action = fuzz.int(4);
    if (action === 0) delete parent[key];
    else if (action === 1) parent[`${key}${fuzz.pick(['s', 'X', '_', ''])}x`] = fuzz.json(1);
    else parent[key] = fuzz.json(2);
  }
  return copy;
}

/** Damages the YAML text: cut, lines dropped, doubled or re-indented, characters replaced. */
function mutateText(fuzz: Fuzzer, text: string): string {
  const lines = text.split('\n');
  switch (fuzz.int(5)) {
    case 0:
      return text.slice(0, fuzz.int(text.length));
    case 1: {
      const at = fuzz.int(lines.length);
      lines.splice(at, 1 + fuzz.int(3));
      return lines.join('\n');
    }
    case 2: {
      const at = fuzz.int(lines.length);
      lines.splice(at, 0, lines[at]!);
      return lines.join('\n');
    }
    case 3: {
      const at = fuzz.int(lines.length);
      lines[at] = `${' '.repeat(fuzz.int(5))}${lines[at]!.trimStart()}`;
      return lines.join('\n');
    }
    default: {
      const chars = [...text];
      for (let i = 0; i < 5; i++)
        chars[fuzz.int(chars.length)] = fuzz.pick([
          ':',
          '"',
          '\t',
          '[',
          '{',
          '&',
          '*',
          '\u0000',
          '- ',
          '#',
        ]);
      return chars.join('');
    }
  }
}

/** Writes config `index` from one of the mutation kinds and returns its path and kind. */
function writeMutant(fuzz: Fuzzer, example: Record<string, unknown>, index: number) {
  const kind = fuzz.pick(['yaml text', 'yaml value', 'json value', 'json text', 'bytes']);
  const file = join(folder, `config-${index}.${kind.startsWith('json') ? 'json' : 'yaml'}`);
  let text: string | Buffer;
  if (kind === 'yaml text') text = mutateText(fuzz, EXAMPLE);
  else if (kind === 'yaml value') text = stringify(mutateValue(fuzz, example));
  else if (kind === 'json value') text = JSON.stringify(mutateValue(fuzz, example), null, 2);
  else if (kind === 'json text') text = mutateText(fuzz, JSON.stringify(example, null, 2));
  else text = fuzz.bytes(2048);
  writeFileSync(file, text);
  return { file, kind };
}

interface Problem {
  path: string;
  message: string;
}

test('mutated config files', () => {
  const fuzz = new Fuzzer(random(SEED));
  const example = parse(EXAMPLE) as Record<string, unknown>;
  for (let index = 0; index < FILES; index++) {
    const { file, kind } = writeMutant(fuzz, example, index);
    try {
      loadConfig({ dataDir: folder }, { file, env: {} });
      outcomes.loaded++;
    } catch (error) {
      assert.ok(
        error instanceof BvEdgeError,
        `${kind} ${file}: ${String(error)} (not a BvEdgeError)`,
      );
      outcomes.rejected++;
      outcomes.byCode.set(error.code, (outcomes.byCode.get(error.code) ?? 0) + 1);
      rejectedFiles.push(file);
      assert.equal(error.code, 'config_invalid', `${kind} ${file}: ${error.message}`);
      const problems = error.value as Problem[];
      assert.ok(problems.length > 0, `${kind} ${file}: no problems listed`);
      outcomes.problems += problems.length;
      for (const problem of problems) {
        assert.ok(problem.message.length > 3, `${kind} ${file}: problem "${problem.message}"`);
        // Syntax errors sit at the top level and give their line and column instead of a path.
        const where = problem.path === '' ? '(top level)' : problem.path;
        assert.ok(error.message.includes(`${where}: `), `${kind} ${file}: ${where} not named`);
        if (problem.path !== '') {
          assert.match(
            problem.path,
            /^[A-Za-z0-9_$-]+(\.[^.]+)*$/,
            `${kind}: path ${problem.path}`,
          );
        }
      }
      assert.ok(!/^\s+at /m.test(error.message), `${kind} ${file}: stack in the message`);
    }
  }
  const codes = [...outcomes.byCode].map(([code, n]) => `${code} ${n}`).join(', ');
  console.log(
    `fuzz config: ${FILES} mutated files, ${outcomes.loaded} loaded, ${outcomes.rejected} ` +
      `rejected (${codes}) naming ${outcomes.problems} problems`,
  );
  assert.ok(outcomes.rejected > FILES / 4, `only ${outcomes.rejected} mutations were rejected`);
});

test('config check on mutated files', { timeout: 180_000 }, async () => {
  assert.ok(rejectedFiles.length >= CLI_FILES, 'the first test wrote too few rejected files');
  const step = Math.floor(rejectedFiles.length / CLI_FILES);
  const exits = new Map<number | null, number>();
  for (let i = 0; i < CLI_FILES; i++) {
    const file = rejectedFiles[i * step]!;
    const result = await runCli(['config', 'check', file]);
    exits.set(result.code, (exits.get(result.code) ?? 0) + 1);
    assert.equal(result.code, 1, `${file}: exit ${result.code}\n${result.stderr}`);
    assert.match(result.stderr, /^bv-edge: Invalid config from /, `${file}:\n${result.stderr}`);
    assert.ok(!/^\s+at /m.test(result.stderr), `${file}: stack trace printed:\n${result.stderr}`);
    assert.match(
      result.stderr,
      /^ {2}(\(top level\)|\S+): /m,
      `${file}: no key path in:\n${result.stderr}`,
    );
  }
  const summary = [...exits].map(([code, n]) => `exit ${code} ${n}`).join(', ');
  console.log(`fuzz config: bv-edge config check on ${CLI_FILES} rejected files (${summary})`);
});
