import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
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

export interface MosquittoOptions {
  /**
   * Folder for mosquitto.db. With it the broker saves sessions and queued messages on SIGTERM and
   * loads them again when started with the same folder. The caller removes the folder.
   */
  persistenceDir?: string;
  /**
   * The whole configuration in place of the default anonymous listener, e.g. a TLS listener with
   * an ACL. It must listen on 127.0.0.1:`port`; "log_dest stderr" is added to it.
   */
  config?: string[];
  /** "mqtts" when `config` sets up a TLS listener. Default "mqtt". */
  scheme?: 'mqtt' | 'mqtts';
}

/**
 * Starts mosquitto on 127.0.0.1:`port` (a free port when omitted), by default with anonymous
 * access and no persistence, and resolves once it accepts TCP connections.
 */
export async function startMosquitto(
  port?: number,
  options: MosquittoOptions = {},
): Promise<Mosquitto> {
  const brokerPort = port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'bv-edge-mosquitto-'));
  const configPath = join(dir, 'mosquitto.conf');
  const persistence = options.persistenceDir
    ? ['persistence true', `persistence_location ${options.persistenceDir}/`]
    : ['persistence false'];
  const config = options.config ?? [
    `listener ${brokerPort} 127.0.0.1`,
    'allow_anonymous true',
    ...persistence,
  ];
  // Started as root, mosquitto switches to the "mosquitto" user, which cannot read the mode 0700
  // temp folders of the tests. Naming the current user keeps it running as that user.
  const lines = [`user ${userInfo().username}`, ...config, 'log_dest stderr'];
  await writeFile(configPath, `${lines.join('\n')}\n`);

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
  return { url: `${options.scheme ?? 'mqtt'}://127.0.0.1:${brokerPort}`, port: brokerPort, stop };
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
