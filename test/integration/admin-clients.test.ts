import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { sharedTobira, startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, device, type TestRp } from '../helpers/oidc-flow.ts';
import { eventually } from '../helpers/eventually.ts';
import { createMember, authorizationUrl, jwtParts, passkeyLogin, rejection, type TestMember } from '../helpers/oidc-extra.ts';
import type { ClientRecord } from '../../src/admin/client-service.ts';
import { translator } from '../../src/i18n/i18n.ts';
import { adminApi, auditEvents, lastAuditId, signedInAdmin, type TestAdmin } from './admin-support.ts';

const hex = () => randomBytes(4).toString('hex');

/** openid-client configured for a client the admin API returned, on the Tobira at `t`. */
async function rpFor(t: TestTobira, client: ClientRecord, auth: oidc.ClientAuth = client.client_secret ? oidc.ClientSecretBasic(client.client_secret) : oidc.None()): Promise<TestRp> {
  const config = await oidc.discovery(new URL(t.url), client.client_id, undefined, auth, { execute: [oidc.allowInsecureRequests] });
  return { client, config, redirectUri: client.redirect_uris[0] };
}

/** A small HTTP server on loopback that records POSTs and serves one JSON document. */
async function startSink(document: unknown = {}): Promise<{ url: string; posts: string[]; server: Server; close(): Promise<void> }> {
  const posts: string[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    if (req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      posts.push(body);
      res.statusCode = 200;
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(document));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, posts, server, async close() { server.closeAllConnections(); server.close(); await once(server, 'close'); } };
}

const clientBody = (overrides: Record<string, unknown> = {}) => ({
  client_name: `Console RP ${hex()}`,
  redirect_uris: [`http://127.0.0.1:9/cb/${hex()}`],
  post_logout_redirect_uris: ['http://127.0.0.1:9/bye'],
  first_party: true,
  ...overrides,
});

describe(`admin API: clients (${backendLabel()})`, () => {
  let t: TestTobira;
  let admin: TestAdmin;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    const rp = await createRp(t);
    admin = await signedInAdmin(t, rp);
    member = await createMember(t, rp);
  });

  it('creates a client that completes a sign-in with openid-client right away; the secret is shown once; the action is audited', async () => {
    const mark = await lastAuditId(t);
    const created = await adminApi(t, admin, 'POST', '/clients', clientBody());
    expect(created.status, created.text).to.equal(201);
    const client = created.json as ClientRecord;
    expect(client.client_secret).to.be.a('string').with.length.greaterThan(30);
    const shown = await adminApi(t, admin, 'GET', `/clients/${client.client_id}`);
    expect(shown.json).to.not.have.property('client_secret');
    const listed = await adminApi(t, admin, 'GET', '/clients');
    expect(JSON.stringify(listed.json)).to.not.contain(client.client_secret);

    const rp = await rpFor(t, client);
    const ua = device(t);
    const tokens = await passkeyLogin(ua, t, rp, await authorize(ua, rp), member);
    expect(tokens.claims()!.acr).to.equal('phr');

    const events = await auditEvents(t, 'admin.client_changed', mark);
    expect(events.map((e) => [e.client_id, e.actor_id, e.data.action, e.data.via])).to.deep.equal([[client.client_id, admin.sub, 'create', 'console']]);
  });

  describe('refuses what a careful IdP refuses, with a 400 that names the field, and stores nothing', () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['a wildcard redirect URI', { redirect_uris: ['https://*.example.com/cb'] }, /Redirect URIs \(1\): https:\/\/\*\.example\.com\/cb: wildcards are not allowed/],
      ['a javascript: URI', { redirect_uris: ['javascript:alert(1)'] }, /Redirect URIs \(1\): javascript:alert\(1\): this kind of URL is not allowed/],
      ['a data: post-logout URI', { post_logout_redirect_uris: ['data:text/html,hi'] }, /Post-logout redirect URIs \(1\): .*not allowed/],
      ['a fragment', { redirect_uris: ['https://club.example.com/cb#x'] }, /fragments \(#\) are not allowed/],
      ['plain http on a public host', { redirect_uris: ['http://club.example.com/cb'] }, /http:\/\/ is only allowed on localhost/],
      ['plain http for the back-channel logout URI', { backchannel_logout_uri: 'http://rp.example.com/logout' }, /Back-channel logout URI: .*http:\/\/ is only allowed/],
      ['a javascript: logo', { logo_uri: 'javascript:alert(1)' }, /Logo URL: .*must be an https:\/\/ URL/],
      ['the implicit grant', { grant_types: ['implicit'] }, /Grant types \(1\): not one of the choices/],
      ['the password grant', { grant_types: ['authorization_code', 'password'] }, /Grant types \(2\): not one of the choices/],
      ['private_key_jwt without a JWKS URI', { token_endpoint_auth_method: 'private_key_jwt' }, /JWKS URI: private_key_jwt needs a JWKS URI/],
      ['an access token lifetime of 5 seconds', { access_token_ttl: 5 }, /Access token lifetime \(seconds\): too short or too small \(at least 60\)/],
      ['a refresh token lifetime as text', { refresh_token_ttl: 'forever' }, /Refresh token lifetime \(seconds\): missing or of the wrong kind/],
      ['an unknown field', { application_type: 'native' }, /unknown field/],
      ['an unknown scope', { scope: 'openid admin' }, /Scopes: only these scopes exist/],
    ];
    for (const [what, input, message] of bad) {
      it(what, async () => {
        const name = `Refused ${hex()}`;
        const res = await adminApi(t, admin, 'POST', '/clients', clientBody({ client_name: name, ...input }));
        expect(res.status, res.text).to.equal(400);
        expect(res.json.error).to.equal('request.invalid');
        expect(res.json.message).to.match(message);
        expect(await t.container.clients.list(name)).to.deep.equal([]);
      });
    }

    it('says it in Japanese to a Japanese admin', async () => {
      const res = await adminApi(t, admin, 'POST', '/clients?lang=ja', clientBody({ redirect_uris: ['https://*.example.com/cb'] }));
      expect(res.status).to.equal(400);
      expect(res.json.message).to.contain('リダイレクト URI (1)').and.contain('ワイルドカードは使えません');
    });

    for (const [what, body] of [['an array', '[]'], ['a string', '"x"'], ['null', 'null'], ['broken JSON', '{"client_name":'], ['a 100 kB name', JSON.stringify({ client_name: 'x'.repeat(100_000) })]] as const) {
      it(`answers ${what} with a 4xx, never a 500`, async () => {
        const res = await adminApi(t, admin, 'POST', '/clients', body);
        expect(res.status).to.be.within(400, 499);
        expect(res.json.error).to.match(/^request\./);
      });
    }
  });

  it('edits a client: the next authorization request follows the new redirect URIs; a bad edit changes nothing', async () => {
    const client = (await adminApi(t, admin, 'POST', '/clients', clientBody())).json as ClientRecord;
    const newUri = `http://127.0.0.1:9/new/${hex()}`;
    const edited = await adminApi(t, admin, 'PATCH', `/clients/${client.client_id}`, { redirect_uris: [newUri], client_name: 'Renamed' });
    expect(edited.status, edited.text).to.equal(200);
    expect([edited.json.client_name, edited.json.redirect_uris]).to.deep.equal(['Renamed', [newUri]]);
    expect(edited.json).to.not.have.property('client_secret');

    const rp = await rpFor(t, client);
    const old = await device(t).get((await authorizationUrl(rp)).url.href);
    expect(old.status, 'the old redirect URI is refused at once').to.equal(400);
    expect(old.text).to.contain('redirect_uri');
    const ua = device(t);
    const fresh = await authorize(ua, { ...rp, redirectUri: newUri });
    expect(fresh.uid).to.be.a('string');

    const refused = await adminApi(t, admin, 'PATCH', `/clients/${client.client_id}`, { client_name: 'Half', redirect_uris: ['https://*.x.example/cb'] });
    expect(refused.status).to.equal(400);
    const after = await t.container.clients.get(client.client_id);
    expect([after!.client_name, after!.redirect_uris]).to.deep.equal(['Renamed', [newUri]]);
    const cannot = await adminApi(t, admin, 'PATCH', `/clients/${client.client_id}`, { client_id: 'other' });
    expect(cannot.status).to.equal(400);
  });

  it('disables and enables a client: sign-ins and token refreshes stop and start again', async () => {
    const client = (await adminApi(t, admin, 'POST', '/clients', clientBody())).json as ClientRecord;
    const rp = await rpFor(t, client);
    const ua = device(t);
    const tokens = await passkeyLogin(ua, t, rp, await authorize(ua, rp), member);

    expect((await adminApi(t, admin, 'POST', `/clients/${client.client_id}/disable`, {})).json.disabled).to.equal(true);
    const refresh = await rejection(oidc.refreshTokenGrant(rp.config, tokens.refresh_token!));
    expect(refresh.error).to.equal('invalid_client');
    const signin = await device(t).get((await authorizationUrl(rp)).url.href);
    expect(signin.status).to.equal(400);

    expect((await adminApi(t, admin, 'POST', `/clients/${client.client_id}/enable`, {})).json.disabled).to.equal(false);
    const again = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(again.access_token).to.be.a('string');
  });

  it('rotates the secret: the old one stops working at once, the new one (shown once) works', async () => {
    const client = (await adminApi(t, admin, 'POST', '/clients', clientBody({ grant_types: ['client_credentials'], redirect_uris: [], scope: 'openid' }))).json as ClientRecord;
    const before = await rpFor(t, client);
    expect((await oidc.clientCredentialsGrant(before.config)).access_token).to.be.a('string');
    const rotated = await adminApi(t, admin, 'POST', `/clients/${client.client_id}/rotate-secret`, {});
    expect(rotated.status).to.equal(200);
    expect(rotated.json.client_secret).to.be.a('string').and.not.equal(client.client_secret);
    expect((await rejection(oidc.clientCredentialsGrant(before.config))).error).to.equal('invalid_client');
    const after = await rpFor(t, { ...client, client_secret: rotated.json.client_secret });
    expect((await oidc.clientCredentialsGrant(after.config)).access_token).to.be.a('string');

    const pub = (await adminApi(t, admin, 'POST', '/clients', clientBody({ token_endpoint_auth_method: 'none' }))).json as ClientRecord;
    const noSecret = await adminApi(t, admin, 'POST', `/clients/${pub.client_id}/rotate-secret`, {});
    expect([noSecret.status, noSecret.json.error]).to.deep.equal([400, 'request.invalid']);
  });

  it('deletes a client: its requests stop, it is gone from the list, the deletion is audited', async () => {
    const mark = await lastAuditId(t);
    const client = (await adminApi(t, admin, 'POST', '/clients', clientBody())).json as ClientRecord;
    const del = await adminApi(t, admin, 'DELETE', `/clients/${client.client_id}`);
    expect(del.status).to.equal(200);
    expect((await adminApi(t, admin, 'GET', `/clients/${client.client_id}`)).status).to.equal(404);
    expect((await adminApi(t, admin, 'DELETE', `/clients/${client.client_id}`)).status).to.equal(404);
    const rp = await rpFor(t, client);
    expect((await device(t).get((await authorizationUrl(rp)).url.href)).status).to.equal(400);
    const actions = (await auditEvents(t, 'admin.client_changed', mark)).map((e) => e.data.action);
    expect(actions).to.deep.equal(['create', 'delete']);
  });

  it('searches clients by name, client ID and redirect URI', async () => {
    const tag = hex();
    const client = (await adminApi(t, admin, 'POST', '/clients', clientBody({ client_name: `Search ${tag}`, redirect_uris: [`https://s${tag}.example/cb`] }))).json as ClientRecord;
    for (const q of [`Search ${tag}`, client.client_id, `s${tag}.example`]) {
      const res = await adminApi(t, admin, 'GET', `/clients?q=${encodeURIComponent(q)}`);
      expect(res.json.clients.map((c: ClientRecord) => c.client_id), q).to.deep.equal([client.client_id]);
    }
    expect((await adminApi(t, admin, 'GET', `/clients?q=nothing-${tag}`)).json.clients).to.deep.equal([]);
  });

  it('applies per-client token lifetimes to the tokens issued', async () => {
    const client = (await adminApi(t, admin, 'POST', '/clients', clientBody({ access_token_ttl: 120, id_token_ttl: 90, refresh_token_ttl: 7200 }))).json as ClientRecord;
    expect([client.access_token_ttl, client.id_token_ttl, client.refresh_token_ttl]).to.deep.equal([120, 90, 7200]);
    const rp = await rpFor(t, client);
    const ua = device(t);
    const tokens = await passkeyLogin(ua, t, rp, await authorize(ua, rp), member);
    expect(tokens.expires_in).to.be.within(118, 120);
    const claims = jwtParts(tokens.id_token!).payload as { exp: number; iat: number };
    expect(claims.exp - claims.iat).to.equal(90);
    const [row] = await t.container.ds.query(
      `SELECT extract(epoch FROM expires_at - now())::int AS left FROM oidc_payloads WHERE model = 'RefreshToken' AND payload->>'clientId' = $1`, [client.client_id]);
    expect(row.left).to.be.within(7190, 7200);
    const cleared = await adminApi(t, admin, 'PATCH', `/clients/${client.client_id}`, { access_token_ttl: null });
    expect(cleared.json.access_token_ttl).to.equal(null);
  });

  it('authenticates a private_key_jwt client with the keys at its JWKS URI', async () => {
    const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const jwks = await startSink({ keys: [jwk] });
    try {
      const created = await adminApi(t, admin, 'POST', '/clients', clientBody({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${jwks.url}/jwks` }));
      expect(created.status, created.text).to.equal(201);
      expect(created.json).to.not.have.property('client_secret');
      const rp = await rpFor(t, created.json, oidc.PrivateKeyJwt({ key: privateKey, kid: 'k1' }));
      const ua = device(t);
      const tokens = await passkeyLogin(ua, t, rp, await authorize(ua, rp), member);
      expect(tokens.access_token).to.be.a('string');
      const wrongKey = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])).privateKey;
      const impostor = await rpFor(t, created.json, oidc.PrivateKeyJwt({ key: wrongKey, kid: 'k1' }));
      expect((await rejection(oidc.refreshTokenGrant(impostor.config, tokens.refresh_token!))).error).to.equal('invalid_client');
    } finally {
      await jwks.close();
    }
  });

  it('sends a logout token to the back-channel logout URI when the member signs out of Tobira', async () => {
    const sink = await startSink();
    try {
      const client = (await adminApi(t, admin, 'POST', '/clients', clientBody({ backchannel_logout_uri: `${sink.url}/logout` }))).json as ClientRecord;
      const rp = await rpFor(t, client);
      const ua = device(t);
      const tokens = await passkeyLogin(ua, t, rp, await authorize(ua, rp), member);
      const sub = tokens.claims()!.sub;
      const end = await ua.get(oidc.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/bye' }).href, { follow: true });
      const confirm = /name="xsrf" value="([^"]+)"/.exec(end.text)![1];
      await ua.post(new URL('/session/end/confirm', t.url).href, { xsrf: confirm, logout: 'yes' }, { form: true });
      await eventually('a logout token reaches the back-channel logout URI', () => sink.posts.length > 0, 5000);
      const body = sink.posts[0];
      const token = jwtParts(new URLSearchParams(body).get('logout_token')!).payload;
      expect(token.sub).to.equal(sub);
      expect(token.aud).to.equal(client.client_id);
      expect(token.events).to.have.property('http://schemas.openid.net/event/backchannel-logout');
    } finally {
      await sink.close();
    }
  });

  it('shows the logo, policy and terms links on the consent page', () => {
    const html = t.container.views.render('consent', {
      t: translator('en'), locale: 'en', langs: [], title: 'Allow access', uid: 'u1', client: 'Partner', member: '1', scopes: ['openid'],
      clientInfo: { logoUri: 'https://partner.example/logo.png', policyUri: 'https://partner.example/privacy', tosUri: 'https://partner.example/terms' },
    });
    expect(html).to.contain('<img src="https://partner.example/logo.png" alt="Logo of Partner"');
    expect(html).to.contain('href="https://partner.example/privacy"').and.contain('Privacy policy of Partner');
    expect(html).to.contain('href="https://partner.example/terms"').and.contain('Terms of service of Partner');
  });

  describe('on two Tobira instances sharing one database', function () {
    let second: TestTobira | undefined;
    before(async function () {
      if (!process.env.DATABASE_URL) {
        console.log('      (needs DATABASE_URL: two instances cannot share the embedded database)');
        this.skip();
      }
      second = await startTobira();
    });
    after(async () => { await second?.close(); });

    // The other instance drops its cached copy when PostgreSQL's notification reaches it: a
    // moment after the write commits, not in the same instant (docs/api.md, "Clients").
    it('a client created or changed on one instance applies on the other as soon as it is notified', async () => {
      const client = (await adminApi(t, admin, 'POST', '/clients', clientBody())).json as ClientRecord;
      const onSecond = await rpFor(second!, client);
      const ua = device(second!);
      const tokens = await passkeyLogin(ua, second!, onSecond, await authorize(ua, onSecond), member);
      expect(tokens.claims()!.iss).to.equal(second!.url);

      const newUri = `http://127.0.0.1:9/moved/${hex()}`;
      await adminApi(t, admin, 'PATCH', `/clients/${client.client_id}`, { redirect_uris: [newUri] });
      const oldUriRefused = async () => (await device(second!).get((await authorizationUrl(onSecond)).url.href)).status === 400;
      await eventually('the other instance refuses the old redirect URI', oldUriRefused, 2000, 5);
      expect((await authorize(device(second!), { ...onSecond, redirectUri: newUri })).uid).to.be.a('string');

      await adminApi(t, admin, 'POST', `/clients/${client.client_id}/disable`, {});
      const disabled = async () => (await device(second!).get((await authorizationUrl({ ...onSecond, redirectUri: newUri })).url.href)).status === 400;
      await eventually('the other instance refuses the disabled client', disabled, 2000, 5);
      expect((await rejection(oidc.refreshTokenGrant(onSecond.config, tokens.refresh_token!))).error).to.equal('invalid_client');
    });
  });
});
