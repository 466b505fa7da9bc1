/**
 * The sign-in page's ways out for members without a working passkey: the password panel, "Lost
 * your passkey?", help, and the answer for a passkey Tobira no longer has (its credential id, so
 * the page can tell the password manager to forget it).
 */
import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { api, authorize, createRp, device, passkeySignIn, signUp, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import { pageConfig } from '../helpers/user-agent.ts';
import { translator } from '../../src/i18n/i18n.ts';

/** The text of the element with `id` in a page (tags stripped). */
function textOf(page: string, id: string): string | undefined {
  const match = new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(page);
  return match?.[2].replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
}

function hrefOf(page: string, id: string): string | undefined {
  return new RegExp(`<a href="([^"]*)" id="${id}"`).exec(page)?.[1].replace(/&amp;/g, '&');
}

describe(`sign-in page: password, recovery and help links, removed passkeys (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
  });

  for (const locale of ['en', 'ja'] as const) {
    it(`offers password sign-in, "Lost your passkey?" and help, in ${locale === 'en' ? 'English' : 'Japanese'}`, async () => {
      const T = translator(locale);
      const ua = device(t);
      const auth = await authorize(ua, rp, { ui_locales: locale });
      expect(textOf(auth.page, 'show-password')).to.equal(T('password.link'));
      expect(textOf(auth.page, 'password-heading')).to.equal(T('password.title'));
      expect(auth.page).to.contain('autocomplete="current-password"');
      expect(textOf(auth.page, 'lost-passkey')).to.equal(T('password.lost_passkey'));
      expect(hrefOf(auth.page, 'lost-passkey')).to.equal(`/recover?interaction=${auth.uid}`);
      expect(textOf(auth.page, 'help-link')).to.equal(T('password.help'));
      expect(hrefOf(auth.page, 'help-link')).to.equal('/help/passkeys');
      // Shown beside a passkey error by the page's script.
      expect(auth.page).to.match(/<p id="passkey-help" class="small" hidden><a href="\/help\/passkeys">/);
      expect(textOf(auth.page, 'create-password-note')).to.equal(T('password.retires_note'));
    });
  }

  it("gives every interaction a page of its own: its uid in the page's config, recovery link and language links", async () => {
    // The page is rendered once per language, client and options, then served with the uid filled in.
    const pages = [];
    for (const locale of ['en', 'en', 'ja'] as const) pages.push(await authorize(device(t), rp, { ui_locales: locale }));
    const [a, b, ja] = pages;
    for (const auth of pages) {
      const config = pageConfig(auth.page);
      expect(config.uid).to.equal(auth.uid);
      expect(hrefOf(auth.page, 'lost-passkey')).to.equal(`/recover?interaction=${auth.uid}`);
      expect(auth.page).to.contain(`href="/interaction/${auth.uid}?lang=ja"`).and.contain(`href="/interaction/${auth.uid}?lang=en"`);
      for (const other of pages) if (other !== auth) expect(auth.page).not.to.contain(other.uid);
    }
    // Each page carries passkey options with a challenge of its own (signin-page-in-place.test.ts).
    const challenges = pages.map((auth) => pageConfig(auth.page).passkeyOptions.challenge as string);
    expect(new Set(challenges).size).to.equal(3);
    const standIn = (auth: Authorization, i: number) => auth.page.split(auth.uid).join('UID').split(challenges[i]!).join('CHALLENGE');
    expect(standIn(b, 1), 'the same page but for the uid and the challenge').to.equal(standIn(a, 0));
    expect(textOf(ja.page, 'signin-heading')).to.equal(translator('ja')('signin.heading', { client: rp.client.client_name }));
    expect(textOf(a.page, 'signin-heading')).to.equal(translator('en')('signin.heading', { client: rp.client.client_name }));
  });

  it('keeps the recovery and help links when a passkey is required, without the password route', async () => {
    const ua = device(t);
    const auth = await authorize(ua, rp, { acr_values: 'phr' });
    expect(hrefOf(auth.page, 'lost-passkey')).to.equal(`/recover?interaction=${auth.uid}`);
    expect(hrefOf(auth.page, 'help-link')).to.equal('/help/passkeys');
    expect(auth.page).not.to.contain('show-password');
  });

  it('answers a passkey Tobira no longer has with passkey.unknown_credential and its credential id', async () => {
    const authenticator = createSoftAuthenticator();
    const first = device(t);
    const { email } = await signUp(first, t, await authorize(first, rp), authenticator);
    const account = (await t.container.accounts.findByEmail(email))!;
    const [stored] = await t.container.passkeyRepository.listByAccount(account.id);
    await t.container.ds.query('DELETE FROM passkeys WHERE id = $1', [stored.id]);

    const ua = device(t, 'ja');
    const auth = await authorize(ua, rp);
    const res = await passkeySignIn(ua, t, auth, authenticator);
    expect(res.status).to.equal(400);
    expect(res.json).to.deep.equal({
      credentialId: stored.credentialId,
      error: 'passkey.unknown_credential',
      message: translator('ja')('errors.passkey.unknown_credential'),
    });
    const [{ n }] = await t.container.ds.query(
      "SELECT count(*)::int AS n FROM audit_events WHERE type = 'signin.failure' AND data->>'code' = 'passkey.unknown_credential' AND at > now() - interval '1 minute'");
    expect(n).to.be.at.least(1);
  });

  it('adds no other fields to error answers, even when the error has parameters', async () => {
    const ua = device(t);
    const auth = await authorize(ua, rp);
    expect((await api(ua, t, auth, '/email/start', { identifier: 'nobody-here@example.com' })).status).to.equal(200);
    const res = await api(ua, t, auth, '/email/verify', { code: '000000' });
    expect(res.status).to.equal(400);
    expect(res.json.error).to.equal('code.invalid');
    expect(res.json.message).to.contain('4');
    expect(Object.keys(res.json).sort()).to.deep.equal(['error', 'message']);
  });
});
