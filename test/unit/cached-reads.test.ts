import { expect } from 'chai';
import { createCachedReads } from '../../src/db/cached-reads.ts';
import { parseChange, type ChangeFeed, type RowChange } from '../../src/db/change-feed.ts';

/** A change feed under the test's control. */
function fakeFeed() {
  const listeners: ((change: RowChange | null) => void)[] = [];
  const feed = {
    live: true,
    subscribe(listener: (change: RowChange | null) => void) { listeners.push(listener); },
    async close() {},
    emit(change: RowChange | null) { for (const l of listeners) l(change); },
  };
  return feed satisfies ChangeFeed;
}

/** A "table" whose reads are counted. */
function table() {
  const rows = new Map<string, string>([['a', 'A1'], ['b', 'B1']]);
  let reads = 0;
  return {
    rows,
    get reads() { return reads; },
    async load(key: string) { reads++; return rows.get(key); },
  };
}

describe('cached reads kept fresh by the change feed', () => {
  it('reads a row once while nothing changes', async () => {
    const db = table();
    const cache = createCachedReads(fakeFeed(), { table: 'oidc_clients', load: db.load });
    expect([await cache.get('a'), await cache.get('a'), await cache.get('a')]).to.deep.equal(['A1', 'A1', 'A1']);
    expect(db.reads).to.equal(1);
  });

  it('reads the row again after a change of that row, and only that row', async () => {
    const db = table();
    const feed = fakeFeed();
    const cache = createCachedReads(feed, { table: 'oidc_clients', load: db.load });
    await cache.get('a');
    await cache.get('b');
    db.rows.set('a', 'A2');
    feed.emit({ table: 'oidc_clients', key: 'a' });
    expect(await cache.get('a')).to.equal('A2');
    expect(await cache.get('b')).to.equal('B1');
    expect(db.reads).to.equal(3);
  });

  it('ignores changes of other tables', async () => {
    const db = table();
    const feed = fakeFeed();
    const cache = createCachedReads(feed, { table: 'oidc_clients', load: db.load });
    await cache.get('a');
    feed.emit({ table: 'accounts', key: 'a' });
    await cache.get('a');
    expect(db.reads).to.equal(1);
  });

  it('forgets everything when the feed may have missed changes, and reads through while it is not live', async () => {
    const db = table();
    const feed = fakeFeed();
    const cache = createCachedReads(feed, { table: 'oidc_clients', load: db.load });
    await cache.get('a');
    feed.live = false;
    feed.emit(null);
    db.rows.set('a', 'A3');
    expect(await cache.get('a')).to.equal('A3');
    expect(await cache.get('a')).to.equal('A3');
    expect(db.reads).to.equal(3);
    feed.live = true;
    await cache.get('a');
    await cache.get('a');
    expect(db.reads).to.equal(4);
  });

  it('does not keep a read that was running when its row changed', async () => {
    const feed = fakeFeed();
    let release!: () => void;
    let reads = 0;
    const cache = createCachedReads(feed, {
      table: 'oidc_clients',
      load: async () => { reads++; if (reads === 1) await new Promise<void>((r) => { release = r; }); return `v${reads}`; },
    });
    const slow = cache.get('a');
    await new Promise((r) => setImmediate(r));
    feed.emit({ table: 'oidc_clients', key: 'a' });
    release();
    expect(await slow).to.equal('v1');
    expect(await cache.get('a')).to.equal('v2');
  });

  it('drops an entry at once when this process wrote the row', async () => {
    const db = table();
    const cache = createCachedReads(fakeFeed(), { table: 'oidc_clients', load: db.load });
    await cache.get('a');
    db.rows.set('a', 'A4');
    cache.invalidate('a');
    expect(await cache.get('a')).to.equal('A4');
  });

  it('does not cache misses, and keeps at most maxEntries rows', async () => {
    const db = table();
    const cache = createCachedReads(fakeFeed(), { table: 'oidc_clients', load: db.load, maxEntries: 1 });
    expect(await cache.get('missing')).to.equal(undefined);
    db.rows.set('missing', 'M');
    expect(await cache.get('missing')).to.equal('M');
    await cache.get('a');
    await cache.get('missing');
    expect(db.reads).to.equal(4);
  });

  it('reads every time without a feed (the embedded database)', async () => {
    const db = table();
    const cache = createCachedReads(undefined, { table: 'oidc_clients', load: db.load });
    await cache.get('a');
    await cache.get('a');
    expect(db.reads).to.equal(2);
  });

  it('parses the trigger\'s payloads', () => {
    expect(parseChange('oidc_clients:mileage:club')).to.deep.equal({ table: 'oidc_clients', key: 'mileage:club' });
    expect(parseChange('nonsense')).to.equal(null);
    expect(parseChange(undefined)).to.equal(null);
  });
});
