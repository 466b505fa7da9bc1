/**
 * The passkey options the sign-in page carries: a discoverable sign-in's challenge, issued with
 * the page, so that autofill or the button starts without an options request. They are issued
 * as `POST …/passkey/options` issues them: single use, bound to the interaction, and counted
 * against the ceremony limit of the address.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createRp, device, followToCallback, type TestRp } from '../helpers/oidc-flow.ts';
import { pageConfig } from '../helpers/user-agent.ts';
import { authorizationUrl, createMember, exchangeAt, type TestMember } from '../helpers/oidc-extra.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { translator } from '../../src/i18n/i18n.ts';

/** What Chromium's navigations accept. */
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

/** A client address of its own (TRUST_PROXY is on), so each test has its own ceremony budget. */
const freshIp = () => `2001:db8:${randomBytes(2).toString('hex')}::${randomBytes(2).toString('hex')}`;

describe(`the passkey options the sign-in page carries (${backendLabel()})`, function () {
  this.timeout(60_000);
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  before(async () => {
    t = await startTobira({ TRUST_PROXY: 'true' });
    rp = await createRp(t);
    member = await createMember(t, rp);
  });
  after(async () => { await t?.close(); });

  /** A browser at its own address, navigating to a fresh authorization request. */
  async function openSignIn(ip = freshIp()) {
    const ua = device(t);
    const headers = { 'x-forwarded-for': ip };
    const prepared = await authorizationUrl(rp);
    const res = await ua.get(prepared.url.href, { headers: { ...headers, accept: browserAccept } });
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    const uid = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(res.headers.get('content-location') ?? '')![1]!;
    const post = (path: string, body: unknown) => ua.post(`${t.url}/interaction/${uid}/passkey${path}`, body, { headers });
    return { ua, ip, prepared, uid, page: res.text, options: pageConfig(res.text).passkeyOptions, post };
  }

  /** The stored challenge of interaction `uid`, as the options endpoint stores it (or null). */
  const storedChallenge = (uid: string, challenge: string) => t.container.store.get(`webauthn:auth:${uid}:${challenge}`);

  it("carries a discoverable sign-in's options: signed as they are, the sign-in completes with no options request", async () => {
    const signIn = await openSignIn();
    expect(signIn.options).to.deep.equal({
      rpId: 'localhost', challenge: signIn.options.challenge, timeout: t.config.ttl.challengeSeconds * 1000, userVerification: 'required',
    });
    expect(signIn.options.challenge).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(await storedChallenge(signIn.uid, signIn.options.challenge)).to.equal('{}');

    const verified = await signIn.post('/verify', member.authenticator.authenticate(signIn.options, t.url));
    expect(verified.status, verified.text).to.equal(200);
    // Used: a second answer to the same challenge finds nothing.
    expect(await storedChallenge(signIn.uid, signIn.options.challenge)).to.equal(null);
    const tokens = await exchangeAt(rp, signIn.prepared, await followToCallback(signIn.ua, rp, verified.json.redirectTo));
    expect(tokens.claims()!.acr).to.equal('phr');
    expect(tokens.claims()!.nonce).to.equal(signIn.prepared.nonce);
  });

  it("gives every page a challenge of its own, bound to its interaction and good for one verification", async () => {
    const a = await openSignIn();
    const b = await openSignIn();
    expect(a.options.challenge).to.not.equal(b.options.challenge);
    // A's challenge answered on B's interaction: not B's.
    const elsewhere = await b.post('/verify', member.authenticator.authenticate(a.options, t.url));
    expect(elsewhere.status).to.equal(400);
    expect(elsewhere.json.error).to.equal('passkey.challenge_expired');

    // A verification that fails (a passkey Tobira does not know) uses the page's challenge up.
    const stranger = createSoftAuthenticator();
    stranger.register({
      rp: { id: 'localhost', name: 'Tobira' }, user: { id: 'c3RyYW5nZXI', name: 'stranger', displayName: 'stranger' }, challenge: 'c3RyYW5nZXI',
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    }, t.url);
    const unknown = await a.post('/verify', stranger.authenticate(a.options, t.url));
    expect(unknown.json.error).to.equal('passkey.unknown_credential');
    const again = await a.post('/verify', member.authenticator.authenticate(a.options, t.url));
    expect(again.status).to.equal(400);
    expect(again.json.error).to.equal('passkey.challenge_expired');
    expect(again.json.message).to.equal(translator('en')('errors.passkey.challenge_expired'));

    // As the page's script then does: options of its own, and the sign-in goes through.
    const fresh = await a.post('/options', {});
    expect(fresh.json.challenge).to.not.equal(a.options.challenge);
    const verified = await a.post('/verify', member.authenticator.authenticate(fresh.json, t.url));
    expect(verified.status, verified.text).to.equal(200);
  });

  it('gives a reloaded page a new challenge, and the one before still works until used', async () => {
    const first = await openSignIn();
    const reload = await first.ua.get(`${t.url}/interaction/${first.uid}`, { headers: { 'x-forwarded-for': first.ip, accept: browserAccept } });
    expect(reload.status).to.equal(200);
    const reloaded = pageConfig(reload.text).passkeyOptions;
    expect(reloaded.challenge).to.not.equal(first.options.challenge);
    expect(await storedChallenge(first.uid, first.options.challenge)).to.equal('{}');
    const verified = await first.post('/verify', member.authenticator.authenticate(reloaded, t.url));
    expect(verified.status, verified.text).to.equal(200);
  });

  it('counts each page as a ceremony; past the limit the page comes without options and asking for them says why', async () => {
    const points = t.config.rateLimits.ceremoniesPerIpPerMinute;
    const limiter = t.container.store.rateLimiter({ keyPrefix: 'rl:ceremony-ip', points, duration: 60 });
    const ip = freshIp();
    await openSignIn(ip);
    expect((await limiter.get(ip))?.consumedPoints).to.equal(1);

    await limiter.penalty(ip, points);
    const limited = await openSignIn(ip);
    expect(limited.options).to.equal(null);
    // The page still works: its script asks for options, and the member reads why not.
    expect(limited.page).to.contain('id="passkey-button"');
    const refused = await limited.post('/options', {});
    expect(refused.status).to.equal(429);
    expect(refused.json.error).to.equal('rate_limited');
    expect(refused.json.message).to.equal(translator('en')('errors.rate_limited', { seconds: Number(refused.headers.get('retry-after') ?? 60) }));
  });
});
