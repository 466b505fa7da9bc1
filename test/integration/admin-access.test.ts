import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createRp, device, type TestRp } from '../helpers/oidc-flow.ts';
import { createMember, interactionUid } from '../helpers/oidc-extra.ts';
import { adminApi, ageConsoleSignIn, auditEvents, consoleSignIn, csrfOf, lastAuditId, signedInAdmin, type TestAdmin } from './admin-support.ts';

describe(`admin console access (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let admin: TestAdmin;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    admin = await signedInAdmin(t, rp);
  });

  describe('without a console session', () => {
    it('sends a browser opening /admin to the passkey sign-in (acr_values=phr), showing nothing of the console', async () => {
      const ua = device(t);
      const res = await ua.get(`${t.url}/admin/clients`);
      expect(res.status).to.equal(302);
      const auth = new URL(res.location!);
      expect(auth.pathname).to.equal('/auth');
      expect(auth.searchParams.get('client_id')).to.equal('tobira-admin');
      expect(auth.searchParams.get('acr_values')).to.equal('phr');
      const page = await ua.get(res.location!, { follow: true });
      expect(interactionUid(page.url)).to.be.a('string');
      expect(page.text).to.not.contain('/admin/api');
    });

    it('answers the API with 401 admin.unauthenticated, for reads and for changes', async () => {
      const nobody = { ua: device(t), csrf: 'x' };
      const read = await adminApi(t, nobody, 'GET', '/clients');
      expect([read.status, read.json.error]).to.deep.equal([401, 'admin.unauthenticated']);
      const write = await adminApi(t, nobody, 'POST', '/clients', { client_name: 'X', redirect_uris: ['https://x.example/cb'] });
      expect([write.status, write.json.error]).to.deep.equal([401, 'admin.unauthenticated']);
    });

    it('redirects an unknown /admin path to the sign-in too (no 404 that tells what exists)', async () => {
      const res = await device(t).get(`${t.url}/admin/no-such-page`);
      expect(res.status).to.equal(302);
      expect(new URL(res.location!).pathname).to.equal('/auth');
    });
  });

  describe('a member without the admin role', () => {
    it('gets a 403 page after signing in with a passkey, and 403 from the API; the attempt is audited', async () => {
      const member = await createMember(t, rp);
      const mark = await lastAuditId(t);
      const ua = device(t);
      const landing = await consoleSignIn(t, ua, member);
      expect(landing.status).to.equal(403);
      expect(landing.text).to.contain('You do not have access to this page.');
      expect(landing.text).to.not.match(/Clients|Audit log|Dashboard/);
      const api = await adminApi(t, { ua, csrf: 'x' }, 'GET', '/clients');
      expect([api.status, api.json.error]).to.deep.equal([403, 'admin.forbidden']);
      const sub = (await t.container.accounts.findByIdentifier(member.memberNumber))!.id;
      const denied = await auditEvents(t, 'admin.access_denied', mark);
      expect(denied.map((e) => e.account_id)).to.deep.equal([sub]);
    });

    it('loses access at once when the admin role is revoked', async () => {
      const other = await signedInAdmin(t, rp);
      expect((await adminApi(t, other, 'GET', '/clients')).status).to.equal(200);
      await t.container.accounts.removeRole(other.sub, 'admin');
      const res = await adminApi(t, other, 'GET', '/clients');
      expect([res.status, res.json.error]).to.deep.equal([403, 'admin.forbidden']);
    });
  });

  describe('an admin', () => {
    it('sees the console after a passkey sign-in; the sign-in is audited with acr phr', async () => {
      const res = await admin.ua.get(`${t.url}/admin`);
      expect(res.status).to.equal(200);
      expect(res.text).to.contain('Dashboard');
      const signins = await auditEvents(t, 'admin.signin');
      expect(signins.some((e) => e.actor_id === admin.sub && e.data.acr === 'phr')).to.equal(true);
    });

    it('sets a console cookie that is SameSite=Strict, HttpOnly and scoped to /admin', async () => {
      const cookies = await admin.ua.jar.getCookies(`${t.url}/admin`);
      const session = cookies.find((c) => c.key === 'tobira_admin')!;
      expect(session.sameSite).to.equal('strict');
      expect(session.httpOnly).to.equal(true);
      expect(session.path).to.equal('/admin');
      expect(await admin.ua.jar.getCookies(`${t.url}/account`)).to.satisfy((list: { key: string }[]) => !list.some((c) => c.key === 'tobira_admin'));
    });

    it('refuses a change without the CSRF token, or with a wrong one (403 admin.csrf)', async () => {
      const body = { client_name: 'No CSRF', redirect_uris: ['https://nocsrf.example/cb'] };
      const missing = await adminApi(t, admin, 'POST', '/clients', body, { csrf: null });
      expect([missing.status, missing.json.error]).to.deep.equal([403, 'admin.csrf']);
      const wrong = await adminApi(t, admin, 'POST', '/clients', body, { csrf: `${admin.csrf}x` });
      expect([wrong.status, wrong.json.error]).to.deep.equal([403, 'admin.csrf']);
      expect((await t.container.clients.list('nocsrf.example'))).to.deep.equal([]);
    });

    it('refuses a cross-site POST (403 request.cross_site), token or not', async () => {
      const res = await adminApi(t, admin, 'POST', '/clients', { client_name: 'Cross', redirect_uris: ['https://cross.example/cb'] },
        { headers: { origin: 'https://evil.example' } });
      expect([res.status, res.json.error]).to.deep.equal([403, 'request.cross_site']);
      const fetchSite = await adminApi(t, admin, 'DELETE', '/clients/tobira-admin', undefined, { headers: { 'sec-fetch-site': 'cross-site' } });
      expect(fetchSite.status).to.equal(403);
      expect(await t.container.clients.get('tobira-admin')).to.not.equal(null);
    });

    it('refuses the sign-out form without the CSRF field', async () => {
      const res = await admin.ua.post(`${t.url}/admin/signout`, { other: '1' }, { form: true });
      expect(res.status).to.equal(403);
      expect((await adminApi(t, admin, 'GET', '/session')).status, 'still signed in').to.equal(200);
    });

    it('must sign in again with a passkey for changes when the last sign-in is older than a few minutes', async () => {
      const ua = (await signedInAdmin(t, rp));
      await ageConsoleSignIn(t, ua.ua, 600);
      const read = await adminApi(t, ua, 'GET', '/clients');
      expect(read.status, 'reading still works').to.equal(200);
      const host = `stale-${randomBytes(4).toString('hex')}.example`;
      const change = await adminApi(t, ua, 'POST', '/clients', { client_name: 'Stale', redirect_uris: [`https://${host}/cb`] });
      expect([change.status, change.json.error]).to.deep.equal([401, 'admin.reauth_required']);
      expect(await t.container.clients.list(host)).to.deep.equal([]);

      // The console's way back: a fresh passkey sign-in (prompt=login, acr_values=phr).
      const reauth = await ua.ua.get(`${t.url}/admin/reauth?returnTo=/admin/clients`);
      const params = new URL(reauth.location!).searchParams;
      expect([params.get('prompt'), params.get('acr_values')]).to.deep.equal(['login', 'phr']);
      const page = await consoleSignIn(t, ua.ua, ua.member, '/admin/reauth?returnTo=/admin/clients');
      expect(new URL(page.url).pathname).to.equal('/admin/clients');
      const retried = await adminApi(t, { ua: ua.ua, csrf: await csrfOf(t, ua.ua) }, 'POST', '/clients', { client_name: 'Fresh', redirect_uris: [`https://${host}/cb`] });
      expect(retried.status, retried.text).to.equal(201);
    });

    it('answers unknown API paths with 404 and non-JSON changes with 415', async () => {
      expect((await adminApi(t, admin, 'GET', '/nothing-here')).status).to.equal(404);
      const form = await adminApi(t, admin, 'POST', '/clients', 'client_name=x', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect([form.status, form.json.error]).to.deep.equal([415, 'request.unsupported_media_type']);
    });
  });
});
