import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { withFingerprint } from '../../src/oidc/adapter.ts';

/** What oidc-provider's Client.find keys its built clients by (lib/models/client.js). */
const providerKey = (properties: object) => createHash('sha256').update(JSON.stringify(properties)).digest('base64url');

describe('client metadata fingerprints (what Client.find hashes)', () => {
  const metadata = () => ({ client_id: 'web', redirect_uris: ['https://rp.example/cb'], first_party: true });

  it('hands over the metadata itself: every field, and nothing more to enumerate', () => {
    const source = metadata();
    const copy = withFingerprint(source);
    expect(copy).to.deep.equal(source);
    expect(Object.keys(copy)).to.deep.equal(Object.keys(source));
    expect({ ...copy }).to.deep.equal(source);
    // The cached object itself is left as it was: its JSON is still the metadata.
    expect(JSON.parse(JSON.stringify(source))).to.deep.equal(source);
  });

  it('gives the same object, and so the same key, while the cached metadata is the same object', () => {
    const source = metadata();
    expect(withFingerprint(source)).to.equal(withFingerprint(source));
    expect(JSON.stringify(withFingerprint(source))).to.have.length.below(50);
  });

  it('gives equal content the same key and changed content another', () => {
    const a = withFingerprint(metadata());
    const b = withFingerprint(metadata());
    const changed = withFingerprint({ ...metadata(), redirect_uris: ['https://rp.example/other'] });
    expect(providerKey(a)).to.equal(providerKey(b));
    expect(providerKey(changed)).to.not.equal(providerKey(a));
  });
});
