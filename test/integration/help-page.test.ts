import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createUserAgent } from '../helpers/user-agent.ts';

describe(`help: "Prepare your device" and the FAQ (${backendLabel()})`, () => {
  let t: TestTobira;
  before(async () => { t = await sharedTobira(); });

  const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;|&rsquo;/g, '’').replace(/\s+/g, ' ');

  it('shows the browser check, what to do on each platform with supported versions, and the FAQ, in English', async () => {
    const page = await createUserAgent({ acceptLanguage: 'en' }).get(`${t.url}/help/passkeys`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-security-policy')).to.contain("script-src 'self'");
    expect(page.text).to.contain('<html lang="en">');
    expect(page.text).to.contain('<script src="/static/help.js"></script>');
    const body = text(page.text);
    expect(body).to.contain('Prepare your device for passkeys');
    // The check's results go to a live region and to one labelled row per check.
    expect(page.text).to.match(/id="check-summary" class="status" role="status" aria-live="polite"/);
    for (const check of ['webauthn', 'platform', 'autofill', 'hybrid']) expect(page.text).to.contain(`id="check-${check}"`);
    for (const needle of ['iOS or iPadOS 16 or later', 'Android 9 or later', 'Google Password Manager', 'Windows 10 or 11 with Windows Hello', 'macOS 13 Ventura or later', 'iCloud Keychain', 'Bluetooth', 'screen lock']) {
      expect(body).to.contain(needle);
    }
    expect(body).to.contain('I don’t have a device that supports passkeys');
    expect(body).to.contain('Email me a one-time code instead');
    expect(body).to.contain('Your biometric data never leaves your device');
    expect(body).to.contain('Tobira stores only a public key');
    expect(body).to.contain('In every app and website that signs you in through Tobira');
    expect(page.text).to.contain('href="/recover"');
  });

  it('is in Japanese for a Japanese browser or ?lang=ja, with the sign-in page’s own button names', async () => {
    for (const page of [
      await createUserAgent({ acceptLanguage: 'ja-JP,ja;q=0.9' }).get(`${t.url}/help/passkeys`),
      await createUserAgent({ acceptLanguage: 'en' }).get(`${t.url}/help/passkeys?lang=ja`),
    ]) {
      expect(page.status).to.equal(200);
      expect(page.text).to.contain('<html lang="ja">');
      const body = text(page.text);
      expect(body).to.contain('パスキーを使うための端末の準備');
      expect(body).to.contain('iOS または iPadOS 16 以降');
      expect(body).to.contain('Android 9 以降');
      expect(body).to.contain('Windows 10 または 11');
      expect(body).to.contain('macOS 13 Ventura 以降');
      expect(body).to.contain('「メールに届くコードでログインする」');
      expect(body).to.contain('生体情報が端末の外に出ることはありません');
      expect(body).to.not.match(/Prepare your device|Frequently asked/);
    }
  });

  it('sends /help to the passkey help page and serves its script', async () => {
    const ua = createUserAgent();
    const redirect = await ua.get(`${t.url}/help`);
    expect(redirect.status).to.equal(302);
    expect(redirect.location).to.equal(`${t.url}/help/passkeys`);
    const script = await ua.get(`${t.url}/static/help.js`);
    expect(script.status).to.equal(200);
    expect(script.headers.get('content-type')).to.contain('javascript');
    expect(script.text).to.contain('isUserVerifyingPlatformAuthenticatorAvailable');
    expect(script.text).to.contain('getClientCapabilities');
  });
});
