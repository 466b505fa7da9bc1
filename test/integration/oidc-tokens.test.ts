import { expect } from 'chai';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, device, exchange, type TestRp } from '../helpers/oidc-flow.ts';
import {
  createMember, fetchJwks, jwtParts, passkeySignInCallback, rejection, signedInDevice, verifiesWith, type TestMember,
} from '../helpers/oidc-extra.ts';

describe(`tokens, userinfo and refresh as an RP sees them (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    member = await createMember(t, rp);
  });

  describe('code exchange and userinfo', () => {
    it('issues an ID token openid-client accepts, signed ES256 by a key of the JWKS, saying a passkey was used', async () => {
      const { tokens } = await signedInDevice(t, rp, member);
      const claims = tokens.claims()!;
      expect(claims.iss).to.equal(t.url);
      expect(claims.aud).to.equal(rp.client.client_id);
      expect(claims.acr).to.equal('phr');
      expect(claims.amr).to.deep.equal(['pop', 'mfa']);
      expect(claims.auth_time).to.be.a('number').within(Math.floor(Date.now() / 1000) - 60, Math.ceil(Date.now() / 1000) + 1);
      expect(tokens.token_type).to.equal('bearer');
      expect(tokens.expires_in).to.be.a('number').greaterThan(0);
      const { header } = jwtParts(tokens.id_token!);
      expect(header.alg).to.equal('ES256');
      expect(verifiesWith(tokens.id_token!, await fetchJwks(rp.config.serverMetadata().jwks_uri!))).to.equal(true);
    });

    const cases: { scope: string; present: string[]; absent: string[] }[] = [
      { scope: 'openid profile email member', present: ['name', 'email', 'email_verified', 'member_number'], absent: [] },
      { scope: 'openid email', present: ['email', 'email_verified'], absent: ['member_number', 'name'] },
      { scope: 'openid profile', present: ['name'], absent: ['member_number', 'email'] },
      { scope: 'openid member', present: ['member_number'], absent: ['email', 'name'] },
    ];
    for (const c of cases) {
      it(`returns userinfo claims of the scopes asked for: ${c.scope}`, async () => {
        const { tokens } = await signedInDevice(t, rp, member, { scope: c.scope });
        expect(tokens.scope?.split(' ').sort()).to.deep.equal(c.scope.split(' ').sort());
        const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
        for (const claim of c.present) expect(userinfo, `${claim} with ${c.scope}`).to.have.property(claim);
        for (const claim of c.absent) expect(userinfo, `${claim} with ${c.scope}`).not.to.have.property(claim);
        if (c.present.includes('member_number')) expect(userinfo.member_number).to.equal(member.memberNumber);
        if (c.present.includes('email')) expect(userinfo.email).to.equal(member.email);
      });
    }

    it('refuses a second exchange of the same code and revokes what the first one issued', async () => {
      const ua = device(t);
      const auth = await authorize(ua, rp);
      const callback = await passkeySignInCallback(ua, t, rp, auth, member);
      const first = await exchange(rp, auth, callback);
      const again = await rejection(exchange(rp, auth, callback));
      expect(again.error, again.message).to.equal('invalid_grant');
      const userinfo = await rejection(oidc.fetchUserInfo(rp.config, first.access_token, first.claims()!.sub));
      expect(userinfo.status).to.equal(401);
      expect(userinfo.error).to.equal('invalid_token');
      const refresh = await rejection(oidc.refreshTokenGrant(rp.config, first.refresh_token!));
      expect(refresh.error).to.equal('invalid_grant');
    });

    it('lets exactly one of two concurrent exchanges of the same code succeed', async () => {
      const ua = device(t);
      const auth = await authorize(ua, rp);
      const callback = await passkeySignInCallback(ua, t, rp, auth, member);
      const results = await Promise.allSettled([exchange(rp, auth, callback), exchange(rp, auth, callback)]);
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      const refused = results.find((r) => r.status === 'rejected')!.reason as { error?: string };
      expect(refused.error).to.equal('invalid_grant');
    });
  });

  describe('refresh tokens', () => {
    it('rotates the refresh token on every use and refuses the previous one', async () => {
      const { tokens } = await signedInDevice(t, rp, member);
      const r0 = tokens.refresh_token!;
      const second = await oidc.refreshTokenGrant(rp.config, r0);
      expect(second.refresh_token).to.be.a('string').and.not.equal(r0);
      expect(second.access_token).to.not.equal(tokens.access_token);
      expect(second.claims()!.sub).to.equal(tokens.claims()!.sub);
      expect(second.claims()!.acr).to.equal('phr');
      const third = await oidc.refreshTokenGrant(rp.config, second.refresh_token!);
      expect(third.refresh_token).to.be.a('string').and.not.oneOf([r0, second.refresh_token]);
      const userinfo = await oidc.fetchUserInfo(rp.config, third.access_token, tokens.claims()!.sub);
      expect(userinfo.member_number).to.equal(member.memberNumber);
    });

    it('treats reuse of a rotated refresh token as theft: refused, and the newest token and its access token stop working too', async () => {
      const { tokens } = await signedInDevice(t, rp, member);
      const r0 = tokens.refresh_token!;
      const next = await oidc.refreshTokenGrant(rp.config, r0);
      const reused = await rejection(oidc.refreshTokenGrant(rp.config, r0));
      expect(reused.error, reused.message).to.equal('invalid_grant');
      const newest = await rejection(oidc.refreshTokenGrant(rp.config, next.refresh_token!));
      expect(newest.error, newest.message).to.equal('invalid_grant');
      const userinfo = await rejection(oidc.fetchUserInfo(rp.config, next.access_token, tokens.claims()!.sub));
      expect(userinfo.status).to.equal(401);
    });

    it('lets exactly one of two concurrent refreshes with the same token succeed', async () => {
      const { tokens } = await signedInDevice(t, rp, member);
      const r0 = tokens.refresh_token!;
      const results = await Promise.allSettled([oidc.refreshTokenGrant(rp.config, r0), oidc.refreshTokenGrant(rp.config, r0)]);
      expect(results.filter((r) => r.status === 'fulfilled'), JSON.stringify(results.map((r) => r.status))).to.have.length(1);
      const refused = results.find((r) => r.status === 'rejected')!.reason as { error?: string; message: string };
      expect(refused.error, refused.message).to.equal('invalid_grant');
    });
  });

  describe('revocation (RFC 7009) and introspection (RFC 7662)', () => {
    it('introspects a live access token as active, with sub, client_id and scope', async () => {
      const { tokens } = await signedInDevice(t, rp, member, { scope: 'openid email member' });
      const info = await oidc.tokenIntrospection(rp.config, tokens.access_token);
      expect(info.active).to.equal(true);
      expect(info.sub).to.equal(tokens.claims()!.sub);
      expect(info.client_id).to.equal(rp.client.client_id);
      expect(info.iss).to.equal(t.url);
      expect(String(info.scope).split(' ').sort()).to.deep.equal(['email', 'member', 'openid']);
      expect(info.token_type).to.equal('Bearer');
      expect(info.exp).to.be.a('number').greaterThan(Date.now() / 1000);
    });

    it('introspects a live refresh token as active', async () => {
      const { tokens } = await signedInDevice(t, rp, member);
      const info = await oidc.tokenIntrospection(rp.config, tokens.refresh_token!);
      expect(info.active).to.equal(true);
      expect(info.sub).to.equal(tokens.claims()!.sub);
      expect(info.client_id).to.equal(rp.client.client_id);
    });

    it('after revoking a refresh token: it introspects inactive, cannot refresh, and the grant\'s access token is gone too', async () => {
      const { tokens } = await signedInDevice(t, rp, member);
      await oidc.tokenRevocation(rp.config, tokens.refresh_token!);
      expect((await oidc.tokenIntrospection(rp.config, tokens.refresh_token!)).active).to.equal(false);
      const refresh = await rejection(oidc.refreshTokenGrant(rp.config, tokens.refresh_token!));
      expect(refresh.error).to.equal('invalid_grant');
      expect((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active).to.equal(false);
    });

    it('after revoking an access token: it introspects inactive and userinfo refuses it', async () => {
      const { tokens } = await signedInDevice(t, rp, member);
      await oidc.tokenRevocation(rp.config, tokens.access_token);
      expect((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active).to.equal(false);
      const userinfo = await rejection(oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub));
      expect(userinfo.status).to.equal(401);
      expect(userinfo.error).to.equal('invalid_token');
    });

    it('answers active:false for an unknown token', async () => {
      expect((await oidc.tokenIntrospection(rp.config, 'not-a-token-tobira-issued'))).to.deep.include({ active: false });
    });

    it('does not let another client introspect or revoke this client\'s tokens', async () => {
      const other = await createRp(t);
      const { tokens } = await signedInDevice(t, rp, member);
      const info = await oidc.tokenIntrospection(other.config, tokens.access_token);
      expect(info).to.deep.equal({ active: false });
      const revoke = await rejection(oidc.tokenRevocation(other.config, tokens.refresh_token!));
      expect(revoke.error, revoke.message).to.equal('invalid_request');
      expect((await oidc.tokenIntrospection(rp.config, tokens.refresh_token!)).active).to.equal(true);
      expect((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active).to.equal(true);
    });
  });

  describe('client credentials', () => {
    it('issues a token to a confidential client with the client_credentials grant, introspected without a subject', async () => {
      const service = await createRp(t, { grant_types: ['client_credentials'], redirect_uris: [], first_party: false });
      const tokens = await oidc.clientCredentialsGrant(service.config);
      expect(tokens.access_token).to.be.a('string');
      expect(tokens.token_type).to.equal('bearer');
      expect(tokens).not.to.have.property('refresh_token');
      expect(tokens).not.to.have.property('id_token');
      const info = await oidc.tokenIntrospection(service.config, tokens.access_token);
      expect(info.active).to.equal(true);
      expect(info.client_id).to.equal(service.client.client_id);
      expect(info).not.to.have.property('sub');
    });

    it('refuses client_credentials to a client registered without that grant', async () => {
      const refused = await rejection(oidc.clientCredentialsGrant(rp.config));
      // oidc-provider answers invalid_request here (RFC 6749 would say unauthorized_client).
      expect(refused.error, refused.message).to.equal('invalid_request');
      expect(refused.description).to.match(/grant type is not allowed/);
    });
  });
});
