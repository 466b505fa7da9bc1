import { expect } from 'chai';
import pino from 'pino';
import pg from 'pg';
import { createChangeFeed, type ChangeFeed, type RowChange } from '../../src/db/change-feed.ts';
import { backendLabel, sharedTobira } from '../helpers/tobira.ts';
import { eventually } from '../helpers/eventually.ts';

describe(`change feed: PostgreSQL reports client changes to every instance (${backendLabel()})`, () => {
  const url = process.env.DATABASE_URL;
  let feed: ChangeFeed;
  let writer: pg.Client;
  const seen: (RowChange | null)[] = [];

  before(async function () {
    if (!url) {
      console.log('      (skipped: the change feed needs PostgreSQL; set DATABASE_URL. The embedded database reads clients every time.)');
      this.skip();
    }
    await sharedTobira(); // migrated schema, with the trigger
    feed = await createChangeFeed(url!, pino({ level: 'silent' }));
    feed.subscribe((change) => seen.push(change));
    writer = new pg.Client({ connectionString: url });
    await writer.connect();
  });

  after(async () => {
    await feed?.close();
    await writer?.end();
  });

  it('reports an insert, an update and a delete made by any connection (as the CLI or plain SQL would)', async () => {
    expect(feed.live).to.equal(true);
    const id = `feed-${Date.now()}`;
    await writer.query("INSERT INTO oidc_clients (client_id, metadata) VALUES ($1, '{}')", [id]);
    await writer.query('UPDATE oidc_clients SET disabled = true WHERE client_id = $1', [id]);
    await writer.query('DELETE FROM oidc_clients WHERE client_id = $1', [id]);
    const mine = () => seen.filter((c) => c?.key === id);
    await eventually('three changes of the client', () => mine().length === 3);
    expect(mine()).to.deep.equal(Array(3).fill({ table: 'oidc_clients', key: id }));
  });

  it('says it may have missed changes when its connection is lost, is not live meanwhile, and listens again by itself', async () => {
    seen.length = 0;
    await writer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE query = 'LISTEN tobira_changes' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        AND application_name = '' AND state = 'idle'`);
    await eventually('the loss is reported', () => seen.includes(null));
    await eventually('listening again', () => feed.live);
    const id = `feed-again-${Date.now()}`;
    await writer.query("INSERT INTO oidc_clients (client_id, metadata) VALUES ($1, '{}')", [id]);
    await eventually('the change after reconnecting', () => seen.some((c) => c?.key === id));
    await writer.query('DELETE FROM oidc_clients WHERE client_id = $1', [id]);
  });
});
