import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createRp, type TestRp } from '../helpers/oidc-flow.ts';

describe(`OpenID Connect discovery and JWKS as an RP reads them (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
  });

  it('publishes the issuer, its endpoints, S256-only PKCE, acr values, scopes and claims', () => {
    const m = rp.config.serverMetadata();
    expect(m.issuer).to.equal(t.url);
    expect(m.authorization_endpoint).to.equal(`${t.url}/auth`);
    expect(m.token_endpoint).to.equal(`${t.url}/token`);
    expect(m.userinfo_endpoint).to.equal(`${t.url}/me`);
    expect(m.jwks_uri).to.equal(`${t.url}/jwks`);
    expect(m.end_session_endpoint).to.equal(`${t.url}/session/end`);
    expect(m.revocation_endpoint).to.equal(`${t.url}/token/revocation`);
    expect(m.introspection_endpoint).to.equal(`${t.url}/token/introspection`);
    expect(m.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(m.response_types_supported).to.deep.equal(['code']);
    expect(m.grant_types_supported).to.include.members(['authorization_code', 'refresh_token', 'client_credentials']);
    expect(m.acr_values_supported).to.deep.equal(['phr', 'mfa', 'sfa']);
    expect(m.scopes_supported).to.include.members(['openid', 'profile', 'email', 'phone', 'offline_access', 'member']);
    expect(m.claims_supported).to.include.members(['sub', 'acr', 'amr', 'auth_time', 'email', 'email_verified', 'name', 'member_number']);
    expect(m.id_token_signing_alg_values_supported).to.include.members(['ES256', 'RS256']);
  });

  it('serves a JWKS with ES256 and RS256 public keys and no private parts', async () => {
    const res = await fetch(rp.config.serverMetadata().jwks_uri!);
    expect(res.status).to.equal(200);
    const { keys } = await res.json() as { keys: Record<string, unknown>[] };
    const es = keys.filter((k) => k.alg === 'ES256');
    const rs = keys.filter((k) => k.alg === 'RS256');
    expect(es, 'ES256 keys').to.have.length.greaterThan(0);
    expect(rs, 'RS256 keys').to.have.length.greaterThan(0);
    expect(es.every((k) => k.kty === 'EC' && k.crv === 'P-256')).to.equal(true);
    expect(rs.every((k) => k.kty === 'RSA' && typeof k.n === 'string' && typeof k.e === 'string')).to.equal(true);
    for (const key of keys) {
      expect(key.use).to.equal('sig');
      expect(key.kid).to.be.a('string').and.not.equal('');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key, `${key.kid} exposes ${secret}`).not.to.have.property(secret);
    }
    expect(new Set(keys.map((k) => k.kid)).size).to.equal(keys.length);
  });
});
