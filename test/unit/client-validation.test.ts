import { expect } from 'chai';
import { clientInputSchema, newClientId, type ClientInput } from '../../src/admin/client-service.ts';

const base: ClientInput = { client_name: 'Mileage Club', redirect_uris: ['https://club.example.com/callback'] };

/** The issues the schema raises for `input`, as `path: message` lines (empty when valid). */
function problems(input: Partial<ClientInput> & Record<string, unknown>): string[] {
  const result = clientInputSchema.safeParse({ ...base, ...input });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('client registration rules (what an admin may register)', () => {
  describe('accepts', () => {
    const good: [string, Partial<ClientInput>][] = [
      ['an https redirect URI', {}],
      ['http on localhost', { redirect_uris: ['http://localhost:8080/callback'] }],
      ['http on 127.0.0.1', { redirect_uris: ['http://127.0.0.1:5173/cb'] }],
      ['http on [::1]', { redirect_uris: ['http://[::1]:3000/cb'] }],
      ['a native app\'s reverse-domain scheme', { redirect_uris: ['com.example.club:/oauth2redirect'], token_endpoint_auth_method: 'none' }],
      ['a service using client_credentials without redirect URIs', { redirect_uris: [], grant_types: ['client_credentials'] }],
      ['a public SPA with PKCE only', { token_endpoint_auth_method: 'none', post_logout_redirect_uris: ['https://club.example.com/'] }],
      ['private_key_jwt with a JWKS URI', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://club.example.com/jwks.json' }],
      ['a logo, a privacy policy and terms on https', { logo_uri: 'https://cdn.example.com/logo.png', policy_uri: 'https://club.example.com/privacy', tos_uri: 'https://club.example.com/terms?lang=en' }],
      ['a back-channel logout URI on https', { backchannel_logout_uri: 'https://club.example.com/backchannel-logout' }],
      ['token lifetimes within bounds', { access_token_ttl: 60, id_token_ttl: 86_400, refresh_token_ttl: 30 * 86_400 }],
      ['null to clear optional fields', { logo_uri: null, jwks_uri: null, access_token_ttl: null }],
    ];
    for (const [what, input] of good) {
      it(what, () => expect(problems(input)).to.deep.equal([]));
    }

    it('fills in the defaults: code + refresh token, confidential, third-party, the standard scopes', () => {
      const client = clientInputSchema.parse(base);
      expect(client.grant_types).to.deep.equal(['authorization_code', 'refresh_token']);
      expect(client.token_endpoint_auth_method).to.equal('client_secret_basic');
      expect(client.first_party).to.equal(false);
      expect(client.scope).to.equal('openid profile email member offline_access');
    });
  });

  describe('refuses', () => {
    const bad: [string, Partial<ClientInput> & Record<string, unknown>, RegExp][] = [
      ['a wildcard host', { redirect_uris: ['https://*.example.com/callback'] }, /^redirect_uris\.0: .*wildcards are not allowed/],
      ['a wildcard path', { redirect_uris: ['https://club.example.com/*'] }, /^redirect_uris\.0: .*wildcards are not allowed/],
      ['a javascript: URI', { redirect_uris: ['javascript:alert(document.cookie)'] }, /^redirect_uris\.0: .*javascript: URIs are not allowed/],
      ['a data: URI', { redirect_uris: ['data:text/html,<script>alert(1)</script>'] }, /^redirect_uris\.0: .*data: URIs are not allowed/],
      ['a fragment', { redirect_uris: ['https://club.example.com/callback#done'] }, /^redirect_uris\.0: .*fragments are not allowed/],
      ['an empty fragment', { redirect_uris: ['https://club.example.com/callback#'] }, /fragments are not allowed/],
      ['plain http on a public host', { redirect_uris: ['http://club.example.com/callback'] }, /^redirect_uris\.0: http:\/\/club\.example\.com\/callback: http is only allowed for loopback addresses/],
      ['plain http on a look-alike of localhost', { redirect_uris: ['http://localhost.evil.example/cb'] }, /http is only allowed for loopback addresses/],
      ['plain http as a post-logout URI', { post_logout_redirect_uris: ['http://club.example.com/bye'] }, /^post_logout_redirect_uris\.0: .*http is only allowed for loopback/],
      ['credentials in the URI', { redirect_uris: ['https://user:pass@club.example.com/cb'] }, /credentials are not allowed/],
      ['a relative URI', { redirect_uris: ['/callback'] }, /not an absolute URL/],
      ['a private-use scheme that is not a reverse domain', { redirect_uris: ['myapp:/callback'] }, /reverse domain name/],
      ['the implicit grant', { grant_types: ['implicit'] as never }, /^grant_types\.0: /],
      ['the password grant', { grant_types: ['authorization_code', 'password'] as never }, /^grant_types\.1: /],
      ['an unknown scope', { scope: 'openid admin' }, /^scope: scopes must be among/],
      ['authorization_code without a redirect URI', { redirect_uris: [] }, /^redirect_uris: at least one redirect URI is needed for authorization_code/],
      ['a public client using client_credentials', { token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], redirect_uris: [] }, /^grant_types: a public client cannot use client_credentials/],
      ['https on loopback next to a native app scheme', { redirect_uris: ['com.example.club:/cb', 'https://localhost/cb'] }, /^redirect_uris: a native app .* cannot also use https on a loopback address/],
      ['an unknown field', { application_type: 'native' }, /unrecognized key/i],
      ['a client_id with spaces', { client_id: 'my client' }, /^client_id: /],
      ['a client_id that starts with a dash (it would read as a CLI option)', { client_id: '-club' }, /^client_id: .*starting with a letter or digit/],
      ['the device code grant', { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] as never }, /^grant_types\.0: /],
      ['refresh_token without authorization_code', { grant_types: ['client_credentials', 'refresh_token'], redirect_uris: [] }, /^grant_types: refresh_token is only issued with authorization_code/],
      ['private_key_jwt without a JWKS URI', { token_endpoint_auth_method: 'private_key_jwt' }, /^jwks_uri: private_key_jwt needs/],
      ['a JWKS URI for a client that does not use private_key_jwt', { jwks_uri: 'https://club.example.com/jwks.json' }, /^jwks_uri: jwks_uri is only used with private_key_jwt/],
      ['a JWKS URI over plain http on a public host', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://club.example.com/jwks' }, /^jwks_uri: .*http is only allowed for loopback/],
      ['a javascript: logo', { logo_uri: 'javascript:alert(1)' }, /^logo_uri: .*must be an https:\/\/ URL/],
      ['a data: privacy policy', { policy_uri: 'data:text/html,<h1>policy</h1>' }, /^policy_uri: .*must be an https:\/\/ URL/],
      ['a wildcard in the terms URL', { tos_uri: 'https://*.example.com/terms' }, /^tos_uri: .*wildcards are not allowed/],
      ['a fragment in the back-channel logout URI', { backchannel_logout_uri: 'https://club.example.com/logout#now' }, /^backchannel_logout_uri: .*fragments are not allowed/],
      ['an access token lifetime under a minute', { access_token_ttl: 30 }, /^access_token_ttl: /],
      ['a refresh token lifetime over a year', { refresh_token_ttl: 400 * 86_400 }, /^refresh_token_ttl: /],
      ['a fractional ID token lifetime', { id_token_ttl: 90.5 }, /^id_token_ttl: /],
    ];
    for (const [what, input, expected] of bad) {
      it(what, () => {
        const found = problems(input);
        expect(found.some((p) => expected.test(p)), `issues: ${JSON.stringify(found)}`).to.equal(true);
      });
    }
  });

  it('generates client ids that start with a letter or digit, so the CLI never reads one as an option', () => {
    const ids = Array.from({ length: 2000 }, newClientId);
    for (const id of ids) expect(id).to.match(/^[A-Za-z0-9][A-Za-z0-9_-]{15}$/);
    expect(new Set(ids).size).to.equal(ids.length);
  });
});
