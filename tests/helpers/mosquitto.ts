import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** Debian's mosquitto package installs the broker here. */
export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';

/** Reason to skip broker tests, or false when mosquitto is installed; for node:test's `skip`. */
export const mosquittoSkipReason: string | false = existsSync(MOSQUITTO_PATH)
  ? false
  : `mosquitto not found at ${MOSQUITTO_PATH}; install it with "apt-get install mosquitto"`;

export interface Mosquitto {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 5000;

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts mosquitto on 127.0.0.1:`port` (a free port when omitted) with anonymous access and no
 * persistence, and resolves once it accepts TCP connections.
 */
export async function startMosquitto(port?: number): Promise<Mosquitto> {
  const brokerPort = port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'bv-edge-mosquitto-'));
  const configPath = join(dir, 'mosquitto.conf');
  const config = [
    `listener ${brokerPort} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
  ];
  await writeFile(configPath, `${config.join('\n')}\n`);

  const child = spawn(MOSQUITTO_PATH, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const stop = async (): Promise<void> => {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForListener(child, brokerPort, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `mqtt://127.0.0.1:${brokerPort}`, port: brokerPort, stop };
}

async function waitForListener(
  child: ChildProcess,
  port: number,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`mosquitto exited with code ${child.exitCode}: ${stderr()}`);
    }
    if (await acceptsConnections(port)) return;
    await delay(50);
  }
  throw new Error(
    `mosquitto did not listen on port ${port} within ${STARTUP_TIMEOUT_MS} ms: ${stderr()}`,
  );
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
