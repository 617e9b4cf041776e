/**
 * Child process for the kill -9 test: drains the outbox of the SQLite file argv[2] to the broker
 * argv[3] with the topic base argv[4]. Its last will is a retained "offline" status. Writes
 * "started" to stdout once connected and then drains until it is killed.
 */
import { silentLogger } from '../../src/core/log.ts';
import { OutboxPublisher } from '../../src/mqtt/publisher.ts';
import { openDatabase } from '../../src/store/db.ts';

const [dbPath, brokerUrl, topicBase] = process.argv.slice(2);
if (!dbPath || !brokerUrl || !topicBase) {
  process.stderr.write('usage: outbox-child.ts DB_PATH BROKER_URL TOPIC_BASE\n');
  process.exit(2);
}
const store = openDatabase(dbPath, silentLogger());
const publisher = new OutboxPublisher({
  store,
  brokerUrl,
  clientId: 'bv-edge-kill-test',
  logger: silentLogger(),
  topicBase,
  will: { topic: `${topicBase}status`, payload: { state: 'offline' }, qos: 1, retain: true },
});
await publisher.start();
process.stdout.write('started\n');
await publisher.drain({ timeoutMs: 600_000 });
